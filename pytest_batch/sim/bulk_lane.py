"""Bulk work takes turns, so a status poll shares the interpreter with one bulk job, not fifty.

CPython runs one thread at a time (the GIL). A thread that wants it waits out the holder's
switch interval (5 ms), and the handover goes to whichever waiting thread the OS wakes
first, not to the one that waited longest. A poll needs the GIL a few times (when its request
arrives, after the state lock, after its answer is written); with fifty threads parsing,
answering or rendering 1,000-request batches beside it, each of those waits was a lottery
among fifty, and a served poll's p99 was 90-290 ms under bench/bench_concurrency.py's load
though its own work is under 1 ms. With the bulk jobs taking turns, the ones waiting for
their turn sleep on a condition and compete for nothing, and the poll's p99 dropped below
50 ms (BENCHMARKS.md). The total work is the same: the GIL never ran two of them at once.

A bulk job is one batch's parse at create, its answers, the rendering of its ending, or a
chunk of a results download: work that holds no lock but its batch's own (``BatchRecord.lock``
comes before a turn; a turn is never held while waiting for a batch's lock). A job whose turn
has lasted ``overdue`` seconds (a user's responder that blocks, a 100,000-request batch) no
longer holds the others back: they go ahead beside it, as they did before there were turns.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator


class BulkLane:
    """One bulk job at a time (``turn``), reentrant per thread; see the module's docstring."""

    def __init__(self, overdue: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.overdue = overdue
        self._clock = clock
        self._changed = threading.Condition(threading.Lock())
        self._holder: int | None = None  # the thread whose turn it is
        self._since = 0.0  # when its turn began
        self._depth = 0  # its nested turns
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Jobs waiting for their turn now."""
        return self._waiting

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn (or until the current one is overdue), then do the bulk job."""
        me = threading.get_ident()
        with self._changed:
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
                self._depth += 1
        try:
            yield
        finally:
            if owns:
                with self._changed:
                    self._depth -= 1
                    if self._depth == 0:
                        self._holder = None
                        self._changed.notify()

    def chunks(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks`` with each one made in a turn of its own (a streamed download: no turn is held
        while the chunk is written to a slow client)."""
        while True:
            with self.turn():
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk
