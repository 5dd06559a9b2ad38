"""How far a batch has come: lifecycle policies in the manner of moto's managed state.

A policy maps (reads since creation, seconds since creation) to progress in [0, 1];
each provider's backend maps progress onto its own status names. ``immediate`` finishes
on the first read after create, ``polls:N`` on the N-th read, ``seconds:S`` once S
seconds have passed on the emulator's clock, and ``manual`` only on an explicit advance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("immediate", "polls", "seconds", "manual")


class LifecycleError(ValueError):
    pass


@dataclass(frozen=True)
class Lifecycle:
    kind: str = "immediate"
    amount: float = 0.0

    @classmethod
    def parse(cls, spec: str | Lifecycle | None) -> Lifecycle:
        if spec is None:
            return cls()
        if isinstance(spec, Lifecycle):
            return spec
        if not isinstance(spec, str):
            raise LifecycleError(f"a lifecycle is a string ('immediate', 'polls:N', 'seconds:S' or 'manual'), "
                                 f"got {spec!r}")
        text = spec.strip().lower()
        kind, _, amount = text.partition(":")
        if kind not in KINDS:
            raise LifecycleError(
                f"unknown lifecycle {spec!r}: use 'immediate', 'polls:N', 'seconds:S' or 'manual'"
            )
        if kind in ("polls", "seconds"):
            try:
                value = float(amount)
            except ValueError:
                raise LifecycleError(f"lifecycle {spec!r} needs a number, e.g. '{kind}:3'") from None
            if not math.isfinite(value) or value <= 0:
                raise LifecycleError(f"lifecycle {spec!r} needs a finite number above 0, e.g. '{kind}:3'")
            return cls(kind, value)
        if amount:
            raise LifecycleError(f"lifecycle {kind!r} takes no argument (got {spec!r})")
        return cls(kind)

    def progress(self, reads: int, elapsed: float) -> float:
        if self.kind == "immediate":
            return 1.0 if reads >= 1 else 0.0
        if self.kind == "polls":
            return min(1.0, reads / self.amount)
        if self.kind == "seconds":
            return min(1.0, max(0.0, elapsed) / self.amount)
        return 0.0

    def __str__(self) -> str:
        if self.kind in ("polls", "seconds"):
            return f"{self.kind}:{self.amount:g}"
        return self.kind
