"""Every way a request or a batch can fail, as the processor reports it."""

from __future__ import annotations

import asyncio

import pytest

from pytest_batch.errors import BatchProcessorError, BatchTimeoutError, ConfigurationError, ProviderError
from pytest_batch.models import BatchError, BatchJob, BatchStatus, ErrorKind
from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User
from pytest_batch.sim import Emulator

from .conftest import MODELS, client_for

PROVIDERS = ["openai", "anthropic", "google", "azure"]

#: emulator outcome -> the ErrorKind the processor must report
OUTCOMES = [
    ("http_error", ErrorKind.HTTP_ERROR),
    ("refusal", ErrorKind.REFUSAL),
    ("truncated", ErrorKind.TRUNCATED),
    ("malformed_json", ErrorKind.INVALID_JSON),
    ("schema_violation", ErrorKind.VALIDATION_ERROR),
    ("expired", ErrorKind.EXPIRED),
    ("canceled", ErrorKind.CANCELED),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("outcome", "kind"), OUTCOMES)
def test_each_error_kind(emulator, make_bp, provider, outcome, kind):
    emulator.faults.request("request-3", outcome, status=503)
    bp = make_bp(provider, User)
    items = {item.custom_id: item for item in bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))}
    assert set(items) == {f"request-{i}" for i in range(1, 11)}  # nothing vanished
    failed = items["request-3"]
    assert isinstance(failed, BatchError) and failed.kind is kind, failed
    assert failed.message
    if kind is ErrorKind.HTTP_ERROR:
        # an Anthropic errored row carries an error type, not a status: api_error is a 500
        assert failed.status == (500 if provider == "anthropic" else 503)
    for custom_id, item in items.items():
        if custom_id != "request-3" and kind not in (ErrorKind.EXPIRED, ErrorKind.CANCELED):
            assert item.ok, item


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_fraction_of_failures_keeps_every_row(emulator, make_bp, provider):
    emulator.faults.fraction(0.5, "http_error", status=500)
    bp = make_bp(provider, User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    items = list(results.in_input_order())
    assert [item.custom_id for item in items] == [f"request-{i}" for i in range(1, 11)]
    errors = list(results.errors())
    assert 0 < len(errors) < 10 and all(e.kind is ErrorKind.HTTP_ERROR and e.status == 500 for e in errors)
    successes = list(results.successes())
    assert len(successes) + len(errors) == 10
    assert all(s.value in EXPECTED_USERS for s in successes)


def test_openai_error_file_rows_are_read(emulator, make_bp):
    # the failed rows live in the separate error file; reading only the output file loses them
    emulator.faults.request("request-2", "http_error", status=400, message="max_tokens is too large")
    bp = make_bp("openai", User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert job.raw.error_file_id and job.counts.errored == 1
    error = bp.results(job).by_custom_id()["request-2"]
    assert (error.kind, error.status, error.message) == (ErrorKind.HTTP_ERROR, 400, "max_tokens is too large")


def test_anthropic_errored_row_keeps_type_and_message(emulator, make_bp):
    emulator.faults.request("request-4", "http_error", status=400, message="max_tokens: Field required")
    bp = make_bp("anthropic", User)
    error = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS)))).by_custom_id()["request-4"]
    assert error.kind is ErrorKind.HTTP_ERROR and error.status == 400
    assert error.message == "invalid_request_error: max_tokens: Field required"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_dropped_row_is_reported_missing(make_bp, provider):
    # The provider returns 9 rows for a job that expects 10: submit nine, and restore the saved
    # job with the tenth custom_id, as a job file would have it if the provider dropped a row.
    bp = make_bp(provider, User)
    job = bp.wait(bp.submit(bp.build(list(SEED_PROMPTS[:9]))))
    saved = job.to_dict()
    saved["custom_ids"] = saved["custom_ids"] + ["request-10"]
    items = list(bp.results(BatchJob.from_dict(saved)).in_input_order())
    assert [i.custom_id for i in items] == [f"request-{i}" for i in range(1, 11)]
    missing = items[-1]
    assert missing.kind is ErrorKind.MISSING and job.id in missing.message
    # known only by its id, a job cannot tell what is missing (documented)
    assert all(item.ok for item in bp.results(job.id))


