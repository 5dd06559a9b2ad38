"""Bulk work takes turns and steps aside for requests, so a served poll is answered in milliseconds
while fifty clients upload, create and download batches of 1,000 requests.

CPython runs one thread at a time (the GIL). A thread that wants it waits out the holder's
switch interval, and the handover goes to whichever waiting thread the OS wakes first, not
to the one that waited longest. A poll needs the GIL a few times (when its request arrives,
for the state lock, to write its answer); with dozens of threads parsing, answering or
rendering batches beside it, each of those waits was a lottery, and a thread that lost it
while holding the state lock held up every other poll behind it. Under
bench/bench_concurrency.py's load a served poll's p99 was 41-125 ms through the SDKs, though
its own work is under 1 ms of CPU; with turns and pacing it is 14-22 ms (BENCHMARKS.md).

- **Turns** (``turn``): one bulk job at a time, in the order they asked (the turn is handed to
  the one that waited longest: a thread that takes turn after turn cannot starve another).
  The others wait on an event each, so they compete for nothing. Bulk work is the emulator's
  own CPU work, which the GIL never ran two at a time anyway; a user's responder, which may
  wait on I/O, answers outside the turns (``BackendBase.answers``).
- **Stepping aside** (``pace``): the job in turn calls ``pace()`` between rows. While a request
  is in flight on the server (``light_call``) and computing its answer (not waiting for a
  batch's work, ``aside``, nor writing a large body to a client), it sleeps for up to ``PACE``
  seconds, at most once every ``PACE`` seconds of its own work, so the request has the GIL at
  once, and bulk work still gets at least half of the time.

A bulk job is a batch's parse at create, its answers, the rendering of its ending, or a chunk
of a results download: work that holds no lock but its batch's own (``BatchRecord.lock`` comes
before a turn; no turn is held while waiting for a batch's lock, and ``pace`` is never called
under the state lock). A job whose turn has lasted ``overdue`` seconds (a 100,000-request
batch, a machine too busy to run it) no longer holds the others back: they go ahead beside it, as
they would without turns; a waiter therefore waits at most ``overdue`` seconds per job ahead
of it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator


class BulkLane:
    """One bulk job at a time, first come first served (``turn``, reentrant per thread), stepping
    aside for requests in flight (``light_call``, ``aside``, ``pace``); see the module's docstring."""

    #: seconds the job in turn steps aside for requests in flight, and seconds of its work between two such pauses
    PACE = 0.002
    #: how long it sleeps at a time while stepping aside
    NAP = 0.0002

    def __init__(self, overdue: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.overdue = overdue
        self._clock, self._sleep = clock, sleep
        self._mutex = threading.Lock()
        self._holder: int | None = None  # the thread whose turn it is
        self._since = 0.0  # when its turn began
        self._depth = 0  # its nested turns
        self._queue: deque[tuple[int, threading.Event]] = deque()  # who waits for a turn, in order
        self._light = 0  # requests in flight that are computing (``light_call`` and not ``aside``)
        self._local = threading.local()  # .light: this thread's request is counted in _light
        self._paced_at = 0.0

    @property
    def waiting(self) -> int:
        """Jobs waiting for their turn now."""
        return len(self._queue)

    @property
    def light(self) -> int:
        """Requests in flight on the server now, computing their answers."""
        return self._light

    # ------------------------------------------------------------------ requests
    @contextlib.contextmanager
    def light_call(self) -> Iterator[None]:
        """A request in flight on the server: the job in turn steps aside for it (``pace``)."""
        self._count(True)
        try:
            yield
        finally:
            if self._local.light:
                self._count(False)

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """This thread's request is not computing for a while (it waits for a batch's work, does
        bulk work in a turn, or writes a large body): the job in turn need not step aside for it."""
        light = getattr(self._local, "light", False)
        if light:
            self._count(False)
        try:
            yield
        finally:
            if light:
                self._count(True)

    def _count(self, light: bool) -> None:
        """Count this thread's request among those computing (``light``), or no longer."""
        self._local.light = light
        with self._mutex:
            self._light += 1 if light else -1

    # ------------------------------------------------------------------ turns
    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn (or until the job in turn is overdue), then do the bulk job.
        A request that takes a turn is set aside meanwhile: the job does not wait for itself."""
        with self.aside():
            owns = self._take()
            try:
                yield
            finally:
                if owns:
                    self._give_back()

    def _take(self) -> bool:
        """Wait for the turn; whether this thread has it (False: it goes ahead beside an overdue one)."""
        me = threading.get_ident()
        with self._mutex:
            if self._holder == me:
                self._depth += 1
                return True
            if self._holder is None and not self._queue:
                self._begin(me)
                return True
            handed = threading.Event()
            place = (me, handed)
            self._queue.append(place)
        while True:
            with self._mutex:
                if self._holder == me:  # handed over by the job before (``_give_back``)
                    return True
                left = self._since + self.overdue - self._clock()
                if left <= 0:  # the job in turn is slow or stuck: go ahead beside it, without a turn
                    self._queue.remove(place)
                    return False
            handed.wait(left)

    def _give_back(self) -> None:
        """End this thread's (outermost) turn and hand it to the job that has waited longest."""
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            self._holder = None
            if self._queue:
                thread, handed = self._queue.popleft()
                self._begin(thread)
                handed.set()

    def _begin(self, thread: int) -> None:
        """Give ``thread`` the turn, from now (under the mutex)."""
        self._holder, self._since, self._depth = thread, self._clock(), 1
        self._paced_at = self._since

    def pace(self) -> None:
        """Called by the job in turn between rows (never under the state lock): while requests are
        computing, step aside for up to ``PACE`` seconds, if it has worked ``PACE`` seconds since it
        last did. Cheap when there is nothing to do: one comparison."""
        if not self._light or self._holder != threading.get_ident():
            return
        now = self._clock()
        if now - self._paced_at < self.PACE:
            return
        until = now + self.PACE
        while self._light and now < until:
            self._sleep(self.NAP)
            now = self._clock()
        self._paced_at = now

    def chunks(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks`` with each one made in a turn of its own (a streamed download: no turn is held
        while the chunk is written to a slow client)."""
        while True:
            with self.turn():
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk
