"""The ten-user extraction on every provider, through the real SDKs and the emulator."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from pytest_batch.errors import BatchNotFoundError, ProviderError, ResultsNotReadyError, UnsupportedOperationError
from pytest_batch.models import BatchJob, BatchStatus, BatchSuccess
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User

PROVIDERS = ["openai", "anthropic", "google", "azure"]


def _users(results):
    return [item.value for item in results.in_input_order()]


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("shuffle", [False, True])
def test_ten_users_in_input_order(emulator, make_bp, provider, shuffle):
    emulator.shuffle_results = shuffle
    emulator.set_lifecycle("polls:3")
    bp = make_bp(provider, User)
    job = bp.submit(list(SEED_PROMPTS))
    assert not job.is_terminal
    seen = []
    job = bp.wait(job, callback=seen.append)
    assert job.status is BatchStatus.COMPLETED
    assert len(seen) >= 2 and not seen[0].is_terminal  # it really polled
    assert job.counts.total == 10 and job.counts.succeeded == 10 and job.counts.errored == 0
    results = bp.results(job)
    assert _users(results) == list(EXPECTED_USERS)
    assert all(isinstance(item, BatchSuccess) for item in results)
    assert results.usage.input_tokens > 0 and results.usage.output_tokens > 0
    assert results.estimated_cost is not None and results.estimated_cost > 0


def test_shuffled_openai_rows_really_arrive_out_of_order(emulator, make_bp):
    emulator.shuffle_results = True
    bp = make_bp("openai", User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    arrival = [item.custom_id for item in results]
    assert arrival != sorted(arrival, key=lambda c: int(c.split("-")[1]))
    assert [item.custom_id for item in results.in_input_order()] == [f"request-{i}" for i in range(1, 11)]


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("provider", PROVIDERS)
def test_async_processor(emulator, make_async_bp, provider):
    emulator.set_lifecycle("polls:2")

    async def run():
        bp = make_async_bp(provider, User)
        job = await bp.wait(await bp.submit(list(SEED_PROMPTS)))
        results = await bp.results(job)
        values = await results.values()
        status = await bp.status(job.id)
        return values, status, results.usage

    values, status, usage = asyncio.run(run())
    assert values == list(EXPECTED_USERS)
    assert status.status is BatchStatus.COMPLETED
    assert usage.output_tokens > 0


@pytest.mark.sdk_matrix
def test_anthropic_tools_mode_and_openai_responses_endpoint(make_bp):
    for bp in (make_bp("anthropic", User, mode="tools"), make_bp("openai", User, endpoint="/v1/responses")):
        assert _users(bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))) == list(EXPECTED_USERS)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_plain_text_results(make_bp, provider):
    bp = make_bp(provider)
    items = list(bp.results(bp.wait(bp.submit(["Say hi", "Say bye"]))).in_input_order())
    assert [item.custom_id for item in items] == ["request-1", "request-2"]
    assert all(isinstance(item.value, str) and item.value for item in items)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_submit_a_build_a_path_and_a_bytesio(tmp_path, make_bp, provider):
    bp = make_bp(provider, User)
    requests = bp.build(list(SEED_PROMPTS[:3]), output=tmp_path / "in.jsonl")
    for source in (requests, tmp_path / "in.jsonl", str(tmp_path / "in.jsonl"), io.BytesIO(requests.to_bytes())):
        job = bp.wait(bp.submit(source))
        assert _users(bp.results(job)) == list(EXPECTED_USERS[:3])


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("provider", PROVIDERS)
def test_status_and_results_from_the_id_alone(emulator, make_bp, provider):
    bp = make_bp(provider, User)
    job = bp.submit(list(SEED_PROMPTS))
    emulator.advance()
    fresh = make_bp(provider, User)
    status = fresh.status(job.id)
    assert status.id == job.id and status.status is BatchStatus.COMPLETED
    assert sorted(item.value.name for item in fresh.results(job.id)) == sorted(u.name for u in EXPECTED_USERS)
    # restored from JSON, the job keeps its custom_ids, so input order works again
    restored = BatchJob.from_json(job.to_json())
    assert restored.custom_ids == job.custom_ids and restored.prompts == job.prompts
    assert _users(fresh.results(restored)) == list(EXPECTED_USERS)
    assert json.loads(job.to_json())["ids"] == [job.id]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", ["well-formed", "malformed"])
def test_unknown_batch_id_is_a_clear_error(make_bp, provider, kind):
    bogus = {"openai": "batch_doesnotexist", "anthropic": "msgbatch_doesnotexist", "google": "batches/doesnotexist",
             "azure": "batch_00000000-0000-4000-8000-000000000000"}[provider] if kind == "well-formed" else "not/an id"
    name = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Google", "azure": "Azure OpenAI"}[provider]
    with pytest.raises(BatchNotFoundError, match=rf"^{name} has no (message )?batch '{bogus}'"):
        make_bp(provider, User).status(bogus)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_results_of_a_running_batch_are_not_ready(emulator, make_bp, provider):
    emulator.set_lifecycle("manual")
    bp = make_bp(provider, User)
    job = bp.submit(list(SEED_PROMPTS))
    with pytest.raises(ResultsNotReadyError, match=job.id):
        bp.results(job)


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("provider", PROVIDERS)
def test_list_and_cancel(emulator, make_bp, provider):
    emulator.set_lifecycle("manual")
    bp = make_bp(provider, User)
    first = bp.submit(["one"])
    emulator.advance(seconds=5)
    second = bp.submit(["two"])
    listed = [job.id for job in bp.list()]
    assert listed[:2] == [second.id, first.id]  # newest first
    cancelling = bp.cancel(second)
    assert cancelling.status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED)
    emulator.advance()
    assert bp.status(second).status is BatchStatus.CANCELLED
    assert bp.status(first).status is not BatchStatus.CANCELLED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_listed_batches_carry_their_counts_sync_and_async(emulator, make_bp, make_async_bp, provider):
    """A listed batch counts its requests as its status does (Gemini's list pager dropped
    batchStats: a pending batch listed 0 of 0), across pages too."""
    emulator.set_lifecycle("manual")
    bp = make_bp(provider, User)
    jobs = [bp.submit(["one", "two", "three"]) for _ in range(3)]
    statuses = {job.id: bp.status(job).counts for job in jobs}
    # OpenAI (and Azure) count nothing while a batch validates, as live; the others count it at once
    assert {counts.total for counts in statuses.values()} == ({0} if provider in ("openai", "azure") else {3})

    async def listed_async() -> list:
        return await make_async_bp(provider, User).list(limit=3)

    for listed in (bp.list(limit=3), asyncio.run(listed_async())):
        assert {job.id: job.counts for job in listed} == statuses


def test_cancelling_is_not_terminal_and_wait_goes_on(emulator, make_bp):
    emulator.set_lifecycle("manual")
    bp = make_bp("anthropic", User)
    job = bp.cancel(bp.submit(list(SEED_PROMPTS)))
    assert job.status is BatchStatus.CANCELLING and not job.is_terminal
    calls = []

    def advance_later(job):
        calls.append(job.status)
        if len(calls) == 2:
            emulator.advance()

    job = bp.wait(job, callback=advance_later)
    assert calls[0] is BatchStatus.CANCELLING and job.status is BatchStatus.CANCELLED
    kinds = {item.kind.value for item in bp.results(job)}
    assert kinds == {"canceled"}


def test_openai_delete_is_refused_clearly(make_bp):
    bp = make_bp("openai", User)
    job = bp.wait(bp.submit(["x"]))
    with pytest.raises(UnsupportedOperationError, match="OpenAI batches cannot be deleted.*client.files.delete"):
        bp.delete(job)
    assert bp.status(job).id == job.id  # still there


def test_anthropic_delete_only_after_ended(emulator, make_bp):
    emulator.set_lifecycle("manual")
    bp = make_bp("anthropic", User)
    job = bp.submit(["x"])
    with pytest.raises(ProviderError, match=r"HTTP 400: .*cannot be deleted.*only once it has ended"):
        bp.delete(job)
    emulator.advance()
    bp.delete(bp.wait(job))
    with pytest.raises(BatchNotFoundError, match=job.id):
        bp.status(job)


def test_google_delete_removes_the_batch(make_bp):
    bp = make_bp("google", User)
    job = bp.wait(bp.submit(["x"]))
    bp.delete(job)
    with pytest.raises(BatchNotFoundError, match=job.id):
        bp.status(job)
    assert job.id not in [j.id for j in bp.list()]


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("provider", PROVIDERS)
def test_async_split_group_cancel_and_delete(emulator, make_async_bp, provider):
    async def run():
        bp = make_async_bp(provider, User, limits={"max_requests": 4, "inline_bytes": 300})
        job = await bp.wait(await bp.submit(list(SEED_PROMPTS)))
        assert len(job.ids) == 3
        values = await (await bp.results(job)).values()
        emulator.set_lifecycle("manual")
        running = await bp.submit(["x"])
        cancelled = await bp.cancel(running)
        listed = await bp.list(limit=50)
        if provider not in ("openai", "azure"):  # OpenAI batches cannot be deleted, on Azure neither
            emulator.advance()
            await bp.wait(cancelled)
            await bp.delete(running)
            with pytest.raises(BatchNotFoundError):
                await bp.status(running)
        return values, cancelled, listed

    values, cancelled, listed = asyncio.run(run())
    assert values == list(EXPECTED_USERS)
    assert cancelled.status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED)
    assert len(listed) >= 4
