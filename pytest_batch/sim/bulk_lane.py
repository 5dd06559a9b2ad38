"""Bulk work takes turns and steps aside for requests, so a served poll is answered in milliseconds
while fifty clients upload, create and download batches of 1,000 requests.

CPython runs one thread at a time (the GIL). A thread that wants it waits out the holder's
switch interval, and the handover goes to whichever waiting thread the OS wakes first, not
to the one that waited longest. A poll needs the GIL a few times (when its request arrives,
for the state lock, to write its answer); with dozens of threads parsing, answering or
rendering batches beside it, each of those waits was a lottery, and a thread that lost it
while holding the state lock held up every other poll behind it. Under
bench/bench_concurrency.py's load a served poll's p99 was 37-114 ms through the SDKs, though
its own work is under 1 ms of CPU; with turns and pacing it is 15-21 ms (BENCHMARKS.md).

- **Turns** (``turn``): one bulk job at a time. The others wait on a condition, so they compete
  for nothing. The total work is the same: the GIL never ran two of them at once anyway.
- **Stepping aside** (``pace``): the job in turn calls ``pace()`` between rows. While a request
  is in flight on the server (``light_call``, outside any turn of its own), it sleeps for up
  to ``PACE`` seconds, at most once every ``PACE`` seconds of its own work, so the request has
  the GIL at once, and bulk work still gets at least half of the time.

A bulk job is a batch's parse at create, its answers, the rendering of its ending, or a chunk
of a results download: work that holds no lock but its batch's own (``BatchRecord.lock`` comes
before a turn; no turn is held while waiting for a batch's lock, and ``pace`` is never called
under the state lock). A job whose turn has lasted ``overdue`` seconds (a user's responder that
blocks, a 100,000-request batch) no longer holds the others back: they go ahead beside it, as
they would without turns.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator


class BulkLane:
    """One bulk job at a time (``turn``, reentrant per thread), stepping aside for requests in
    flight (``light_call``, ``pace``); see the module's docstring."""

    #: seconds the job in turn steps aside for requests in flight, and seconds of its work between two such pauses
    PACE = 0.002
    #: how long it sleeps at a time while stepping aside
    NAP = 0.0002

    def __init__(self, overdue: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.overdue = overdue
        self._clock, self._sleep = clock, sleep
        self._changed = threading.Condition(threading.Lock())
        self._holder: int | None = None  # the thread whose turn it is
        self._since = 0.0  # when its turn began
        self._depth = 0  # its nested turns
        self._waiting = 0
        self._light = 0  # requests in flight outside any turn
        self._local = threading.local()  # .light: this thread's request is counted in _light
        self._paced_at = 0.0

    @property
    def waiting(self) -> int:
        """Jobs waiting for their turn now."""
        return self._waiting

    @property
    def light(self) -> int:
        """Requests in flight on the server now, outside any turn."""
        return self._light

    @contextlib.contextmanager
    def light_call(self) -> Iterator[None]:
        """A request in flight on the server: the job in turn steps aside for it (``pace``) while
        it runs outside any turn."""
        with self._changed:
            self._light += 1
        self._local.light = True
        try:
            yield
        finally:
            self._local.light = False
            with self._changed:
                self._light -= 1

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn (or until the current one is overdue), then do the bulk job.
        A request that takes a turn is not a light call meanwhile: the job does not wait for itself."""
        me = threading.get_ident()
        light = getattr(self._local, "light", False)
        with self._changed:
            if light:
                self._light -= 1
                self._local.light = False
            while self._holder not in (None, me):
                left = self._since + self.overdue - self._clock()
                if left <= 0:  # the job in turn is slow or stuck: go ahead beside it, without a turn
                    break
                self._waiting += 1
                try:
                    self._changed.wait(left)
                finally:
                    self._waiting -= 1
            owns = self._holder in (None, me)
            if owns:
                if self._holder is None:
                    self._holder, self._since = me, self._clock()
                    self._paced_at = self._since
                self._depth += 1
        try:
            yield
        finally:
            with self._changed:
                if owns:
                    self._depth -= 1
                    if self._depth == 0:
                        self._holder = None
                        self._changed.notify()
                if light:
                    self._light += 1
                    self._local.light = True

    def pace(self) -> None:
        """Called by the job in turn between rows (never under the state lock): while requests are
        in flight, step aside for up to ``PACE`` seconds, if it has worked ``PACE`` seconds since it
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
