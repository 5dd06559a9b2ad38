"""Helpers of the processors' long operations: waiting with backoff, tolerating hiccups, reporting
which part of a split job failed, the progress bar."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import (
    BatchProcessorError,
    BatchTimeoutError,
    ConfigurationError,
    ProviderError,
    UnsupportedOperationError,
)
from ..models import BatchJob


@contextlib.contextmanager
def _naming_submitted(parts: list[BatchJob]) -> Iterator[None]:
    """When a later part of a split input is refused, say which parts were already submitted."""
    try:
        yield
    except ProviderError as error:
        if not parts:
            raise
        raise ProviderError(f"{error} (already submitted: {', '.join(p.id for p in parts)})",
                            status=error.status) from None


class _PartFailures:
    """Cancel and delete go on to every part of a split job; the parts that failed are reported
    together at the end. A single batch's error is raised as it is."""

    def __init__(self, action: str, job: BatchJob) -> None:
        self.action, self.job = action, job
        self.split = len(job.ids) > 1
        self.done: list[str] = []
        self.failed: list[tuple[str, BatchProcessorError]] = []

    @contextlib.contextmanager
    def collect(self, batch_id: str) -> Iterator[None]:
        try:
            yield
        except UnsupportedOperationError:
            raise  # the provider cannot do it for any part
        except BatchProcessorError as error:
            if not self.split:
                raise
            self.failed.append((batch_id, error))
        else:
            self.done.append(batch_id)

    def raise_any(self) -> None:
        if not self.failed:
            return
        first = self.failed[0][1]
        reasons = "; ".join(f"{batch_id}: {error}" for batch_id, error in self.failed)
        done = f" ({self.action} done for {', '.join(self.done)})" if self.done else ""
        message = f"could not {self.action} {len(self.failed)} of the {len(self.job.ids)} parts of {self.job.id}: " \
                  f"{reasons}{done}"
        raise ProviderError(message, status=getattr(first, "status", None))


class _Hiccups:
    """A day-long wait should not die on one rate limit or server hiccup while polling: a poll
    that fails with 408, 429, 5xx, 529 or a lost connection (after the SDK's own retries) is
    polled again at the next pause; ``LIMIT`` such failures in a row are raised."""

    TRANSIENT = frozenset({408, 429, 500, 502, 503, 504, 529})
    LIMIT = 5

    def __init__(self) -> None:
        self.in_a_row = 0

    def tolerate(self, error: ProviderError) -> None:
        if error.status is not None and error.status not in self.TRANSIENT:
            raise error
        self.in_a_row += 1
        if self.in_a_row >= self.LIMIT:
            raise ProviderError(f"{error} ({self.in_a_row} polls in a row failed; wait() gave up)",
                                status=error.status) from None

    def clear(self) -> None:
        self.in_a_row = 0


def seconds_text(seconds: float) -> str:
    """A duration as people write it: "0.3s", "2.5s", "86400s" (never "0s" for 0.3 s, as a
    rounded format shows it, nor "8.64e+04s", as a general one does)."""
    if seconds >= 100:
        return f"{seconds:.0f}s"
    text = f"{seconds:.2f}" if seconds >= 1 else f"{seconds:.6f}"
    return (text.rstrip("0").rstrip(".") or "0") + "s"


class _Backoff:
    """The pauses between polls: ``interval`` growing by ``factor`` up to ``max_interval``,
    for ``timeout`` seconds (on ``clock``, or the pauses themselves when sleep is a no-op). The
    last pause is cut to what remains, so the final poll happens at the deadline and the wait
    ends within ``timeout`` plus that one request."""

    def __init__(self, timeout: float | None, interval: float, factor: float, max_interval: float, *,
                 clock: Callable[[], float] | None = None) -> None:
        if timeout is not None and timeout <= 0:
            raise ConfigurationError(f"timeout must be positive (seconds, or None for no limit), got {timeout!r}")
        if interval <= 0 or max_interval <= 0:
            raise ConfigurationError(f"interval and max_interval must be positive, got {interval!r} and "
                                     f"{max_interval!r}")
        self.timeout, self.interval, self.factor, self.max_interval = timeout, interval, factor, max_interval
        self.clock = clock or time.monotonic
        self.started = self.clock()
        self.slept = 0.0

    def pause(self, job: BatchJob) -> float:
        """The next pause, or BatchTimeoutError once the timeout has passed."""
        elapsed = max(self.clock() - self.started, self.slept)
        interval = self.interval
        if self.timeout is not None:
            remaining = self.timeout - elapsed
            if remaining < 1e-3:
                raise BatchTimeoutError(f"batch {job.id} still {job.status.value} after {seconds_text(elapsed)} "
                                        f"(timeout {seconds_text(self.timeout)}); wait again or raise timeout=")
            interval = min(interval, remaining)
        self.slept += interval
        self.interval = min(self.max_interval, self.interval * self.factor)
        return interval




class _Progress:
    """A rich progress bar over the job's finished requests, when asked for."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.progress import Progress

            self._bar = Progress()
            self._bar.start()

    def update(self, job: BatchJob) -> None:
        if self._bar is None:
            return
        done = job.counts.succeeded + job.counts.errored
        description = f"{job.id[:40]} {job.status.value}"
        if self._task is None:
            self._task = self._bar.add_task(description, total=job.counts.total or None)
        self._bar.update(self._task, completed=done, total=job.counts.total or None, description=description)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
