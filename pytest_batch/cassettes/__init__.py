"""Cassettes: record a test's batch-API traffic once, replay it offline, built on vcrpy.

API for the plugin (and anyone driving cassettes by hand)::

    from pytest_batch.cassettes import use_cassette, cassette_path, RecordingPending

    path = cassette_path(cassette_dir, "openai", "test_extract", "test_users[openai]")
    with use_cassette(path, mode="record", provider="openai", model="gpt-4o-mini",
                      record_timeout=600, nodeid=item.nodeid) as session:
        job = bp.submit(...)
        session.wait(lambda timeout: bp.wait(job, timeout=timeout), batch_id=job.id)
        ...

- ``mode="replay"``: vcrpy ``record_mode="none"``; nothing reaches the network. A missing
  or pending cassette raises ``CassetteError`` on entry; a request the cassette cannot
  answer raises ``CassetteMismatch`` out of the ``with`` block (it travels as a
  BaseException through the SDKs so their retry loops cannot swallow it).
- ``mode="record"``: traffic goes to the real service (or the emulator server) and the
  cassette is written on a clean exit; a failing block writes nothing. Against the
  emulator's loopback server URLs are stored under the providers' default hosts, so the
  replay runs with the SDK defaults.
- Long batches: ``record_timeout`` (seconds, from entering the block) sets
  ``session.deadline`` (``time.monotonic()`` based). ``session.remaining()`` is the time
  left (None without a timeout); ``session.wait(fn, batch_id=)`` calls ``fn(remaining)``
  and turns its ``TimeoutError`` into ``session.pending(batch_id)``; ``pending()`` (or a
  ``TimeoutError`` escaping the block when record_timeout is set) saves the cassette marked
  pending and raises ``RecordingPending`` (skip the test with its message). Recording
  again resumes: the pending cassette's submission (every interaction up to its last
  non-GET request) is replayed, only the polls after it go live, and any new or repeated
  submission is refused, so a batch is never submitted twice. The cassette is also saved as
  pending the moment a batch-creating response is recorded (before any poll), so a process
  killed mid-recording leaves the batch id to resume; a clean exit replaces that file (complete
  or pending), a failing block puts back what was there, and Ctrl+C keeps it pending.
- Polling: consecutive identical GET responses to one URL are stored once; replay plays a
  URL's recorded responses in order and then repeats the last, so a test may poll more
  often than when it was recorded. A test that polled fewer times and moved on (fetched
  the results) gets the state recorded at that point, never an older one. Non-GET
  requests play once each, in order.
- ``check_cassettes(cassette_dir, used_paths)``: stale cassettes and leaked secrets.

The rooms: ``paths`` (where cassettes live, re-record commands), ``format`` (the on-disk YAML),
``scrub`` (secrets out), ``matching`` and ``player`` (how replay answers), ``persist`` (files),
``session`` (one test's cassette state), ``recorder`` (``use_cassette`` on vcrpy), ``state``
(pending and auto mode, the folder check).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public names and the module holding each; imported on first use, so that the plugin's
#: start-up (which needs only ``paths``) does not pay for YAML and vcrpy.
_EXPORTS = {
    "CassetteError": "errors", "CassetteMismatch": "errors", "RecordingPending": "errors", "ReplayMiss": "errors",
    "cassette_dir_of": "paths", "cassette_path": "paths", "record_command": "paths", "recorded_against": "paths",
    "preload": "recorder", "use_cassette": "recorder", "CassetteSession": "session",
    "CassetteReport": "state", "CassetteState": "state", "auto_mode": "state", "cassette_state": "state",
    "check_cassettes": "state", "is_pending": "state",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_batch.cassettes' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
