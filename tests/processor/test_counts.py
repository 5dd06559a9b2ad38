"""job.counts: what the provider reports until the results are read, then the truth by kind."""

from __future__ import annotations

import asyncio

import pytest

from pytest_batch.models import (
    BatchCounts,
    BatchError,
    BatchJob,
    BatchResults,
    BatchStatus,
    BatchSuccess,
    ErrorKind,
    Usage,
)
from pytest_batch.seed import SEED_PROMPTS, User

PROVIDERS = ["openai", "anthropic", "google", "azure"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refusal_and_an_invalid_answer_are_not_counted_as_succeeded(emulator, make_bp, provider):
    emulator.faults.request("request-2", "refusal")
    emulator.faults.request("request-3", "schema_violation")
    bp = make_bp(provider, User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS[:3])))
    # the provider ran all three and bills all three: to it they succeeded
    assert (job.counts.total, job.counts.succeeded, job.counts.failed, job.counts.from_results) == (3, 3, 0, False)
    list(bp.results(job))
    assert job.counts == BatchCounts(total=3, succeeded=1, refused=1, invalid=1, from_results=True)
    assert job.counts.failed == 2 and job.counts.summary() == "1 of 3 succeeded, 1 refused, 1 invalid"
    assert (job.provider_counts.succeeded, job.provider_counts.from_results) == (3, False)
    # an ended batch's results do not change: polling it again keeps the counts read from them
    assert bp.status(job).counts == job.counts and bp.wait(job).counts.from_results


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_kind_of_failure_has_its_count(emulator, make_bp, provider):
    outcomes = {2: "refusal", 3: "schema_violation", 4: "malformed_json", 5: "truncated", 6: "http_error",
                7: "expired", 8: "canceled"}
    for number, outcome in outcomes.items():
        emulator.faults.request(f"request-{number}", outcome)
    bp = make_bp(provider, User)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    assert len(list(results)) == 10
    assert results.job.counts == BatchCounts(total=10, succeeded=3, errored=1, refused=1, invalid=2, truncated=1,
                                             expired=1, canceled=1, from_results=True)
    assert results.job.counts.failed == 7


def test_the_async_results_count_truthfully_too(emulator, make_async_bp):
    emulator.faults.request("request-1", "truncated")

    async def run():
        bp = make_async_bp("anthropic", User)
        job = await bp.wait(await bp.submit(list(SEED_PROMPTS[:4])))
        before = job.counts
        await (await bp.results(job)).by_custom_id()
        return before, job.counts

    before, after = asyncio.run(run())
    assert (before.succeeded, before.from_results) == (4, False)
    assert after == BatchCounts(total=4, succeeded=3, truncated=1, from_results=True)


def test_counts_change_only_once_every_result_was_read(emulator, make_bp):
    emulator.faults.request("request-1", "refusal")
    bp = make_bp("openai", User)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    for _ in bp.results(job):
        break
    assert (job.counts.succeeded, job.counts.from_results) == (10, False)


def test_a_split_job_counts_all_its_parts(emulator, make_bp):
    emulator.faults.request("request-2", "refusal")
    emulator.faults.request("request-9", "malformed_json")
    bp = make_bp("google", User, limits={"max_requests": 4})
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert len(job.parts) == 3 and job.provider_counts.succeeded == 10
    list(bp.results(job))
    assert job.counts == BatchCounts(total=10, succeeded=8, refused=1, invalid=1, from_results=True)


def test_a_job_read_by_id_alone_counts_what_never_came_back_as_missing():
    """A later run knows neither the custom_ids nor what is missing; the provider's own total
    still tells how many requests the results lack."""
    job = BatchJob("openai", "batch_1", BatchStatus.COMPLETED, counts=BatchCounts(total=5, succeeded=5))
    items = [BatchSuccess("a", User(name="A", age=1), Usage()), BatchSuccess("b", User(name="B", age=2), Usage()),
             BatchError("c", ErrorKind.REFUSAL, "no", 200)]
    list(BatchResults(lambda: iter(items), job=job))
    assert job.counts == BatchCounts(total=5, succeeded=2, refused=1, missing=2, from_results=True)
    assert job.provider_counts == BatchCounts(total=5, succeeded=5)
    assert [item.job_id for item in items] == ["batch_1"] * 3
