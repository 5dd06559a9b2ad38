"""Per-request faults that heal: ``times=N`` spoils the first N answers of a request, so the
test of a retry needs no hand-made reset. Driven through the real SDKs."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from pytest_batch.seed import SEED_PROMPTS
from pytest_batch.sim import Emulator
from pytest_batch.sim.faults import FaultError
from pytest_batch.sim.server import start_server

from .conftest import openai_chat_lines


def anthropic_outcomes(client: anthropic.Anthropic, custom_ids: list[str]) -> dict[str, str]:
    """custom_id -> "refusal", "errored" or "ok" for a one-batch run of the seed prompts."""
    requests = [{"custom_id": custom_id, "params": {"model": "claude-haiku-4-5", "max_tokens": 256,
                                                    "messages": [{"role": "user", "content": SEED_PROMPTS[i]}]}}
                for i, custom_id in enumerate(custom_ids)]
    batch = client.messages.batches.create(requests=requests)
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    outcomes = {}
    for row in client.messages.batches.results(batch.id):
        if row.result.type != "succeeded":
            outcomes[row.custom_id] = row.result.type
        else:
            outcomes[row.custom_id] = "refusal" if row.result.message.stop_reason == "refusal" else "ok"
    return outcomes


def openai_failed(client: openai.OpenAI, prompts: list[str]) -> set[str]:
    """The custom_ids of a one-batch run that came back in the error file."""
    upload = client.files.create(file=("in.jsonl", openai_chat_lines(prompts)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    if not batch.error_file_id:
        return set()
    return {json.loads(line)["custom_id"] for line in client.files.content(batch.error_file_id).text.splitlines()}


def test_a_request_fault_with_times_fails_that_many_batches_then_heals(emulator: Emulator) -> None:
    emulator.faults.request("user-1", "refusal", times=2)
    emulator.faults.request("user-2", "http_error")  # no times: every batch
    client = emulator.anthropic_client()
    expected = {"user-0": "ok", "user-1": "refusal", "user-2": "errored"}
    assert anthropic_outcomes(client, list(expected)) == expected
    assert anthropic_outcomes(client, list(expected)) == expected
    assert anthropic_outcomes(client, list(expected)) == {**expected, "user-1": "ok"}


def test_a_fraction_with_times_heals_each_request_it_hit(emulator: Emulator) -> None:
    emulator.faults.fraction(0.5, "http_error", times=1)
    client = emulator.openai_client()
    first = openai_failed(client, list(SEED_PROMPTS))
    assert 0 < len(first) < 10
    assert openai_failed(client, list(SEED_PROMPTS)) == set()


def test_a_healed_fault_stays_healed_across_save_and_load(tmp_path: Path) -> None:
    emulator = Emulator()
    emulator.faults.request("user-0", "refusal", times=2)
    assert anthropic_outcomes(emulator.anthropic_client(), ["user-0"]) == {"user-0": "refusal"}
    emulator.save(tmp_path / "state.pickle")
    restored = Emulator.load(tmp_path / "state.pickle")
    client = restored.anthropic_client()
    assert anthropic_outcomes(client, ["user-0"]) == {"user-0": "refusal"}
    assert anthropic_outcomes(client, ["user-0"]) == {"user-0": "ok"}


def test_times_through_the_server_control_api() -> None:
    emulator = Emulator()
    with start_server(emulator) as server:
        control = f"{server.url}/_control/faults"
        spec = {"requests": {"request-2": {"outcome": "http_error", "status": 400, "times": 1}}}
        assert httpx2.post(control, json=spec).json() == {"ok": True}
        client = openai.OpenAI(base_url=server.base_urls["openai"], api_key="local")
        assert openai_failed(client, list(SEED_PROMPTS[:3])) == {"request-2"}
        assert openai_failed(client, list(SEED_PROMPTS[:3])) == set()
        bad = httpx2.post(control, json={"requests": {"request-2": {"outcome": "refusal", "times": 0}}})
        assert bad.status_code == 400 and "times is a whole number of answers, 1 or more" in bad.json()["error"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"requests": {"r": {"outcome": "refusal", "times": 0}}}, "got 0"),
    ({"requests": {"r": {"outcome": "refusal", "times": "1"}}}, "got '1'"),
    ({"requests": {"r": {"outcome": "refusal", "times": True}}}, "got True"),
    ({"requests": {"r": {"outcome": "refusal", "time": 1}}},
     "requests['r']: unknown key(s) time; use outcome, status, message, times"),
    ({"requests": {"r": 3}}, "requests['r']: expected an outcome name or a dict of outcome, status, message, times"),
    ({"fractions": [{"share": 0.5, "outcome": "refusal", "times": -1}]}, "got -1"),
    ({"fractions": [{"share": 0.5, "outcome": "refusal", "count": 1}]}, "fractions[]: unknown key(s) count"),
])
def test_a_bad_request_fault_spec_says_what_is_wrong(spec: dict, message: str) -> None:
    with pytest.raises(FaultError) as info:
        Emulator().faults.load(spec)
    assert message in str(info.value)


def test_the_marker_heals_a_fault_for_retry_failed_on_every_provider(pytester: pytest.Pytester) -> None:
    """What a user writes: a fault that fails a request once, and a retry that must fix it."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(faults={"requests": {"request-3": {"outcome": "refusal", "times": 1}}})
        def test_retry_heals(batch_processor, batch_messages, expected_users):
            job = batch_processor.wait(batch_processor.submit(batch_messages))
            results = batch_processor.results(job)
            assert [e.custom_id for e in results.errors()] == ["request-3"]
            assert (job.counts.succeeded, job.counts.refused) == (9, 1)
            retried = batch_processor.wait(batch_processor.retry_failed(results, submit=True))
            assert batch_processor.results(retried).values() == [expected_users[2]]
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)
