"""CassetteSession: the live state of one cassette for one test (deadline, pending, messages, metadata)."""


from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from ..secrets import redact
from .errors import RecordingPending
from .matching import describe_request
from .paths import Mode, previous_path, record_command
from .scrub import (
    is_loopback,
    scrub_request,
    scrub_response,
)

T = TypeVar("T")
EMULATOR_HEADER = "x-pytest-batch-emulator"
_LAST_LOOK = 0.001  # seconds a wait past the record deadline still gets


def _sdk_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for dist in ("openai", "anthropic", "google-genai", "pytest-batch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    if versions["pytest-batch"] is None:
        from .. import __version__ as own_version  # type: ignore[attr-defined]

        versions["pytest-batch"] = own_version
    return versions


def submitted_batch_id(request: Any, response: dict[str, Any]) -> str | None:
    """The batch id a batch-creating request got back (OpenAI and Anthropic ``id``, Gemini's
    Operation ``name``), or None for any other interaction."""
    path = request.path.lower()
    if request.method != "POST" or "batch" not in path or "cancel" in path:
        return None
    if not 200 <= int((response.get("status") or {}).get("code") or 0) < 300:
        return None
    import json

    try:
        body = json.loads((response.get("body") or {}).get("string") or b"{}")
    except (TypeError, ValueError):
        return None
    if isinstance(body, dict) and (body.get("id") or body.get("name")):
        return str(body.get("id") or body.get("name"))
    return None


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class CassetteSession:
    """What ``use_cassette`` yields: the live state of one cassette for one test."""

    path: Path
    mode: Mode
    provider: str
    model: str | None
    recorded_against: str
    record_timeout: float | None
    nodeid: str | None
    deadline: float | None = None
    cassette: Any = None
    resuming: bool = False
    #: on resume, only interactions[:replay_limit] replay (the submission); the rest is history
    replay_limit: int | None = None
    pending_batch_id: str | None = None
    #: the model named in the cassette's metadata (None for a new cassette)
    recorded_model: str | None = None
    #: the provider named in the cassette's metadata (None for a new cassette)
    recorded_provider: str | None = None
    #: where the recording on disk was recorded against (its metadata's ``recorded_against``)
    previously_recorded_against: str | None = None
    #: record mode over a complete cassette: a pending save keeps that one at ``previous_path``
    replaces_complete: bool = False
    #: a cassette file was there when the block began (record mode puts it back if the test fails)
    had_file: bool = False
    misses: list[str] = field(default_factory=list)
    #: record mode: called with the batch id the moment a batch-creating response is recorded
    on_submitted: Callable[[str], None] | None = None
    #: the running pytest config, for the re-record command (see ``record_command``)
    pytest_config: Any = None
    _saw_emulator: bool = False

    def record_command(self) -> str:
        """The command that records this test's cassette again (resumes it, when pending)."""
        before = self.previously_recorded_against
        against = self.recording_against(before) if self.mode == "record" else before
        return record_command(self.nodeid, self.pytest_config, recorded_against=against)

    def recording_against(self, before: str | None) -> str:
        """What this recording talks to: its own traffic, or (``before`` says where the cassette on disk
        was recorded) a resumed submission's emulator."""
        inherited = self.resuming and before == "emulator"
        return "emulator" if self._saw_emulator or inherited else self.recorded_against

    # -- deadline helpers for the plugin's wait loop
    def remaining(self) -> float | None:
        """Seconds left before ``record_timeout`` (0 when past it), or None without a timeout."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def pending(self, batch_id: str | None = None) -> NoReturn:
        """Stop recording here: the cassette is saved as pending on exit; raises RecordingPending."""
        batch_id = batch_id or self.detect_batch_id()
        raise RecordingPending(self._pending_message(batch_id), batch_id=batch_id, path=self.path)

    def wait(self, wait_fn: Callable[[float | None], T], *, batch_id: str | None = None) -> T:
        """``wait_fn(remaining)``; a TimeoutError in record mode with a timeout becomes ``pending``.

        Past the deadline ``wait_fn`` still gets a moment (``_LAST_LOOK``) rather than 0, which
        ``BatchProcessor.wait`` refuses: one last poll, so a batch already done is not left pending."""
        try:
            return wait_fn(self._wait_budget())
        except TimeoutError:
            self._timed_out(batch_id)
            raise

    async def wait_async(self, wait_fn: Callable[[float | None], Awaitable[T]], *, batch_id: str | None = None) -> T:
        """``wait`` for ``AsyncBatchProcessor.wait``: ``await wait_fn(remaining)``."""
        try:
            return await wait_fn(self._wait_budget())
        except TimeoutError:
            self._timed_out(batch_id)
            raise

    def _wait_budget(self) -> float | None:
        remaining = self.remaining()
        return _LAST_LOOK if remaining is not None and remaining <= 0 else remaining

    def _timed_out(self, batch_id: str | None) -> None:
        if self.mode == "record" and self.record_timeout is not None:
            self.pending(batch_id)

    def check_deadline(self, batch_id: str | None = None) -> None:
        """For hand-written poll loops: call ``pending`` once the deadline has passed."""
        if self.mode == "record" and self.expired():
            self.pending(batch_id)

    def _pending_message(self, batch_id: str | None) -> str:
        what = f"batch {batch_id}" if batch_id else "the batch"
        kept = previous_path(self.path)
        keeping = (f" (the previous complete recording is kept at {kept} until this one completes)"
                   if self.replaces_complete or kept.exists() else "")
        return (f"{what} still running after {self.record_timeout or 0:g}s; cassette {self.path} saved as pending"
                f"{keeping}; run record mode again to resume: {self.record_command()}")

    def batch_gone_message(self, base_url: str) -> str:
        """Record mode resumed a pending cassette whose batch the service no longer has."""
        kept = previous_path(self.path)
        restore = f" (or move {kept} back over it to keep the previous recording)" if kept.exists() else ""
        return redact(f"pytest-batch: the pending batch {self.pending_batch_id} in {self.path} no longer exists at "
                      f"{base_url} (deleted, expired, or the emulator server was restarted): delete the cassette"
                      f"{restore} and run --batch-mode=record again: {self.record_command()}")

    def detect_batch_id(self) -> str | None:
        """The id in the last batch-creating response recorded so far."""
        if self.cassette is None:
            return None
        for request, response in reversed(self.cassette.data):
            batch_id = submitted_batch_id(request, response)
            if batch_id:
                return batch_id
        return None

    # -- hooks vcrpy calls
    def before_record_request(self, request: Any) -> Any:
        if is_loopback(request.uri):
            self._saw_emulator = True
        return scrub_request(request, self.provider)

    def before_record_response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers = {name.lower(): values for name, values in (response.get("headers") or {}).items()}
        marker = headers.get(EMULATOR_HEADER)
        if marker and "1" in (marker if isinstance(marker, list) else [marker]):
            self._saw_emulator = True
        return scrub_response(response, self.provider)

    # -- messages
    def mismatch_message(self, cassette: Any, request: Any, why: str | None = None) -> str:
        from vcr.matchers import get_matchers_results

        filtered = cassette._before_record_request(request)
        lines = [why or f"pytest-batch: cassette {self.path} has no recorded response for this request:"]
        lines += describe_request(filtered)
        best: tuple[int, int, Any, list[Any]] | None = None
        for index, (stored, _) in enumerate(cassette.data[: self._replayable_count(cassette)]):
            successes, failures = get_matchers_results(filtered, stored, cassette._match_on)
            # the same endpoint outweighs everything else: that is the request the test meant
            score = len(successes) + (2 if "match_url" in successes else 0)
            if best is None or score > best[0]:
                best = (score, index, stored, failures)
        if best is None:
            lines.append("The cassette holds no interactions.")
        else:
            _, index, stored, failures = best
            total = self._replayable_count(cassette)
            lines.append(f"Closest recorded request (interaction {index + 1} of {total}):")
            lines += describe_request(stored)
            if failures:
                lines.append("Difference:")
                for _name, message in failures:
                    lines += ["  " + line for line in str(message).splitlines()]
            else:
                lines.append("Difference: none, but it was already played (the test sends it more often than "
                             "when recorded; only GET responses repeat)")
        recorded_for = self.recorded_provider or (self.recorded_model or "").partition("/")[0] or None
        if recorded_for and recorded_for != self.provider:  # its model is no --batch-model for this provider
            lines.append(f"The cassette was recorded for {recorded_for}; this test runs {self.provider}. Give each "
                         "provider its own cassette: put {provider} in the marker's cassette= name "
                         "(e.g. cassette='shared/{provider}/x.yaml') and record again.")
        elif self.recorded_model and self.model and self.recorded_model != self.model:
            lines.append(f"The cassette was recorded with model {self.recorded_model}; this run uses {self.model}: "
                         f"replay with --batch-model={self.recorded_model}, or re-record.")
        lines.append(f"To re-record this cassette: {self.record_command()}")
        return redact("\n".join(lines))

    def _replayable_count(self, cassette: Any) -> int:
        if self.replay_limit is not None:
            return min(self.replay_limit, len(cassette.data))
        return cassette._loaded_count

    def metadata(self, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """The cassette's metadata block. ``previous`` (the metadata already on disk) only counts when
        this recording resumes it: then the submission replayed from it went where it says it went.
        A fresh recording over an old cassette is labelled by its own traffic alone."""
        before = self.previously_recorded_against if previous is None else previous.get("recorded_against")
        return {
            "recorded_at": utc_now(),
            "provider": self.provider,
            "model": self.model,
            "recorded_against": self.recording_against(before),
            "sdk_versions": _sdk_versions(),
        }
