"""retry_failed: from a job's results, its BatchErrors or custom_ids, built or submitted, healing
faults that fail a request only the first time."""

from __future__ import annotations

import asyncio

import pytest

from pytest_batch.errors import ConfigurationError
from pytest_batch.models import BatchJob, ErrorKind
from pytest_batch.processor import BatchRequests
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User

PROVIDERS = ["openai", "anthropic", "google", "azure"]


def values(results):
    return {item.custom_id: item.value if item.ok else item.kind for item in results}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_failed_submits_the_failures_and_a_healed_fault_lets_them_through(emulator, make_bp, provider):
    emulator.faults.request("request-2", "schema_violation", times=1)
    emulator.faults.request("request-5", "http_error", times=1)
    bp = make_bp(provider, User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    assert {custom_id for custom_id, value in values(results).items() if isinstance(value, ErrorKind)} == {
        "request-2", "request-5"}
    retried = bp.retry_failed(results, submit=True)
    assert isinstance(retried, BatchJob) and retried.custom_ids == ["request-2", "request-5"]
    assert values(bp.results(bp.wait(retried))) == {"request-2": EXPECTED_USERS[1], "request-5": EXPECTED_USERS[4]}
    # the faults healed for these requests only: a batch of the same requests fails no more
    assert values(bp.results(bp.wait(bp.submit(list(SEED_PROMPTS[:5]))))) == {
        f"request-{i}": EXPECTED_USERS[i - 1] for i in range(1, 6)}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_async_processor_submits_the_retry_too(emulator, make_async_bp, provider):
    emulator.faults.request("request-4", "malformed_json", times=1)

    async def run():
        bp = make_async_bp(provider, User)
        results = await bp.results(await bp.wait(await bp.submit(list(SEED_PROMPTS))))
        built = await bp.retry_failed(results)
        retried = await bp.retry_failed(results, submit=True)
        fixed = await (await bp.results(await bp.wait(retried))).by_custom_id()
        return built, retried, fixed

    built, retried, fixed = asyncio.run(run())
    assert isinstance(built, BatchRequests) and "invalid_json" in str(built.lines[0])
    assert retried.custom_ids == ["request-4"] and fixed["request-4"].value == EXPECTED_USERS[3]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_failed_with_feedback(emulator, make_bp, provider):
    emulator.faults.request("request-2", "schema_violation")
    emulator.faults.request("request-5", "http_error")
    bp = make_bp(provider, User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    retry = bp.retry_failed(results, feedback=True)
    assert retry.custom_ids == ["request-2", "request-5"]
    text = str(retry.lines[0])
    assert SEED_PROMPTS[1] in text and "validation_error" in text
    # an HTTP error is not the model's mistake: resent as it was, with nothing to correct
    assert retry.lines[1] == bp.build([SEED_PROMPTS[4]], custom_ids=["request-5"]).lines[0]
    # without feedback the prompt is the original one
    plain = bp.retry_failed(list(results.errors()), feedback=False)
    assert "validation_error" not in str(plain.lines[0])


@pytest.mark.parametrize("given", ["results", "errors", "custom_ids", "custom_ids and job"])
def test_retry_failed_takes_results_errors_or_custom_ids(emulator, make_bp, given):
    emulator.faults.request("request-3", "truncated")
    emulator.faults.request("request-7", "refusal")
    bp = make_bp("anthropic", User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    results = bp.results(job)
    failed = {"results": results, "errors": list(results.errors()), "custom_ids": ["request-7", "request-3"],
              "custom_ids and job": ["request-7", "request-3"]}[given]
    retry = bp.retry_failed(failed, job=job if given == "custom_ids and job" else None)
    assert retry.custom_ids == ["request-3", "request-7"]  # in input order
    feedback = retry.lines[0]["params"]["messages"][-1]["content"]
    if given in ("results", "errors"):
        assert "truncated" in feedback  # the reason is known: the model is told
    else:
        assert feedback == SEED_PROMPTS[2]  # named by custom_id: resent as it was
    assert retry.lines[1]["params"]["messages"] == [{"role": "user", "content": SEED_PROMPTS[6]}]


def test_retry_failed_finds_the_job_of_errors_among_several(emulator, make_bp):
    """Two jobs with the same custom_ids: each error knows its job, custom_ids need job=."""
    emulator.faults.request("request-1", "refusal")
    bp = make_bp("openai", User)
    first = bp.results(bp.wait(bp.submit(["Alice is 28", "Bob is 35"])))
    second = bp.results(bp.wait(bp.submit(["Carol is 41", "Dan is 52"])))
    errors = list(first.errors()) + list(second.errors())
    assert [error.custom_id for error in errors] == ["request-1", "request-1"]
    assert bp.retry_failed(list(first.errors())).lines[0]["body"]["messages"][0]["content"] == "Alice is 28"
    assert bp.retry_failed(list(second.errors())).lines[0]["body"]["messages"][0]["content"] == "Carol is 41"
    with pytest.raises(ConfigurationError, match=r"custom_id request-1 failed in two jobs .*retry each job's "
                                                 "failures on their own"):
        bp.retry_failed(errors)
    with pytest.raises(ConfigurationError, match=r"cannot tell which job request-2 belonged to: 2 jobs this "
                                                 r"processor submitted hold them .*Pass job="):
        bp.retry_failed(["request-2"])
    retry = bp.retry_failed(["request-2"], job=second.job.id, feedback=False)
    assert retry.lines[0]["body"]["messages"][0]["content"] == "Dan is 52"


def test_a_retry_of_a_retry_starts_from_the_original_prompt(emulator, make_bp):
    emulator.faults.request("request-1", "schema_violation", times=2)
    bp = make_bp("google", User)
    results = bp.results(bp.wait(bp.submit([SEED_PROMPTS[0]])))
    again = bp.results(bp.wait(bp.retry_failed(results, submit=True)))
    assert values(again) == {"request-1": ErrorKind.VALIDATION_ERROR}  # the fault's second time
    retry = bp.retry_failed(again)
    contents = retry.lines[0]["request"]["contents"]
    assert [c["parts"][0]["text"] for c in contents][0] == SEED_PROMPTS[0] and len(contents) == 2  # one feedback
    assert values(bp.results(bp.wait(bp.submit(retry)))) == {"request-1": EXPECTED_USERS[0]}


def test_an_openai_job_known_by_id_has_its_prompts_read_back(emulator, make_bp):
    """A later run holding only the batch id: OpenAI keeps the input file, so the prompts are read
    back from it."""
    emulator.faults.request("request-6", "http_error", times=1)
    job = make_bp("openai", User).submit(list(SEED_PROMPTS))
    later = make_bp("openai", User)
    errors = list(later.results(later.wait(job.id)).errors())
    assert [(e.custom_id, e.job_id) for e in errors] == [("request-6", job.id)]
    retried = later.retry_failed(errors, submit=True)
    assert values(later.results(later.wait(retried))) == {"request-6": EXPECTED_USERS[5]}


@pytest.mark.parametrize("provider", ["anthropic", "google"])
def test_a_job_known_by_id_on_a_provider_that_keeps_no_input_is_a_clear_error(emulator, make_bp, provider):
    emulator.faults.request("request-2", "refusal")
    job = make_bp(provider, User).submit(list(SEED_PROMPTS))
    later = make_bp(provider, User)
    results = later.results(later.wait(job.id))
    with pytest.raises(ConfigurationError, match=rf"retry_failed needs the original prompts of batch {job.id}, and "
                                                 r".* does not return a batch's requests: retry with the processor "
                                                 r"that submitted it, .*BatchJob.to_json\(\), or pass prompts="):
        later.retry_failed(results)
    assert later.retry_failed(results, prompts={"request-2": SEED_PROMPTS[1]}).custom_ids == ["request-2"]
    # a job saved with to_json() carries its prompts to the later run
    restored = BatchJob.from_json(job.to_json())
    assert later.retry_failed(later.results(restored)).custom_ids == ["request-2"]


def test_the_processor_that_submitted_a_job_knows_it_by_id(emulator, make_bp):
    emulator.faults.request("request-9", "expired")
    bp = make_bp("anthropic", User)
    job = bp.submit(list(SEED_PROMPTS))
    results = bp.results(bp.wait(job.id))
    assert [item.custom_id for item in results.in_input_order()] == [f"request-{i}" for i in range(1, 11)]
    assert bp.retry_failed(results).custom_ids == ["request-9"]


@pytest.mark.parametrize(("failed", "message"), [
    ("request-1", r"got the string 'request-1' \(for the failures of a job known by its id, pass "
                  r"bp.results\('request-1'\); for one request, \['request-1'\]\)"),
    ([], "nothing to retry: no failed items"),
    ([42], "got int 42 in the list"),
])
def test_what_retry_failed_cannot_take_is_a_clear_error(emulator, make_bp, failed, message):
    bp = make_bp("openai", User)
    bp.submit(list(SEED_PROMPTS[:2]))
    with pytest.raises(ConfigurationError, match=message):
        bp.retry_failed(failed)


def test_kinds_limits_what_is_retried(emulator, make_bp):
    emulator.faults.request("request-1", "http_error")
    emulator.faults.request("request-2", "refusal")
    bp = make_bp("openai", User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    assert bp.retry_failed(results, kinds=["refusal"]).custom_ids == ["request-2"]
    with pytest.raises(ConfigurationError, match="nothing to retry: no failed items of kind truncated"):
        bp.retry_failed(results, kinds=[ErrorKind.TRUNCATED])
    with pytest.raises(ConfigurationError, match=r"retry_failed\(kinds=\): 'refused' is not a valid ErrorKind; "
                                                 "the kinds are http_error, expired, canceled, refusal"):
        bp.retry_failed(results, kinds=["refused"])


def test_custom_ids_of_no_job_this_processor_submitted_need_a_job(make_bp):
    with pytest.raises(ConfigurationError, match=r"cannot tell which job request-1 belonged to: this processor "
                                                 r"submitted no job holding them. Pass job="):
        make_bp("openai", User).retry_failed(["request-1"])


def test_plain_text_feedback_does_not_ask_for_json(emulator, make_bp):
    emulator.faults.request("request-1", "truncated")
    bp = make_bp("anthropic")
    retry = bp.retry_failed(bp.results(bp.wait(bp.submit(["Write a poem", "Say hi"]))))
    feedback = retry.lines[0]["params"]["messages"][-1]["content"]
    assert "truncated" in feedback and "JSON" not in feedback


@pytest.mark.parametrize(("model", "options"), [
    ("openai/gpt-4o-mini", {}), ("openai/gpt-4o-mini", {"endpoint": "/v1/responses"}),
    ("anthropic/claude-haiku-4-5", {}), ("anthropic/claude-haiku-4-5", {"mode": "tools"}),
    ("google/gemini-2.5-flash", {}),
])
def test_a_request_line_gives_back_the_messages_that_rebuild_it(model, options):
    from pytest_batch.processor import BatchProcessor

    bp = BatchProcessor(model, User, **options)
    prompts = ["Alice is 28", [{"role": "system", "content": "Extract."}, {"role": "user", "content": "Bob, 35"},
                               {"role": "assistant", "content": "{}"}, {"role": "user", "content": "Again ✓"}]]
    built = bp.build(prompts)
    for custom_id, line in zip(built.custom_ids, built.lines, strict=True):
        messages = bp.provider.line_messages(line)
        assert bp.build([messages], custom_ids=[custom_id]).lines == [line]
    foreign = {"openai": {"custom_id": "x", "body": {"messages": [{"role": "user", "content": [{"type": "text"}]}]}},
               "anthropic": {"custom_id": "x", "params": {"messages": [{"role": "user", "content": []}]}},
               "google": {"key": "x", "request": {"contents": [{"parts": [{"inlineData": {}}]}]}}}
    assert bp.provider.line_messages(foreign[bp.provider.name]) is None  # content parts: nothing to resend


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_job_submitted_from_a_jsonl_file_can_be_retried(tmp_path, emulator, make_bp, provider):
    """The processor keeps the prompts of the lines it submitted from a file, as it does for a
    build: Anthropic and Gemini could not give them back later."""
    emulator.faults.request("request-4", "malformed_json", times=1)
    path = make_bp(provider, User).build(list(SEED_PROMPTS), output=tmp_path / "requests.jsonl").path
    bp = make_bp(provider, User)
    job = bp.submit(path)
    errors = list(bp.results(bp.wait(job.id)).errors())
    assert [error.custom_id for error in errors] == ["request-4"]
    retried = bp.retry_failed(errors, submit=True)
    assert values(bp.results(bp.wait(retried))) == {"request-4": EXPECTED_USERS[3]}
