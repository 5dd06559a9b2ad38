"""Many clients on one emulator server at once: a call never waits behind another client's slow
work (a big upload, a batch being validated, answered or rendered), two polls of one batch do
its work once, and no result is lost or crossed between batches."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import openai
import pytest
from google import genai

from pytest_batch.sim import Emulator, gc_pause
from pytest_batch.sim.backends.openai import OpenAIBackend
from pytest_batch.sim.clock import DEFAULT_EPOCH, Clock
from pytest_batch.sim.routes import openai as openai_routes
from pytest_batch.sim.server import ServerHandle, start_server

#: a call that does not come back within this many seconds is stuck behind the held one
STUCK = 10
GEMINI = "gemini-2.5-flash-lite"
CLAUDE = "claude-haiku-4-5"


def openai_lines(custom_ids: list[str]) -> bytes:
    return "".join(json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": "gpt-4o-mini",
                                        "messages": [{"role": "user", "content": f"Who is {custom_id}?"}]}}) + "\n"
                   for custom_id in custom_ids).encode()


def anthropic_requests(custom_ids: list[str]) -> list[dict[str, Any]]:
    return [{"custom_id": custom_id, "params": {"model": CLAUDE, "max_tokens": 50,
                                                "messages": [{"role": "user", "content": f"Who is {custom_id}?"}]}}
            for custom_id in custom_ids]


def gemini_lines(keys: list[str]) -> bytes:
    return "".join(json.dumps({"key": key, "request": {"contents": [{"role": "user",
                                                                     "parts": [{"text": f"Who is {key}?"}]}]}}) + "\n"
                   for key in keys).encode()


def names_itself(custom_id: str, text: str) -> bool:
    """A plain-text request's simulated answer names its custom_id: a row never carries another's answer."""
    return f"({custom_id})" in text


def openai_answers(client: openai.OpenAI, custom_ids: list[str], *, wait: Callable[[], None] = lambda: None
                   ) -> dict[str, str]:
    """custom_id -> answer text of one OpenAI batch: upload, create, poll until it ends, download."""
    upload = client.files.create(file=("in.jsonl", openai_lines(custom_ids)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        wait()
        batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed", batch
    rows = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    return {row["custom_id"]: row["response"]["body"]["choices"][0]["message"]["content"] for row in rows}


def anthropic_answers(client: anthropic.Anthropic, custom_ids: list[str]) -> dict[str, str]:
    batch = client.messages.batches.create(requests=anthropic_requests(custom_ids))
    while batch.processing_status != "ended":
        batch = client.messages.batches.retrieve(batch.id)
    return {row.custom_id: row.result.message.content[0].text for row in client.messages.batches.results(batch.id)}


def gemini_answers(client: genai.Client, keys: list[str]) -> dict[str, str]:
    uploaded = client.files.upload(file=io.BytesIO(gemini_lines(keys)), config={"mime_type": "jsonl"})
    job = client.batches.create(model=GEMINI, src=uploaded.name)
    while not job.done:
        job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED", job
    rows = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    return {row["key"]: row["response"]["candidates"][0]["content"]["parts"][0]["text"] for row in rows}


def assert_each_answered_once(custom_ids: list[str], answers: dict[str, str], rows: int | None = None) -> None:
    assert sorted(answers) == sorted(custom_ids)
    if rows is not None:
        assert rows == len(custom_ids)
    crossed = [custom_id for custom_id, text in answers.items() if not names_itself(custom_id, text)]
    assert crossed == []


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with start_server(Emulator(lifecycle="polls:2")) as handle:
        yield handle


def clients(server: ServerHandle) -> tuple[openai.OpenAI, anthropic.Anthropic, genai.Client]:
    """SDK clients that give up on a stuck call instead of retrying it."""
    urls = server.base_urls
    return (openai.OpenAI(base_url=urls["openai"], api_key="local", max_retries=0, timeout=STUCK),
            anthropic.Anthropic(base_url=urls["anthropic"], api_key="local", max_retries=0, timeout=STUCK),
            genai.Client(api_key="local", http_options={"base_url": urls["google"], "timeout": STUCK * 1000,
                                                        "retry_options": {"attempts": 1}}))


# ---------------------------------------------------------------------------- one client's slow work

class Hold:
    """Holds one client's slow step (selected by its ``held-`` custom_ids) until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def wrap(self, original: Callable[..., Any], is_held: Callable[..., bool]) -> Callable[..., Any]:
        def held(*args: Any, **kwargs: Any) -> Any:
            if is_held(*args, **kwargs):
                self.entered.set()
                assert self.release.wait(STUCK * 3), "the test never released the held step"
            return original(*args, **kwargs)

        return held


def hold_upload(hold: Hold, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload's multipart body is being parsed."""
    monkeypatch.setattr(openai_routes, "parse_multipart",
                        hold.wrap(openai_routes.parse_multipart, lambda request: b"held-" in request.body))


def hold_validation(hold: Hold, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch's input file is being parsed and validated."""
    monkeypatch.setattr(OpenAIBackend, "_items",
                        hold.wrap(OpenAIBackend._items, lambda self, endpoint, source: b"held-" in source.content))


def hold_answers(hold: Hold, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch's requests are being answered (by a slow responder of the user's)."""
    emulator.respond_with(hold.wrap(lambda item: None, lambda item: item.custom_id.startswith("held-")))


def hold_rendering(hold: Hold, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch's output file is being rendered as it ends."""
    monkeypatch.setattr(OpenAIBackend, "_render_ending", hold.wrap(
        OpenAIBackend._render_ending, lambda self, record, *rest: record.items[0].custom_id.startswith("held-")))


@pytest.mark.parametrize("hold_step", [hold_upload, hold_validation, hold_answers, hold_rendering],
                         ids=lambda step: step.__name__.removeprefix("hold_"))
def test_every_other_call_is_answered_while_one_client_s_batch_is_held(server, monkeypatch, hold_step) -> None:
    hold = Hold()
    hold_step(hold, server.emulator, monkeypatch)
    openai_client, anthropic_client, gemini_client = clients(server)
    held_ids = [f"held-{i}" for i in range(30)]
    with ThreadPoolExecutor(1) as pool:
        held_batch = pool.submit(openai_answers, openai_client, held_ids)
        try:
            assert hold.entered.wait(STUCK), held_batch.exception(timeout=0) if held_batch.done() else "not held"
            # Meanwhile every other client's calls are answered: a whole batch on each provider,
            # and lists that show the held batch (once it exists) as still running.
            free = [f"free-{i}" for i in range(5)]
            assert_each_answered_once(free, openai_answers(openai_client, free))
            assert_each_answered_once(free, anthropic_answers(anthropic_client, free))
            assert_each_answered_once(free, gemini_answers(gemini_client, free))
            listed = {batch.id: batch.status for batch in openai_client.batches.list()}
            assert list(listed.values()).count("completed") == 1
            assert set(listed.values()) <= {"completed", "validating", "in_progress", "finalizing"}
            assert not held_batch.done()
        finally:
            hold.release.set()
        assert_each_answered_once(held_ids, held_batch.result(timeout=STUCK))


def test_two_polls_of_one_batch_answer_it_once() -> None:
    """The second poll waits for the first one's work on the batch instead of doing it again."""
    emulator = Emulator(lifecycle="immediate")
    answered: dict[str, int] = {}
    hold = Hold()

    def count(item: Any) -> None:
        answered[item.custom_id] = answered.get(item.custom_id, 0) + 1

    emulator.respond_with(hold.wrap(count, lambda item: item.index == 0))
    client = emulator.openai_client()
    upload = client.files.create(file=("in.jsonl", openai_lines(["a", "b", "c"])), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    record = emulator.openai.batches[batch.id]
    second_waits = threading.Event()
    record.lock = _Observed(record.lock, on_second_waiter=second_waits.set)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.batches.retrieve, batch.id)
        try:
            assert hold.entered.wait(STUCK)
            second = pool.submit(client.batches.retrieve, batch.id)
            assert second_waits.wait(STUCK)
        finally:
            hold.release.set()
        polls = [first.result(timeout=STUCK), second.result(timeout=STUCK)]
    assert answered == {"a": 1, "b": 1, "c": 1}
    assert [poll.status for poll in polls] == ["completed", "completed"]
    assert polls[0].output_file_id == polls[1].output_file_id is not None


class _Observed:
    """A batch's lock that says when a second caller arrives while a first one holds it."""

    def __init__(self, lock: Any, on_second_waiter: Callable[[], None]) -> None:
        self._lock, self._on_second = lock, on_second_waiter
        self._inside = 0  # callers holding or waiting for the lock
        self._count = threading.Lock()

    def __enter__(self) -> Any:
        with self._count:
            self._inside += 1
            if self._inside == 2:
                self._on_second()
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)
        with self._count:
            self._inside -= 1

    def locked(self) -> bool:
        return self._lock.locked()


# ---------------------------------------------------------------------------- many clients

def test_many_clients_at_once_lose_and_cross_no_result(server) -> None:
    """Sync threads and asyncio clients on all three providers, started together: every
    custom_id comes back exactly once, in its own batch, with its own answer."""
    urls = server.base_urls
    start = threading.Barrier(10)

    def sync_client(number: int) -> tuple[list[str], dict[str, str]]:
        openai_client, anthropic_client, gemini_client = clients(server)
        custom_ids = [f"t{number}-r{i}" for i in range(20 + 7 * number)]
        start.wait(STUCK)
        provider = number % 3
        if provider == 0:
            return custom_ids, openai_answers(openai_client, custom_ids)
        if provider == 1:
            return custom_ids, anthropic_answers(anthropic_client, custom_ids)
        return custom_ids, gemini_answers(gemini_client, custom_ids)

    async def async_clients() -> list[tuple[list[str], dict[str, str]]]:
        start.wait(STUCK)  # the event loop's thread is the tenth to start
        aio_openai = openai.AsyncOpenAI(base_url=urls["openai"], api_key="local", max_retries=0, timeout=STUCK)
        aio_anthropic = anthropic.AsyncAnthropic(base_url=urls["anthropic"], api_key="local", max_retries=0,
                                                 timeout=STUCK)
        aio_gemini = genai.Client(api_key="local", http_options={"base_url": urls["google"]}).aio

        async def one_openai(custom_ids: list[str]) -> dict[str, str]:
            upload = await aio_openai.files.create(file=("in.jsonl", openai_lines(custom_ids)), purpose="batch")
            batch = await aio_openai.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                    completion_window="24h")
            while batch.status != "completed":
                batch = await aio_openai.batches.retrieve(batch.id)
            content = await aio_openai.files.content(batch.output_file_id)
            rows = [json.loads(line) for line in content.text.splitlines()]
            return {row["custom_id"]: row["response"]["body"]["choices"][0]["message"]["content"] for row in rows}

        async def one_anthropic(custom_ids: list[str]) -> dict[str, str]:
            batch = await aio_anthropic.messages.batches.create(requests=anthropic_requests(custom_ids))
            while batch.processing_status != "ended":
                batch = await aio_anthropic.messages.batches.retrieve(batch.id)
            return {row.custom_id: row.result.message.content[0].text
                    async for row in await aio_anthropic.messages.batches.results(batch.id)}

        async def one_gemini(keys: list[str]) -> dict[str, str]:
            src = [{"contents": f"Who is {key}?", "metadata": {"key": key}} for key in keys]
            job = await aio_gemini.batches.create(model=GEMINI, src=src)
            while not job.done:
                job = await aio_gemini.batches.get(name=job.name)
            return {r.metadata["key"]: r.response.text for r in job.dest.inlined_responses}

        batches = [[f"a{provider}-r{i}" for i in range(25 + 5 * provider)] for provider in range(3)]
        answers = await asyncio.gather(one_openai(batches[0]), one_anthropic(batches[1]), one_gemini(batches[2]))
        return list(zip(batches, answers, strict=True))

    with ThreadPoolExecutor(10) as pool:
        threads = [pool.submit(sync_client, number) for number in range(9)]
        in_loop = pool.submit(asyncio.run, async_clients())
        results = [future.result(timeout=STUCK * 6) for future in threads] + in_loop.result(timeout=STUCK * 6)
    assert len(results) == 12
    for custom_ids, answers in results:
        assert_each_answered_once(custom_ids, answers)
    every_id = [custom_id for custom_ids, _ in results for custom_id in custom_ids]
    assert len(every_id) == len(set(every_id))