def test_expired_openai_batch_reports_unrun_requests(emulator, make_bp):
    emulator.faults.batch("expire", completed_fraction=0.3)
    bp = make_bp("openai", User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert job.status is BatchStatus.EXPIRED
    items = list(bp.results(job).in_input_order())
    assert len(items) == 10
    assert {item.kind for item in items if not item.ok} == {ErrorKind.EXPIRED}
    assert any(item.ok for item in items)


def test_expired_gemini_batch_counts_match_its_results(emulator, make_bp):
    emulator.faults.batch("expire", completed_fraction=0.3)
    bp = make_bp("google", User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert job.status is BatchStatus.EXPIRED
    # Gemini counts the requests of an expired batch as failed; its results say they expired
    assert (job.counts.succeeded, job.counts.errored, job.counts.from_results) == (0, 10, False)
    items = list(bp.results(job))
    assert len(items) == 10 and {item.kind for item in items if not item.ok} == {ErrorKind.EXPIRED}
    assert (job.counts.succeeded, job.counts.failed, job.counts.expired, job.counts.errored) == (0, 10, 10, 0)
    assert (job.provider_counts.succeeded, job.provider_counts.errored) == (0, 10)


@pytest.mark.parametrize("provider", ["openai", "google"])
def test_a_batch_that_fails_validation_says_why(emulator, make_bp, provider):
    emulator.faults.batch("validation_failure", message="This line is not parseable as valid JSON.")
    bp = make_bp(provider, User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert job.status is BatchStatus.FAILED
    # OpenAI: errors.data (A.3); Gemini: the Operation's error, which the SDK's batches.get drops (C.3)
    assert job.errors and "not parseable" in job.errors[0]
    if provider == "google":  # the google.rpc.Code by name, not a bare number
        assert job.errors[0].startswith("INVALID_ARGUMENT (3): "), job.errors
    assert {item.kind for item in bp.results(job)} == {ErrorKind.MISSING}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_dropped_connection_is_one_clear_error(emulator, provider):
    name = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Google", "azure": "Azure OpenAI"}[provider]
    client = client_for(emulator, provider, max_retries=0) if provider != "google" else client_for(emulator, provider)
    bp = BatchProcessor(MODELS[provider], User, client=client)
    emulator.faults.drop_connection(times=1)
    with pytest.raises(ProviderError, match=rf"^{name} could not list batches: .*(?i:connection|disconnected)"):
        bp.list()
    assert bp.list() == []  # the next call goes through


@pytest.mark.parametrize("provider", PROVIDERS)
def test_split_into_a_job_group(emulator, make_bp, provider):
    emulator.shuffle_results = True
    bp = make_bp(provider, User, limits={"max_requests": 3})
    job = bp.submit(list(SEED_PROMPTS))
    assert len(job.ids) == 4 and job.id == ",".join(job.ids)
    assert [len(part.custom_ids) for part in job.parts] == [3, 3, 3, 1]
    job = bp.wait(job)
    assert job.status is BatchStatus.COMPLETED and job.counts.total == 10 and job.counts.succeeded == 10
    assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS)
    # the group round-trips through its comma-joined id and its JSON
    assert bp.status(job.id).ids == job.ids
    assert [i.value for i in bp.results(BatchJob.from_json(job.to_json())).in_input_order()] == list(EXPECTED_USERS)


def test_split_by_bytes(make_bp):
    bp = make_bp("openai", User)
    size = max(len(line) for line in bp.build(list(SEED_PROMPTS)).encoded_lines())
    bp = make_bp("openai", User, limits={"max_bytes": 2 * size + 2})
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert len(job.ids) == 5
    assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS)


def test_gemini_large_input_is_uploaded_as_a_file(emulator, make_bp):
    emulator.faults.request("request-3", "http_error", status=400)
    bp = make_bp("google", User, limits={"inline_bytes": 200})
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert emulator.journal.calls("google", "POST", "/upload/")  # went through the Files API
    assert job.raw.dest.file_name
    # the counts come from batchStats, which the SDK drops (C.3): a file output has no rows to count
    assert (job.counts.total, job.counts.succeeded, job.counts.errored, job.counts.pending) == (10, 9, 1, 0)
    values = [item.value if item.ok else item.kind for item in bp.results(job).in_input_order()]
    assert values == [*EXPECTED_USERS[:2], ErrorKind.HTTP_ERROR, *EXPECTED_USERS[3:]]


def test_wait_backs_off_and_times_out(emulator, make_bp):
    emulator.set_lifecycle("manual")
    slept = []
    bp = make_bp("openai", User, sleep=slept.append)
    job = bp.submit(["x"])
    with pytest.raises(BatchTimeoutError, match=rf"batch {job.id} still validating after 100s"):
        bp.wait(job, timeout=100, interval=10, factor=2, max_interval=30)
    assert slept == [10, 20, 30, 30, 10]  # the last pause is cut short: one more poll at the deadline
    polls = emulator.journal.calls("openai", "GET", f"/batches/{job.id}")
    assert len(polls) == 6


@pytest.mark.parametrize("timeout, interval, said", [(0.3, 0.05, "0.3s"), (86400, 3600, "86400s"),
                                                     (2.5, 1, "2.5s")])
def test_the_timeout_message_says_how_long_it_waited(emulator, make_bp, timeout, interval, said):
    """It read "after 0s (timeout 0.3s)", then "after 8.64e+04s (timeout 86400s)" for a day."""
    emulator.set_lifecycle("manual")
    now = [0.0]  # a clock that moves only when the wait sleeps

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bp = make_bp("openai", User, sleep=sleep, clock=lambda: now[0])
    job = bp.submit(["x"])
    with pytest.raises(BatchTimeoutError) as timed_out:
        bp.wait(job, timeout=timeout, interval=interval, factor=1)
    assert str(timed_out.value).startswith(f"batch {job.id} still validating after {said} (timeout {said}); ")


@pytest.mark.parametrize("arguments", [{"timeout": 0}, {"timeout": -1}, {"interval": 0}, {"max_interval": -5}])
def test_wait_refuses_a_busy_poll_or_a_past_deadline(emulator, make_bp, arguments):
    bp = make_bp("openai", User)
    with pytest.raises(ConfigurationError, match="must be positive"):
        bp.wait(bp.submit(["x"]), **arguments)


def test_wait_with_progress_bar(emulator, make_bp):
    emulator.set_lifecycle("polls:3")
    bp = make_bp("openai", User)
    assert bp.wait(bp.submit(list(SEED_PROMPTS)), progress=True).status is BatchStatus.COMPLETED


def test_write_jsonl_streams_items(tmp_path, emulator, make_bp):
    emulator.faults.request("request-1", "refusal")
    bp = make_bp("anthropic", User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    path = results.write_jsonl(tmp_path / "out.jsonl")
    lines = path.read_text().splitlines()
    assert len(lines) == 10
    assert '"kind": "refusal"' in next(line for line in lines if '"request-1"' in line)


def test_gemini_output_found_in_the_operation_response_alone():
    # Real succeeded Operations may carry the inline output only in ``response``, not in
    # ``metadata.output`` where the SDK looks (C.3): the results must still be found.
    import json

    from pytest_batch.providers.google import GoogleProvider, _from_operation

    answer = {"candidates": [{"content": {"parts": [{"text": '{"name": "Alice", "age": 28}'}], "role": "model"},
                              "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 8,
                                                                          "candidatesTokenCount": 8}}
    operation = {"name": "batches/abc", "done": True,
                 "metadata": {"model": "models/gemini-2.5-flash", "state": "BATCH_STATE_SUCCEEDED",
                              "batchStats": {"requestCount": "2", "successfulRequestCount": "1",
                                             "failedRequestCount": "1"}},
                 "response": {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main."
                                       "GenerateContentBatchOutput",
                              "inlinedResponses": {"inlinedResponses": [
                                  {"response": answer},
                                  {"error": {"code": 4, "message": "Deadline expired"}}]}}}
    job = _from_operation(json.dumps(operation))
    job.custom_ids = ["request-1", "request-2"]
    assert job.status is BatchStatus.COMPLETED and (job.counts.succeeded, job.counts.errored) == (1, 1)
    items = list(GoogleProvider().iter_results(None, job, User, {}))
    assert [(i.custom_id, i.value if i.ok else i.kind) for i in items] == [
        ("request-1", User(name="Alice", age=28)), ("request-2", ErrorKind.EXPIRED)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_key_echoed_by_the_server_never_reaches_the_error(emulator, make_bp, provider, monkeypatch):
    # an Azure key has no prefix: it is known by the variable that holds it
    key = {"openai": "sk-proj-", "anthropic": "sk-ant-api03-", "google": "AIza", "azure": "9f3a"}[provider] + "K3y" * 12
    monkeypatch.setenv({"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google": "GOOGLE_API_KEY",
                        "azure": "AZURE_OPENAI_API_KEY"}[provider], key)
    emulator.faults.http_error(400, provider=provider, message=f"invalid key {key} (Bearer {key})")
    with pytest.raises(BatchProcessorError) as info:
        make_bp(provider, User).list()
    assert key not in str(info.value) and key[:12] not in str(info.value)
    assert "invalid key ***" in str(info.value)


def test_a_cancelled_openai_batch_accounts_for_every_request():
    """OpenAI returns nothing for requests that finished before a cancel (live capture):
    the job's counts still add up, and each request comes back as canceled."""
    emulator = Emulator(lifecycle="polls:4")
    bp = BatchProcessor(MODELS["openai"], User, client=emulator.openai_client(), sleep=lambda seconds: None)
    job = bp.submit(list(SEED_PROMPTS[:4]))
    bp.status(job)
    assert bp.status(job).counts.succeeded == 2
    job = bp.wait(bp.cancel(job))
    assert job.status is BatchStatus.CANCELLED
    assert (job.counts.total, job.counts.succeeded, job.counts.errored, job.counts.pending) == (4, 0, 4, 0)
    items = list(bp.results(job).in_input_order())
    assert [(item.custom_id, item.kind) for item in items] == [(f"request-{i}", ErrorKind.CANCELED)
                                                                for i in range(1, 5)]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("outcome", ["refusal", "truncated", "malformed_json", "schema_violation"])
def test_answers_that_fail_still_count_their_tokens(emulator, make_bp, provider, outcome):
    """A refused, cut-off or unusable answer was generated and billed: usage and cost include it."""
    emulator.faults.request("request-3", outcome)
    bp = make_bp(provider, User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    items = list(results)
    failed = next(item for item in items if not item.ok)
    assert failed.usage is not None and failed.usage.total_tokens > 0
    assert results.usage.total_tokens == sum(item.usage.total_tokens for item in items)
    assert results.usage.total_tokens > sum(item.usage.total_tokens for item in items if item.ok)


def _group_with_one_part_ended(emulator, bp):
    """A split job whose first part completed while the second is still running."""
    emulator.set_lifecycle("manual")
    job = bp.submit(list(SEED_PROMPTS))
    emulator.advance(batch_id=job.parts[0].id)
    return bp.status(job)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_a_split_job_cancels_every_running_part(emulator, make_bp, provider):
    bp = make_bp(provider, User, limits={"max_requests": 5})
    job = _group_with_one_part_ended(emulator, bp)
    assert job.parts[0].status is BatchStatus.COMPLETED and not job.parts[1].is_terminal
    job = bp.cancel(job)  # the first part has ended: left as it is, the second is cancelled
    assert job.parts[0].status is BatchStatus.COMPLETED
    assert job.parts[1].status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED)
    emulator.advance()
    job = bp.wait(job)
    assert [part.status for part in job.parts] == [BatchStatus.COMPLETED, BatchStatus.CANCELLED]
    kinds = [item.kind if not item.ok else "ok" for item in bp.results(job).in_input_order()]
    assert kinds == ["ok"] * 5 + [ErrorKind.CANCELED] * 5


def test_deleting_a_split_job_tries_every_part_and_names_the_failures(emulator, make_bp):
    bp = make_bp("anthropic", User, limits={"max_requests": 5})
    job = _group_with_one_part_ended(emulator, bp)  # Anthropic deletes only ended batches
    first, second = job.ids
    with pytest.raises(ProviderError, match=rf"could not delete 1 of the 2 parts of {job.id}: {second}: .*"
                                            rf"\(delete done for {first}\)"):
        bp.delete(job)
    assert [b.id for b in bp.list()] == [second]


def test_a_restored_split_job_still_knows_which_requests_were_cancelled(emulator, make_bp):
    bp = make_bp("openai", User, limits={"max_requests": 5})
    job = _group_with_one_part_ended(emulator, bp)
    bp.cancel(job)
    emulator.advance()
    restored = BatchJob.from_json(bp.wait(job).to_json())
    kinds = [item.kind if not item.ok else "ok" for item in bp.results(restored).in_input_order()]
    assert kinds == ["ok"] * 5 + [ErrorKind.CANCELED] * 5


def test_gemini_measures_inline_input_as_the_sdk_sends_it(emulator, make_bp):
    """google-genai sends json.dumps output: Japanese text doubles as \\uXXXX escapes, so a
    compact input under the inline limit can still be too big to send inline."""
    prompts = [f"私の名前は{name}です。{age}歳です。" * 40 for name, age in (("Alice", 28), ("Bob", 35))]
    bp = make_bp("google", User)
    compact = len(bp.build(prompts).to_bytes())
    bp = make_bp("google", User, limits={"inline_bytes": compact + 64 * 1024 + 1000})
    bp.wait(bp.submit(prompts))
    uploads = len(emulator.journal.calls("google", "POST", "/upload/"))
    assert uploads > 0  # too big inline: uploaded as a file
    bp = make_bp("google", User, limits={"inline_bytes": 3 * compact + 64 * 1024})
    bp.wait(bp.submit(prompts))
    assert len(emulator.journal.calls("google", "POST", "/upload/")) == uploads  # fits: sent inline


def test_openai_content_filter_is_a_refusal():
    from pytest_batch.providers.openai import parse_row

    body = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "content_filter", "message": {"role": "assistant", "content": None}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}
    row = {"id": "batch_req_1", "custom_id": "request-1", "error": None,
           "response": {"status_code": 200, "request_id": "req_1", "body": body}}
    item = parse_row(row, User)
    assert (item.kind, item.usage.input_tokens) == (ErrorKind.REFUSAL, 12)
    assert "content filter" in item.message


def test_missing_rows_are_found_whatever_order_rows_come_back_in():
    from pytest_batch.models import BatchResults, BatchSuccess, Usage

    order = [f"r{i}" for i in range(8)]
    arrivals = ["r1", "r0", "r4", "r2", "r7", "r6"]  # r3 and r5 never come back
    source = lambda: iter(BatchSuccess(c, c, Usage()) for c in arrivals)  # noqa: E731
    results = BatchResults(source, custom_ids=order)
    assert [(item.custom_id, item.ok) for item in results][-2:] == [("r3", False), ("r5", False)]
    assert [item.custom_id for item in results.in_input_order()] == order


@pytest.mark.parametrize("ending", ["cancel", "expire", "validation_failure"])
def test_an_openai_job_known_only_by_id_still_reports_every_request(emulator, make_bp, ending):
    """A pipeline that saved only the batch id (a CLI, a cron job) still gets one item per
    request when the batch ended early: the custom_ids come from the batch's input file."""
    bp = make_bp("openai", User)
    if ending == "cancel":
        emulator.set_lifecycle("manual")
        job = bp.submit(list(SEED_PROMPTS))
        bp.cancel(job)
        emulator.advance()
    else:
        emulator.faults.batch(ending)
        job = bp.submit(list(SEED_PROMPTS))
    later = make_bp("openai", User)  # another run: it knows nothing of what the first one submitted
    ended = later.wait(job.id)
    assert ended.custom_ids is None and ended.status in (BatchStatus.CANCELLED, BatchStatus.EXPIRED,
                                                         BatchStatus.FAILED)
    expected_kind = {"cancel": ErrorKind.CANCELED, "expire": ErrorKind.EXPIRED,
                     "validation_failure": ErrorKind.MISSING}[ending]
    items = list(later.results(job.id))
    assert sorted(item.custom_id for item in items) == sorted(f"request-{i}" for i in range(1, 11))
    assert {item.kind for item in items if not item.ok} == {expected_kind}


def test_the_async_processor_recovers_the_ids_too(emulator, make_async_bp):
    emulator.faults.batch("expire")

    async def run():
        job = await make_async_bp("openai", User).submit(list(SEED_PROMPTS))
        return [item async for item in await make_async_bp("openai", User).results(job.id)]

    items = asyncio.run(run())
    assert len(items) == 10 and {item.kind for item in items if not item.ok} == {ErrorKind.EXPIRED}


#: the paths besides the default ones: (provider, processor options, async)
OTHER_PATHS = [
    ("openai", {"endpoint": "/v1/responses"}, False),
    ("anthropic", {"mode": "tools"}, False),
    ("google", {"limits": {"inline_bytes": 200}}, False),  # file input, responses file output
    ("openai", {}, True),
    ("anthropic", {}, True),
    ("google", {}, True),
]


@pytest.mark.parametrize(("provider", "options", "is_async"), OTHER_PATHS,
                         ids=["openai-responses", "anthropic-tools", "google-file", "openai-async",
                              "anthropic-async", "google-async"])
@pytest.mark.parametrize(("outcome", "kind"), OUTCOMES)
def test_each_error_kind_on_every_other_path(emulator, make_bp, make_async_bp, provider, options, is_async,
                                             outcome, kind):
    emulator.faults.request("request-3", outcome, status=503)

    async def run_async():
        bp = make_async_bp(provider, User, **options)
        return [item async for item in await bp.results(await bp.wait(await bp.submit(list(SEED_PROMPTS))))]

    if is_async:
        items = asyncio.run(run_async())
    else:
        bp = make_bp(provider, User, **options)
        items = list(bp.results(bp.wait(bp.submit(list(SEED_PROMPTS)))))
    by_id = {item.custom_id: item for item in items}
    assert set(by_id) == {f"request-{i}" for i in range(1, 11)}
    assert not by_id["request-3"].ok and by_id["request-3"].kind is kind, by_id["request-3"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wait_polls_through_rate_limits_and_server_errors(emulator, provider):
    """A long wait must not die on one 429 or 503 while polling: it polls again at the next pause."""
    client = client_for(emulator, provider, **({"max_retries": 0} if provider != "google" else {}))
    bp = BatchProcessor(MODELS[provider], User, client=client, sleep=lambda seconds: None)
    emulator.set_lifecycle("polls:3")
    job = bp.submit(list(SEED_PROMPTS[:2]))
    emulator.faults.http_error(429, times=2, provider=provider, method="GET")
    emulator.faults.http_error(503, times=2, provider=provider, method="GET")
    assert bp.wait(job).status is BatchStatus.COMPLETED
    emulator.faults.http_error(503, times=10, provider=provider, method="GET")
    with pytest.raises(ProviderError, match="5 polls in a row failed"):
        bp.wait(bp.submit(list(SEED_PROMPTS[:2])))


def test_wait_raises_an_error_that_polling_again_cannot_fix(emulator, make_bp):
    bp = make_bp("openai", User)
    emulator.faults.http_error(400, times=1, provider="openai", method="GET")
    with pytest.raises(ProviderError, match="HTTP 400"):
        bp.wait(bp.submit(["x"]))


def test_retry_keeps_the_input_order_whatever_order_the_failures_came_back_in(emulator, make_bp):
    # OpenAI puts HTTP errors in the error file, read after the output file's invalid answers
    for custom_id in ("request-1", "request-2", "request-3"):
        emulator.faults.request(custom_id, "http_error", status=500)
    for custom_id in ("request-4", "request-5"):
        emulator.faults.request(custom_id, "schema_violation")
    bp = make_bp("openai", User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    assert [e.custom_id for e in results.errors()][:2] == ["request-4", "request-5"]
    assert bp.retry_failed(results).custom_ids == [f"request-{i}" for i in range(1, 6)]
