"""Bulk work takes turns and steps aside for requests (pytest_batch/sim/bulk_lane.py): a batch's
parse, answers, ending and results chunks run one at a time and pause while a request is in
flight on the server, so a poll has the interpreter almost to itself; a job that has had its
turn too long (a user's responder that blocks) holds nobody back."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ContextManager

import openai
import pytest

from pytest_batch.sim import Emulator
from pytest_batch.sim.backends.openai import OpenAIBackend
from pytest_batch.sim.bulk_lane import BulkLane
from pytest_batch.sim.server import start_server

from ..cli.conftest import FakeClock
from .test_concurrency import assert_each_answered_once, openai_answers, openai_lines

STUCK = 10


def eventually(condition: Callable[[], bool]) -> None:
    """Wait (up to STUCK seconds) for another thread to reach a state; fail if it never does."""
    deadline = time.monotonic() + STUCK
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


class Inside:
    """Another thread inside ``context()`` (a bulk job in its turn, a request in flight) until it leaves."""

    def __init__(self, context: Callable[[], ContextManager[None]]) -> None:
        self.entered, self.leave = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(context,))
        self.thread.start()
        assert self.entered.wait(STUCK)

    def _run(self, context: Callable[[], ContextManager[None]]) -> None:
        with context():
            self.entered.set()
            self.leave.wait(STUCK)

    def finish(self) -> None:
        self.leave.set()
        self.thread.join(STUCK)


def test_a_bulk_job_waits_for_the_one_in_turn() -> None:
    lane = BulkLane(overdue=STUCK)
    held = Inside(lane.turn)
    order: list[str] = []

    def second() -> None:
        with lane.turn():
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    try:
        eventually(lambda: lane.waiting == 1)
        assert order == []
        order.append("first done")
    finally:
        held.finish()
    thread.join(STUCK)
    assert order == ["first done", "second"]
    assert lane.waiting == 0


def test_the_turn_goes_to_the_job_that_waited_longest() -> None:
    """A thread that asks again right after its turn queues behind the one already waiting: a
    stream of short turns cannot starve a waiter."""
    lane = BulkLane(overdue=STUCK)
    entered, again = threading.Event(), threading.Event()
    order: list[str] = []

    def twice() -> None:
        with lane.turn():
            entered.set()
            assert again.wait(STUCK)
        with lane.turn():
            order.append("the same thread again")

    def waiter() -> None:
        with lane.turn():
            order.append("the one waiting")

    first = threading.Thread(target=twice)
    first.start()
    assert entered.wait(STUCK)
    second = threading.Thread(target=waiter)
    second.start()
    eventually(lambda: lane.waiting == 1)
    again.set()
    first.join(STUCK)
    second.join(STUCK)
    assert order == ["the one waiting", "the same thread again"]


def test_a_job_whose_turn_is_overdue_holds_nobody_back() -> None:
    now = [100.0]
    lane = BulkLane(overdue=0.5, clock=lambda: now[0])
    held = Inside(lane.turn)
    try:
        now[0] += 0.6  # the job in turn has had it for longer than overdue: a user's responder that blocks
        with lane.turn():  # goes ahead beside it at once
            pass
        assert lane.waiting == 0
    finally:
        held.finish()
    with lane.turn():  # and the lane is free again once the slow job is done
        pass


def test_a_thread_s_nested_turns_never_wait_for_itself() -> None:
    lane = BulkLane(overdue=STUCK)
    with lane.turn(), lane.turn():
        pass
    held = Inside(lane.turn)  # the lane is free after both
    held.finish()


def test_a_streamed_download_holds_a_turn_only_while_a_chunk_is_made() -> None:
    lane = BulkLane(overdue=STUCK)
    made: list[bool] = []

    def rows() -> Iterator[bytes]:
        for index in range(3):
            made.append(lane.waiting == 0)
            yield b"row %d\n" % index

    chunks = lane.chunks(rows())
    assert next(chunks) == b"row 0\n"
    held = Inside(lane.turn)  # while the chunk is written, another job has its turn at once
    finished = threading.Thread(target=lambda: list(chunks))
    finished.start()
    eventually(lambda: lane.waiting == 1)  # the next chunk waits for that turn
    held.finish()
    finished.join(STUCK)
    assert len(made) == 3


def test_the_job_in_turn_steps_aside_while_a_request_is_in_flight() -> None:
    fake = FakeClock()
    lane = BulkLane(clock=fake, sleep=fake.sleep)
    request = Inside(lane.light_call)
    try:
        with lane.turn():
            lane.pace()
            assert fake.sleeps == []  # it has not worked PACE seconds yet
            fake.now += 0.003  # three milliseconds of rows
            lane.pace()
            # the job naps for PACE seconds: the request has the GIL meanwhile
            assert sum(fake.sleeps) == pytest.approx(lane.PACE, abs=lane.NAP * 1.01)
            fake.sleeps.clear()
            lane.pace()
            assert fake.sleeps == []  # and then the job works at least PACE seconds before the next pause
    finally:
        request.finish()
    with lane.turn():
        fake.now += 0.003
        lane.pace()
    assert fake.sleeps == []  # nothing in flight: nothing to step aside for


def test_a_request_doing_bulk_work_in_its_own_turn_never_waits_for_itself() -> None:
    fake = FakeClock()
    lane = BulkLane(clock=fake, sleep=fake.sleep)
    with lane.light_call():
        assert lane.light == 1
        with lane.turn():
            assert lane.light == 0
            fake.now += 0.003
            lane.pace()
        assert lane.light == 1
    assert lane.light == 0 and fake.sleeps == []


def test_a_request_waiting_for_its_batch_s_work_is_set_aside(monkeypatch) -> None:
    """A second poll of a batch whose results another poll is rendering waits for that work: the job
    in turn does not step aside for it (it would only slow down what the poll waits for)."""
    emulator = Emulator(lifecycle="immediate")
    lane = emulator.bulk_lane
    entered, release = threading.Event(), threading.Event()
    render = OpenAIBackend._render_ending

    def held(self: OpenAIBackend, *args: Any) -> Any:
        entered.set()
        assert release.wait(STUCK)
        return render(self, *args)

    monkeypatch.setattr(OpenAIBackend, "_render_ending", held)
    client = emulator.openai_client(max_retries=0)
    upload = client.files.create(file=("in.jsonl", openai_lines(["a"])), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")

    def served_poll() -> Any:  # as the server counts a request (server.py _dispatch)
        with lane.light_call():
            return client.batches.retrieve(batch.id)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(served_poll)
        assert entered.wait(STUCK)
        second = pool.submit(served_poll)
        try:
            eventually(lambda: second.running() and lane.light == 0)
        finally:
            release.set()
        assert first.result(STUCK).status == second.result(STUCK).status == "completed"
    assert lane.light == 0


def test_a_download_the_client_does_not_read_is_not_counted_in_flight() -> None:
    """The server writes a large body outside the request's light call: a client that stops reading
    does not keep the bulk job stepping aside."""
    emulator = Emulator()
    served = start_server(emulator, port=0)
    try:
        client = openai.OpenAI(base_url=served.base_urls["openai"], api_key="local", max_retries=0)
        upload = client.files.create(file=("big.jsonl", openai_lines([f"r{i}" for i in range(40_000)])),
                                     purpose="batch")
        host, port = served.server.server_address[:2]
        with socket.socket() as unread:
            unread.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the body fills the buffers: the write waits
            unread.settimeout(STUCK)
            unread.connect((host, port))
            unread.sendall(f"GET /openai/v1/files/{upload.id}/content HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Authorization: Bearer local\r\n\r\n".encode())
            eventually(lambda: emulator.journal.calls(method="GET", path_contains="/content") != []
                       and emulator.bulk_lane.light == 0)
    finally:
        served.stop()


def test_the_server_counts_each_request_in_flight() -> None:
    emulator = Emulator()
    seen: list[int] = []
    handle = emulator.handle

    def counted(request: Any) -> Any:
        seen.append(emulator.bulk_lane.light)
        return handle(request)

    emulator.handle = counted  # type: ignore[method-assign]
    served = start_server(emulator, port=0)
    try:
        client = openai.OpenAI(base_url=served.base_urls["openai"], api_key="local", max_retries=0)
        assert client.batches.list().data == []
    finally:
        served.stop()
    assert seen == [1] and emulator.bulk_lane.light == 0


def test_a_second_batch_s_ending_waits_while_the_first_one_s_is_rendered(monkeypatch) -> None:
    """Through the SDK: the first batch's results are being rendered in its turn (held here); the
    second batch, created and polled meanwhile, waits for its own turn, and both come back whole."""
    emulator = Emulator(lifecycle="immediate")
    emulator.bulk_lane.overdue = STUCK
    entered, release = threading.Event(), threading.Event()
    rendered: list[str] = []
    render = OpenAIBackend._render_ending

    def held(self: OpenAIBackend, record: Any, *rest: Any) -> Any:
        first = record.items[0].custom_id
        if first == "first-0":
            entered.set()
            assert release.wait(STUCK)
        rendered.append(first)
        return render(self, record, *rest)

    monkeypatch.setattr(OpenAIBackend, "_render_ending", held)
    client = emulator.openai_client(max_retries=0)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(openai_answers, client, ["first-0", "first-1"])
        assert entered.wait(STUCK)
        second = pool.submit(openai_answers, client, ["second-0", "second-1"])
        try:
            eventually(lambda: emulator.bulk_lane.waiting == 1)
            assert rendered == []
        finally:
            release.set()
        assert_each_answered_once(["first-0", "first-1"], first.result(STUCK))
        assert_each_answered_once(["second-0", "second-1"], second.result(STUCK))
    assert rendered == ["first-0", "second-0"]


def test_your_callables_answer_two_batches_at_once() -> None:
    """A respond_with callable may wait on I/O (a local model, a socket): the batches it answers
    are answered outside the turns, side by side, as before there were turns. Here each batch's
    first request waits for the other batch's: answered one batch at a time, they never meet."""
    emulator = Emulator(lifecycle="immediate")
    emulator.bulk_lane.overdue = STUCK
    both = threading.Barrier(2, timeout=STUCK / 2)  # sooner than a turn is overdue
    met: list[str] = []

    def meet_the_other_batch(item: Any) -> None:
        if item.index == 0:
            both.wait()
            met.append(item.custom_id)

    emulator.respond_with(meet_the_other_batch)
    client = emulator.openai_client(max_retries=0)
    with ThreadPoolExecutor(2) as pool:
        batches = [pool.submit(openai_answers, client, [f"{name}-0", f"{name}-1"]) for name in ("a", "b")]
        assert_each_answered_once(["a-0", "a-1"], batches[0].result(STUCK * 2))
        assert_each_answered_once(["b-0", "b-1"], batches[1].result(STUCK * 2))
    assert sorted(met) == ["a-0", "b-0"]


def test_a_serving_process_hands_the_gil_over_within_a_millisecond(monkeypatch) -> None:
    """``pytest-batch serve`` shortens the interpreter's switch interval (server.py SWITCH_INTERVAL):
    a poll waits at most that long for the bulk job in turn to hand the GIL over."""
    from pytest_batch.sim import server

    intervals: list[float] = []
    monkeypatch.setattr(server.sys, "setswitchinterval", intervals.append)
    monkeypatch.setattr(server, "freeze_what_paused_calls_leave", lambda: None)  # not in this test process
    monkeypatch.setattr(server, "start_server", _refuse)
    assert server.main(["--port", "0"]) == 2
    assert intervals == [server.SWITCH_INTERVAL] == [0.001]


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise OSError("not started by this test")