# ---------------------------------------------------------------------------- a served batch's work in the background

class MovingClock(Clock):
    """A clock that moves by itself, as a served emulator's wall clock does, but to where the test puts it."""

    def __init__(self) -> None:
        self.at = DEFAULT_EPOCH

    def now(self) -> float:
        return self.at + self._offset  # advance() moves the offset, as on the wall clock


def background_done(emulator: Emulator, batch_id: str) -> None:
    """Wait until no background thread works on the batch ``batch_id`` (an id or Gemini name)."""
    bare = batch_id.rpartition("/")[2]
    record = next(backend.batches[bare] for backend in (emulator.openai, emulator.anthropic, emulator.google)
                  if bare in backend.batches)
    settled = threading.Event()
    for _ in range(STUCK * 100):
        if not record.in_background:
            return
        settled.wait(0.01)
    raise AssertionError(f"the background work of {batch_id} never finished")


class Served:
    """One provider's batch through its SDK on a served ``seconds:10`` emulator: create it, read its
    status, and read its answers once it ended."""

    def __init__(self, provider: str, server: ServerHandle) -> None:
        self.provider = provider
        self.openai, self.anthropic, self.gemini = clients(server)

    def create(self, custom_ids: list[str]) -> str:
        if self.provider == "openai":
            upload = self.openai.files.create(file=("in.jsonl", openai_lines(custom_ids)), purpose="batch")
            return self.openai.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                              completion_window="24h").id
        if self.provider == "anthropic":
            return self.anthropic.messages.batches.create(requests=anthropic_requests(custom_ids)).id
        src = [{"contents": f"Who is {key}?", "metadata": {"key": key}} for key in custom_ids]
        return self.gemini.batches.create(model=GEMINI, src=src).name

    def status(self, batch_id: str) -> tuple[str, bool]:
        """The status the SDK shows, and whether the batch ended."""
        if self.provider == "openai":
            status = self.openai.batches.retrieve(batch_id).status
            return status, status in ("completed", "failed", "expired", "cancelled")
        if self.provider == "anthropic":
            status = self.anthropic.messages.batches.retrieve(batch_id).processing_status
            return status, status == "ended"
        job = self.gemini.batches.get(name=batch_id)
        return job.state.name, bool(job.done)

    def answers(self, batch_id: str) -> dict[str, str]:
        if self.provider == "openai":
            batch = self.openai.batches.retrieve(batch_id)
            rows = [json.loads(line) for line in self.openai.files.content(batch.output_file_id).text.splitlines()]
            return {row["custom_id"]: row["response"]["body"]["choices"][0]["message"]["content"] for row in rows}
        if self.provider == "anthropic":
            return {row.custom_id: row.result.message.content[0].text
                    for row in self.anthropic.messages.batches.results(batch_id)}
        job = self.gemini.batches.get(name=batch_id)
        return {r.metadata["key"]: r.response.text for r in job.dest.inlined_responses}


#: what each provider's batch may honestly report while its results are still being made
STANDING = {"openai": {"validating", "in_progress", "finalizing"}, "anthropic": {"in_progress"},
            "google": {"JOB_STATE_PENDING", "JOB_STATE_RUNNING"}}


@pytest.fixture
def moving() -> Iterator[tuple[ServerHandle, MovingClock]]:
    clock = MovingClock()
    with start_server(Emulator(lifecycle="seconds:10", clock=clock)) as handle:
        yield handle, clock


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_a_served_batch_s_status_is_answered_while_its_own_answers_are_held(moving, provider) -> None:
    """On a served ``seconds:S`` batch, the poll that finds it due hands its slow work (a user's
    responder here, held on an event) to the background and answers at once with the batch as it
    stands; once the work is done the batch has ended, every request answered once."""
    server, clock = moving
    hold = Hold()
    answered: dict[str, int] = {}

    def count(item: Any) -> None:
        answered[item.custom_id] = answered.get(item.custom_id, 0) + 1

    server.emulator.respond_with(hold.wrap(count, lambda item: item.custom_id == "held-0"))
    sdk = Served(provider, server)
    held_ids = [f"held-{i}" for i in range(6)]
    batch_id = sdk.create(held_ids)
    clock.at += 60  # long past its 10 s
    try:
        status, ended = sdk.status(batch_id)
        assert hold.entered.wait(STUCK), "the batch's work never started"
        # the work is held: every poll answers with the batch as it stands, and starts it no second time
        for _ in range(3):
            status, ended = sdk.status(batch_id)
            assert not ended and status in STANDING[provider]
    finally:
        hold.release.set()
    background_done(server.emulator, batch_id)
    assert sdk.status(batch_id)[1]
    assert_each_answered_once(held_ids, sdk.answers(batch_id))
    assert answered == dict.fromkeys(held_ids, 1)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_a_responder_that_raises_in_the_background_fails_its_own_request_never_the_poll(moving, provider) -> None:
    """What a user's responder raised while the batch's work ran in the background fails that one
    request (test_hostile checks the row names the error): the next poll shows the batch ended,
    not a 500, and no request is answered twice."""
    server, clock = moving
    calls = []

    def flaky(item: Any) -> None:
        calls.append(item.custom_id)
        if len(calls) == 1:
            raise RuntimeError("the responder broke")

    server.emulator.respond_with(flaky)
    sdk = Served(provider, server)
    custom_ids = [f"r-{i}" for i in range(3)]
    batch_id = sdk.create(custom_ids)
    clock.at += 60
    assert not sdk.status(batch_id)[1]
    background_done(server.emulator, batch_id)
    assert sdk.status(batch_id)[1]
    assert sorted(calls) == custom_ids


