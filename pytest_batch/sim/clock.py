"""An injectable clock: every timestamp and every time-based transition reads it.

Tests never sleep: ``FrozenClock`` starts at a fixed instant and moves only when told.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

#: 2026-01-01T00:00:00Z: where a frozen clock starts unless told otherwise.
DEFAULT_EPOCH = 1767225600.0
#: the most one advance may move a clock: 100 years. Timestamps must stay dates the providers'
#: formats (and Python's datetime) can write; nan, inf or 1e18 would break every later answer.
MAX_ADVANCE = 100 * 365 * 86400.0


def checked_advance(seconds: float) -> float:
    """``seconds`` as a float a clock may advance by, or a ValueError that says what is allowed."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"seconds must be a number, got {seconds!r}") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_ADVANCE:
        raise ValueError(f"seconds must be a number from 0 to {MAX_ADVANCE:.0f} (100 years): the clock only moves "
                         f"forward, by a finite amount; got {seconds!r}")
    return value


class Clock:
    """Wall-clock time plus every advance so far, for an emulator server that real clients poll.

    It moves on its own, and ``advance`` (the server's ``POST /_control/advance {"seconds": S}``)
    jumps it forward, so a ``seconds:S`` lifecycle or the 24 h expiry can be driven without sleeping.
    """

    #: a class default, so a Clock pickled before advances existed still loads (Emulator.save).
    _offset = 0.0
    #: time passes without anyone advancing it
    moves_by_itself = True

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += checked_advance(seconds)

    def reset(self) -> None:
        """Undo every advance."""
        self._offset = 0.0


class FrozenClock(Clock):
    moves_by_itself = False

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._start = self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += checked_advance(seconds)

    def reset(self) -> None:
        """Back to where the clock started."""
        self._now = getattr(self, "_start", DEFAULT_EPOCH)


def rfc3339(ts: float, *, digits: int = 6, zulu: bool = True) -> str:
    """RFC 3339 in UTC. Anthropic's recordings use ``+00:00`` with microseconds
    (realdata/decoded/anthropic_*.json); Gemini's use ``Z`` with up to nanoseconds."""
    dt = datetime.fromtimestamp(ts, UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        frac = f"{ts % 1:.{digits}f}"[2:]
        text += "." + frac
    return text + ("Z" if zulu else "+00:00")
