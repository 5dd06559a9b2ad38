"""Emulator controls on every provider, through the real SDKs: per-batch lifecycles, batch
faults, journal, reset, save / load."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_batch.seed import SEED_PROMPTS
from pytest_batch.sim import Emulator

from .conftest import openai_chat_lines


@dataclass
class Driver:
    """One provider seen through its SDK: submit a one-request batch, read its status, read its answer."""

    submit: Callable[[], str]
    status: Callable[[str], str]
    answer: Callable[[str], str]
    #: the status a batch ends with normally, and after an expire fault.
    done: str
    expired: str
    open_statuses: tuple[str, ...]


def openai_driver(emulator: Emulator) -> Driver:
    client = emulator.openai_client()

    def submit() -> str:
        upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:1], schema=None)),
                                     purpose="batch")
        return client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                     completion_window="24h").id

    def answer(batch_id: str) -> str:
        row = json.loads(client.files.content(client.batches.retrieve(batch_id).output_file_id).text)
        return row["response"]["body"]["choices"][0]["message"]["content"]

    return Driver(submit, lambda batch_id: client.batches.retrieve(batch_id).status, answer,
                  "completed", "expired", ("validating", "in_progress", "finalizing"))


def anthropic_driver(emulator: Emulator) -> Driver:
    client = emulator.anthropic_client()

    def submit() -> str:
        params = {"model": "claude-haiku-4-5", "max_tokens": 64,
                  "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}
        return client.messages.batches.create(requests=[{"custom_id": "request-1", "params": params}]).id

    def status(batch_id: str) -> str:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status != "ended":
            return batch.processing_status
        return "expired" if batch.request_counts.expired else "ended"

    def answer(batch_id: str) -> str:
        (row,) = client.messages.batches.results(batch_id)
        return row.result.message.content[0].text

    return Driver(submit, status, answer, "ended", "expired", ("in_progress",))


def google_driver(emulator: Emulator) -> Driver:
    client = emulator.google_client()

    def submit() -> str:
        # Gemini's batches are named "batches/{id}": the controls take the name as it comes.
        return client.batches.create(model="gemini-2.5-flash", src=[{"contents": SEED_PROMPTS[0]}]).name

    def answer(name: str) -> str:
        return client.batches.get(name=name).dest.inlined_responses[0].response.text

    return Driver(submit, lambda name: client.batches.get(name=name).state.name, answer,
                  "JOB_STATE_SUCCEEDED", "JOB_STATE_EXPIRED", ("JOB_STATE_PENDING", "JOB_STATE_RUNNING"))


DRIVERS = {"openai": openai_driver, "anthropic": anthropic_driver, "google": google_driver}
providers = pytest.mark.parametrize("provider", list(DRIVERS))


@providers
def test_lifecycle_for_one_existing_batch_and_its_advance(provider: str) -> None:
    emulator = Emulator(lifecycle="immediate")
    driver = DRIVERS[provider](emulator)
    held, free = driver.submit(), driver.submit()
    emulator.set_lifecycle("manual", batch_id=held)
    assert all(driver.status(held) in driver.open_statuses for _ in range(3))
    assert driver.status(free) == driver.done
    emulator.advance(batch_id=held)
    assert driver.status(held) == driver.done


@providers
def test_lifecycle_for_the_next_batch_only(provider: str) -> None:
    emulator = Emulator(lifecycle="immediate")
    driver = DRIVERS[provider](emulator)
    emulator.set_lifecycle("polls:3", next_batch=True)
    slow, fast = driver.submit(), driver.submit()
    assert driver.status(fast) == driver.done
    assert [driver.status(slow) in driver.open_statuses for _ in range(2)] == [True, True]
    assert driver.status(slow) == driver.done


@providers
def test_batch_fault_set_after_create_applies(provider: str) -> None:
    emulator = Emulator(lifecycle="manual")
    driver = DRIVERS[provider](emulator)
    batch_id = driver.submit()
    emulator.faults.batch("expire", batch_id=batch_id, completed_fraction=0.0)
    emulator.advance(batch_id=batch_id)
    assert driver.status(batch_id) == driver.expired


@providers
def test_journal_records_every_call_and_reset_forgets_everything(provider: str) -> None:
    emulator = Emulator()
    driver = DRIVERS[provider](emulator)
    batch_id = driver.submit()
    driver.status(batch_id)
    calls = emulator.journal.calls(provider)
    assert calls and calls == list(emulator.journal)
    assert {e.status for e in calls} == {200}
    assert calls[-1].method == "GET" and batch_id.rpartition("/")[2] in calls[-1].path
    emulator.reset()
    assert list(emulator.journal) == []
    with pytest.raises(Exception) as caught:
        driver.status(batch_id)
    assert getattr(caught.value, "status_code", getattr(caught.value, "code", None)) == 404


@providers
def test_save_and_load_keep_an_open_batch(provider: str, tmp_path: Path) -> None:
    emulator = Emulator(lifecycle="manual")
    emulator.expect("restored answer", match=SEED_PROMPTS[0][:20])
    batch_id = DRIVERS[provider](emulator).submit()
    emulator.save(tmp_path / "state.pickle")
    restored = Emulator.load(tmp_path / "state.pickle")
    driver = DRIVERS[provider](restored)
    assert driver.status(batch_id) in driver.open_statuses
    restored.advance(batch_id=batch_id)
    assert driver.status(batch_id) == driver.done
    assert driver.answer(batch_id) == "restored answer"