def test_after_an_explicit_advance_a_served_poll_waits_for_the_batch_s_work(moving) -> None:
    """``advance`` says where the batches are: the next poll shows them there, not standing."""
    server, clock = moving
    sdk = Served("openai", server)
    batch_id = sdk.create(["a", "b"])
    server.emulator.advance(60)
    assert sdk.status(batch_id) == ("completed", True)


def test_a_batch_saved_while_its_work_runs_in_the_background_finishes_after_load(moving, tmp_path) -> None:
    server, clock = moving
    hold = Hold()
    server.emulator.respond_with(hold.wrap(lambda item: None, lambda item: True))
    sdk = Served("anthropic", server)
    batch_id = sdk.create(["x", "y"])
    clock.at += 60
    try:
        assert sdk.status(batch_id) == ("in_progress", False)
        assert hold.entered.wait(STUCK)
        server.emulator.save(tmp_path / "state.pickle")
    finally:
        hold.release.set()
    background_done(server.emulator, batch_id)
    loaded = Emulator.load(tmp_path / "state.pickle")
    assert not loaded.anthropic.batches[batch_id].in_background
    batch = loaded.anthropic_client().messages.batches.retrieve(batch_id)
    assert batch.processing_status == "ended" and batch.request_counts.succeeded == 2


def test_a_serving_process_keeps_batches_out_of_the_collector_until_a_reset(monkeypatch) -> None:
    """``pytest-batch serve`` freezes what a batch's calls leave alive (its requests, answers and
    results) when the last call ends, so no collection stops the server to rescan them; a reset
    hands them back to the collector."""
    monkeypatch.setattr(gc_pause, "_gc_pause", {"calls": 0, "was_enabled": gc.isenabled(), "freeze": False,
                                                "frozen": False})
    emulator = Emulator()
    try:
        gc_pause.freeze_what_paused_calls_leave()
        assert_each_answered_once(["a", "b"], openai_answers(emulator.openai_client(), ["a", "b"]))
        assert gc.get_freeze_count() > 0
        emulator.reset()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
