"""Emulator controls and faults on every provider, through the real SDKs and each of the three
access paths (ready-made in-process clients, the intercept() patch context, the loopback
server): per-batch lifecycles, pagination, cancel, expiry, validation failure, HTTP faults,
journal, reset, save / load."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from pytest_batch.seed import SEED_PROMPTS
from pytest_batch.sim import Emulator

from .conftest import Access, openai_chat_lines


@dataclass
class Driver:
    """One provider seen through its SDK: submit a one-request batch, read its status, read its
    answer, cancel it, list every batch, and make one cheap call (for HTTP faults)."""

    submit: Callable[[], str]
    status: Callable[[str], str]
    answer: Callable[[str], str]
    cancel: Callable[[str], None]
    #: every batch id through the SDK's own pager, asking for pages of the given size
    list_ids: Callable[[int], list[str]]
    probe: Callable[[], Any]
    #: the statuses a batch ends with normally, after an expiry, a validation failure, a cancel
    done: str
    expired: str
    failed: str
    cancelled: str
    open_statuses: tuple[str, ...]


def openai_driver(access: Access, *, retries: bool = True) -> Driver:
    client = access.openai() if retries else access.openai(max_retries=0)

    def submit() -> str:
        upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:1], schema=None)),
                                     purpose="batch")
        return client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                     completion_window="24h").id

    def answer(batch_id: str) -> str:
        row = json.loads(client.files.content(client.batches.retrieve(batch_id).output_file_id).text)
        return row["response"]["body"]["choices"][0]["message"]["content"]

    return Driver(submit, lambda batch_id: client.batches.retrieve(batch_id).status, answer,
                  lambda batch_id: client.batches.cancel(batch_id),
                  lambda size: [b.id for b in client.batches.list(limit=size)],
                  lambda: client.batches.list(limit=1),
                  "completed", "expired", "failed", "cancelled", ("validating", "in_progress", "finalizing"))


def anthropic_driver(access: Access, *, retries: bool = True) -> Driver:
    client = access.anthropic() if retries else access.anthropic(max_retries=0)

    def submit() -> str:
        params = {"model": "claude-haiku-4-5", "max_tokens": 64,
                  "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}
        return client.messages.batches.create(requests=[{"custom_id": "request-1", "params": params}]).id

    def status(batch_id: str) -> str:
        """processing_status until ended; then how the one request ended (B.2: counts flip at the end)."""
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status != "ended":
            return batch.processing_status
        counts = batch.request_counts
        return next((kind for kind in ("expired", "canceled", "errored") if getattr(counts, kind)), "ended")

    def answer(batch_id: str) -> str:
        (row,) = client.messages.batches.results(batch_id)
        return row.result.message.content[0].text

    return Driver(submit, status, answer, lambda batch_id: client.messages.batches.cancel(batch_id),
                  lambda size: [b.id for b in client.messages.batches.list(limit=size)],
                  lambda: client.messages.batches.list(limit=1),
                  "ended", "expired", "errored", "canceled", ("in_progress", "canceling"))


def google_driver(access: Access, *, retries: bool = True) -> Driver:
    """google-genai does not retry unless told to (wire-formats.md 0.1): ``retries`` changes nothing."""
    client = access.google()

    def submit() -> str:
        # Gemini's batches are named "batches/{id}": the controls take the name as it comes.
        return client.batches.create(model="gemini-2.5-flash", src=[{"contents": SEED_PROMPTS[0]}]).name

    def answer(name: str) -> str:
        return client.batches.get(name=name).dest.inlined_responses[0].response.text

    return Driver(submit, lambda name: client.batches.get(name=name).state.name, answer,
                  lambda name: client.batches.cancel(name=name),
                  lambda size: [job.name for job in client.batches.list(config={"page_size": size})],
                  lambda: client.batches.list(config={"page_size": 1}),
                  "JOB_STATE_SUCCEEDED", "JOB_STATE_EXPIRED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                  ("JOB_STATE_PENDING", "JOB_STATE_RUNNING"))


DRIVERS = {"openai": openai_driver, "anthropic": anthropic_driver, "google": google_driver}
providers = pytest.mark.parametrize("provider", list(DRIVERS))
#: what an SDK raises for a connection that closed without an answer
CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError, httpx2.TransportError,
                     httpx.TransportError)


# ---------------------------------------------------------------------------- lifecycles

@providers
def test_lifecycle_for_one_existing_batch_and_its_advance(provider: str, connect) -> None:
    emulator = Emulator(lifecycle="immediate")
    driver = DRIVERS[provider](connect(emulator))
    held, free = driver.submit(), driver.submit()
    emulator.set_lifecycle("manual", batch_id=held)
    assert all(driver.status(held) in driver.open_statuses for _ in range(3))
    assert driver.status(free) == driver.done
    emulator.advance(batch_id=held)
    assert driver.status(held) == driver.done


@providers
def test_lifecycle_for_the_next_batch_only(provider: str, connect) -> None:
    emulator = Emulator(lifecycle="immediate")
    driver = DRIVERS[provider](connect(emulator))
    emulator.set_lifecycle("polls:3", next_batch=True)
    slow, fast = driver.submit(), driver.submit()
    assert driver.status(fast) == driver.done
    assert [driver.status(slow) in driver.open_statuses for _ in range(2)] == [True, True]
    assert driver.status(slow) == driver.done


# ---------------------------------------------------------------------------- pagination, cancel

@providers
def test_pagination_lists_every_batch_newest_first(provider: str, connect) -> None:
    emulator = Emulator()
    driver = DRIVERS[provider](connect(emulator))
    created = [driver.submit() for _ in range(5)]
    before = len(emulator.journal)
    assert driver.list_ids(2) == created[::-1]
    pages = [entry for entry in list(emulator.journal)[before:] if entry.method == "GET"]
    assert len(pages) == 3  # pages of 2, 2 and 1, each fetched by the SDK's own pager


@providers
def test_cancel_ends_the_batch_cancelled(provider: str, connect) -> None:
    emulator = Emulator(lifecycle="manual")
    driver = DRIVERS[provider](connect(emulator))
    batch_id = driver.submit()
    driver.cancel(batch_id)
    emulator.advance(batch_id=batch_id)
    assert driver.status(batch_id) == driver.cancelled


# ---------------------------------------------------------------------------- batch faults

@providers
def test_batch_fault_set_after_create_applies(provider: str, connect) -> None:
    emulator = Emulator(lifecycle="manual")
    driver = DRIVERS[provider](connect(emulator))
    batch_id = driver.submit()
    emulator.faults.batch("expire", batch_id=batch_id, completed_fraction=0.0)
    emulator.advance(batch_id=batch_id)
    assert driver.status(batch_id) == driver.expired


@providers
def test_the_window_expires_a_batch_on_the_clock(provider: str, connect) -> None:
    emulator = Emulator(lifecycle="manual")
    driver = DRIVERS[provider](connect(emulator))
    batch_id = driver.submit()
    emulator.advance(48 * 3600 + 1)  # past OpenAI's and Anthropic's 24 h and Gemini's 48 h
    assert driver.status(batch_id) == driver.expired


@providers
def test_validation_failure_fault(provider: str, connect) -> None:
    emulator = Emulator()
    driver = DRIVERS[provider](connect(emulator))
    emulator.faults.batch("validation_failure")
    assert driver.status(driver.submit()) == driver.failed


# ---------------------------------------------------------------------------- HTTP faults

def _status_and_headers(error: Exception) -> tuple[int, Any]:
    status = getattr(error, "status_code", None) or getattr(error, "code", None)
    return status, error.response.headers  # type: ignore[attr-defined]


@providers
@pytest.mark.parametrize("status", [429, 500, 529])
def test_http_fault_reaches_the_sdk_and_a_retry_gets_through(provider: str, status: int, connect) -> None:
    emulator = Emulator()
    access = connect(emulator)
    emulator.faults.http_error(status, provider=provider)
    with pytest.raises(Exception) as caught:
        DRIVERS[provider](access, retries=False).probe()
    got, headers = _status_and_headers(caught.value)
    assert got == status
    if status == 429:
        assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "1"
    DRIVERS[provider](access).probe()  # the fault answered once; the call passes now
    if provider != "google":  # the Stainless SDKs retry 429 and >= 500 after retry-after-ms
        emulator.faults.http_error(status, provider=provider)
        emulator.journal.clear()
        DRIVERS[provider](access).probe()
        assert [entry.status for entry in emulator.journal] == [status, 200]


@providers
def test_dropped_connection_is_a_connection_error_then_passes(provider: str, connect) -> None:
    emulator = Emulator()
    access = connect(emulator)
    emulator.faults.drop_connection(provider=provider)
    with pytest.raises(CONNECTION_ERRORS):
        DRIVERS[provider](access, retries=False).probe()
    DRIVERS[provider](access).probe()
    assert [entry.fault for entry in emulator.journal] == ["dropped connection", None]


# ---------------------------------------------------------------------------- journal, reset, save

@providers
def test_journal_records_every_call_and_reset_forgets_everything(provider: str, connect) -> None:
    emulator = Emulator()
    driver = DRIVERS[provider](connect(emulator))
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
    batch_id = DRIVERS[provider](Access("in-process", emulator)).submit()
    emulator.save(tmp_path / "state.pickle")
    restored = Emulator.load(tmp_path / "state.pickle")
    driver = DRIVERS[provider](Access("in-process", restored))
    assert driver.status(batch_id) in driver.open_statuses
    restored.advance(batch_id=batch_id)
    assert driver.status(batch_id) == driver.done
    assert driver.answer(batch_id) == "restored answer"
