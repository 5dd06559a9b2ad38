"""The cyclic GC paused while the emulator builds or renders a batch (see ``paused_gc``)."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

#: calls that paused the cyclic GC, whether it ran before the first of them, whether the last one
#: out freezes what they left (``freeze_what_paused_calls_leave``) and whether it ever did
_gc_pause = {"calls": 0, "was_enabled": False, "freeze": False, "frozen": False}
_gc_pause_lock = threading.Lock()


def freeze_what_paused_calls_leave() -> None:
    """For a process that only serves the emulator (``pytest-batch serve``): when the last paused
    call ends, move what the calls left alive (a batch's requests, answers and results) into the
    collector's permanent generation (``gc.freeze``) instead of leaving them young. Otherwise the
    first collection after a pause scans them all, and stops every thread of the server for that
    long (60-90 ms after a burst of 50 batches of 1,000 requests): a poll that arrives then waits.
    Refcounting still frees them; ``release_frozen`` hands them back to the collector (on reset)."""
    with _gc_pause_lock:
        _gc_pause["freeze"] = True


def release_frozen() -> None:
    """Give what ``freeze_what_paused_calls_leave`` froze back to the collector (a no-op if it never froze)."""
    with _gc_pause_lock:
        if _gc_pause["frozen"] and _gc_pause["calls"] == 0:
            gc.unfreeze()
            _gc_pause["frozen"] = False


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
            if _gc_pause["calls"] == 0:
                if _gc_pause["freeze"]:
                    gc.freeze()
                    _gc_pause["frozen"] = True
                if _gc_pause["was_enabled"]:
                    gc.enable()
