"""The cyclic GC paused while the emulator builds or renders a batch (see ``paused_gc``)."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

#: calls that paused the cyclic GC, and whether it ran before the first of them
_gc_pause = {"calls": 0, "was_enabled": False}
_gc_pause_lock = threading.Lock()


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while a call builds or renders a batch: with 50,000 live requests
    and answers, its full collections rescan them all and made big batches several times slower.
    Calls overlap on the server's threads: the first pauses it, the last one out restores it."""
    with _gc_pause_lock:
        if _gc_pause["calls"] == 0:
            _gc_pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pause["calls"] += 1
    try:
        yield
    finally:
        with _gc_pause_lock:
            _gc_pause["calls"] -= 1
            if _gc_pause["calls"] == 0 and _gc_pause["was_enabled"]:
                gc.enable()
