"""An injectable clock: every timestamp and every time-based transition reads it.

Tests never sleep: ``FrozenClock`` starts at a fixed instant and moves only when told.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

#: 2026-01-01T00:00:00Z: where a frozen clock starts unless told otherwise.
DEFAULT_EPOCH = 1767225600.0


class Clock:
    """Wall-clock time plus every advance so far, for an emulator server that real clients poll.

    It moves on its own, and ``advance`` (the server's ``POST /_control/advance {"seconds": S}``)
    jumps it forward, so a ``seconds:S`` lifecycle or the 24 h expiry can be driven without sleeping.
    """

    #: a class default, so a Clock pickled before advances existed still loads (Emulator.save).
    _offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; cannot advance by {seconds} seconds")
        self._offset += seconds


class FrozenClock(Clock):
    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; cannot advance by {seconds} seconds")
        self._now += seconds


def rfc3339(ts: float, *, digits: int = 6, zulu: bool = True) -> str:
    """RFC 3339 in UTC. Anthropic's recordings use ``+00:00`` with microseconds
    (realdata/decoded/anthropic_*.json); Gemini's use ``Z`` with up to nanoseconds."""
    dt = datetime.fromtimestamp(ts, UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        frac = f"{ts % 1:.{digits}f}"[2:]
        text += "." + frac
    return text + ("Z" if zulu else "+00:00")
