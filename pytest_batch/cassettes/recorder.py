"""use_cassette: one test's record or replay session, wired into vcrpy (the package docstring tells the rules)."""


from __future__ import annotations

import contextlib
import logging
import os
import time
import types
from pathlib import Path
from typing import Any, Literal

from .errors import CassetteError, CassetteMismatch, CassetteUnreadable, RecordingPending, ReplayMiss
from .format import COMPILED, CassetteFormatError, CassetteSerializer, read_metadata
from .matching import MATCH_ON, MATCHERS
from .paths import Mode, current_nodeid, previous_path
from .persist import AtomicPersister, write_atomically
from .player import batch_cassette_class
from ..secrets import redact
from .scrub import (
    DEFAULT_HOSTS,
)
from .session import CassetteSession, utc_now

#: vcrpy's loggers: at INFO they print every request and the raw response it got (before
#: scrubbing), which pytest's log capture puts in reports and --junitxml
_VCR_LOGGERS = ("vcr", "vcr.cassette", "vcr.stubs", "vcr.stubs.httpx_stubs", "vcr.stubs.aiohttp_stubs",
                "vcr.matchers", "vcr.request", "vcr.patch")


class _RedactedLogs(logging.Filter):
    """Rewrites a log record's message through ``secrets.redact`` (a logger's filters see only its own records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


_REDACTED_LOGS = _RedactedLogs()


def _redact_vcr_logs() -> None:
    names = {*_VCR_LOGGERS, *(name for name in logging.Logger.manager.loggerDict if name.startswith("vcr."))}
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTED_LOGS not in logger.filters:
            logger.addFilter(_REDACTED_LOGS)


def preload() -> None:
    """Import vcrpy now (about a second or more: it probes every HTTP library installed).

    vcrpy keeps the transport methods it finds at import time as "the real ones", so import
    it before anything patches ``httpx2.HTTPTransport`` (the emulator's ``intercept`` or
    ``block_network``): the plugin calls this from ``pytest_configure`` when cassettes are on.
    """
    import vcr.patch  # noqa: F401


def _check_vcr_sees_real_transports(mode: Mode) -> None:
    import sys

    if mode != "record" or "vcr.patch" in sys.modules:
        return
    try:
        import httpx2
    except ImportError:  # pragma: no cover - httpx2 is a dependency
        return
    if httpx2.HTTPTransport.handle_request.__module__ != "httpx2._transports.default":
        raise CassetteError(
            "pytest-batch: vcrpy would be imported while httpx2.HTTPTransport is patched "
            f"(by {httpx2.HTTPTransport.handle_request.__module__}), and would record through that patch forever. "
            "Call pytest_batch.cassettes.preload() before patching (the plugin does it in pytest_configure).")


def _make_vcr() -> Any:
    import vcr

    recorder = vcr.VCR(serializer="pytest_batch", match_on=MATCH_ON, decode_compressed_response=True,
                       record_on_exception=False)
    recorder.register_serializer("pytest_batch", CassetteSerializer())
    for name, matcher in MATCHERS.items():
        recorder.register_matcher(name, matcher)
    recorder.register_persister(AtomicPersister)
    _redact_vcr_logs()
    return recorder


class _UseCassette:
    """The context manager ``use_cassette`` returns; it yields a CassetteSession."""

    def __init__(self, session: CassetteSession) -> None:
        self.session = session
        self._vcr_context: Any = None
        self._previous: dict[str, Any] = {}
        #: what the file held before this recording first saved it as pending (``[None]``: no file)
        self._before_checkpoint: list[str | None] | None = None
        #: this recording wrote ``<name>.yaml.previous`` (the complete cassette it replaces)
        self._kept_previous = False

    def __enter__(self) -> CassetteSession:
        session = self.session
        path = session.path
        session.had_file = path.exists()
        if session.had_file:
            try:
                self._previous = read_metadata(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, CassetteFormatError) as exc:
                if session.mode == "replay":
                    raise self._unreadable(str(exc)) from None
                self._previous = {}  # record mode replaces what is not a cassette
        pending = self._previous.get("pending")
        session.recorded_model = self._previous.get("model")
        session.previously_recorded_against = self._previous.get("recorded_against")
        session.recorded_provider = self._previous.get("provider")
        session.replaces_complete = session.mode == "record" and bool(self._previous) and not pending
        if session.mode == "replay":
            if not path.exists():
                raise CassetteError(
                    f"pytest-batch: no cassette at {path} (replay mode never calls the provider). "
                    f"Record it with: {session.record_command()}")
            if pending:
                raise CassetteError(
                    f"pytest-batch: cassette {path} is pending (batch {pending.get('batch_id')} was still running "
                    f"when recording stopped). Resume the recording with: {session.record_command()}")
        elif pending:
            session.resuming = True
            session.pending_batch_id = pending.get("batch_id")
        if session.mode == "record" and session.record_timeout is not None:
            session.deadline = time.monotonic() + session.record_timeout
        _check_vcr_sees_real_transports(session.mode)
        recorder = _make_vcr()
        config = recorder.get_merged_config(
            path=str(path),
            record_mode="none" if session.mode == "replay" else "new_episodes",
            before_record_request=session.before_record_request,
            before_record_response=session.before_record_response,
        )
        if session.mode == "record":
            session.on_submitted = self._checkpoint
        cassette_class = batch_cassette_class(session)
        self._vcr_context = cassette_class.use_arg_getter(lambda: dict(config))
        try:
            session.cassette = self._vcr_context.__enter__()
        except CassetteUnreadable as unreadable:  # the persister parses the whole file (replay, resume)
            raise self._unreadable(unreadable.problem) from None
        return session

    def _unreadable(self, problem: str) -> CassetteUnreadable:
        """The one message for a cassette file that cannot be used: which, what is wrong, how to get a good one."""
        session = self.session
        pending = self._previous.get("pending") if session.mode == "record" else None
        if pending:
            batch_id = pending.get("batch_id") if isinstance(pending, dict) else None
            fix = (f"It is a pending recording (batch {batch_id}) that cannot be resumed: delete it (and cancel batch "
                   f"{batch_id} if it still runs), then record again: {session.record_command()}")
        else:
            fix = f"Record it again (record mode replaces the file): {session.record_command()}"
        return CassetteUnreadable(session.path, problem, fix)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: types.TracebackType | None) -> bool:
        session = self.session
        cassette = session.cassette
        # vcrpy saves on a clean exit only; pass an exception so it just unpatches, and save here.
        self._vcr_context.__exit__(RuntimeError, RuntimeError("pytest-batch saves the cassette itself"), None)
        if isinstance(exc, ReplayMiss) or (session.misses and exc is None):
            self._undo_checkpoint()
            raise CassetteMismatch(session.misses[-1] if session.misses else str(exc)) from None
        if session.mode != "record":
            if session.misses and exc is not None and not isinstance(exc, CassetteError):
                raise CassetteMismatch(session.misses[-1]) from exc
            return False
        timed_out = isinstance(exc, TimeoutError) and session.record_timeout is not None
        # Ctrl+C after the submit: the batch runs on (and is paid for), so keep it to resume
        interrupted = isinstance(exc, KeyboardInterrupt) and self._before_checkpoint is not None
        if isinstance(exc, RecordingPending) or timed_out or interrupted:
            batch_id = getattr(exc, "batch_id", None) or session.pending_batch_id or session.detect_batch_id()
            self._save(cassette, pending=self._pending(batch_id))
            if timed_out:
                raise RecordingPending(session._pending_message(batch_id), batch_id=batch_id,
                                       path=session.path) from exc
            return False
        if exc is not None:
            self._undo_checkpoint()
            return False  # a failed recording never replaces a cassette
        try:
            self._save(cassette, pending=None)
        except BaseException:
            self._undo_checkpoint()  # "nothing was written" must stay true
            raise
        return False

    def _pending(self, batch_id: str | None) -> dict[str, Any]:
        return {"batch_id": batch_id, "since": utc_now(), "record_timeout": self.session.record_timeout}

    def _checkpoint(self, batch_id: str) -> None:
        """Save the cassette as pending the moment a batch is created, before anything polls it: a run
        killed from here on (kill -9, a CI job's timeout, a crash) leaves the batch id on disk, so the
        next record run resumes that batch instead of submitting (and paying for) it again. A clean
        end of the block replaces this file (done, pending) or puts back what was there (test failed).

        Called from inside the SDK's HTTP call, so it never raises: a save that fails here (a secret
        the scan refuses, a full disk) fails again, and is reported, when the block ends."""
        if self._before_checkpoint is None:
            path = self.session.path
            try:
                self._before_checkpoint = [path.read_text(encoding="utf-8") if path.is_file() else None]
            except (OSError, UnicodeDecodeError):
                return  # a file we could not put back: leave it alone until the block ends
        with contextlib.suppress(Exception):
            self._save(self.session.cassette, pending=self._pending(batch_id))

    def _undo_checkpoint(self) -> None:
        """Put back what the cassette file held before this recording saved it as pending."""
        if self._before_checkpoint is None:
            return
        path, (text,) = self.session.path, self._before_checkpoint
        self._before_checkpoint = None
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            write_atomically(path, text)
        if self._kept_previous:
            with contextlib.suppress(FileNotFoundError):
                previous_path(path).unlink()
            self._kept_previous = False

    def _save(self, cassette: Any, pending: dict[str, Any] | None) -> None:
        metadata = self.session.metadata(self._previous)
        if pending:
            metadata["pending"] = pending
            if self.session.replaces_complete and not self._kept_previous and self.session.path.is_file():
                # a pending recording must not cost the complete one it replaces: keep that beside it
                write_atomically(previous_path(self.session.path), self.session.path.read_text(encoding="utf-8"))
                self._kept_previous = True
        cassette._metadata = metadata
        cassette._save(force=True)
        if not pending:
            with contextlib.suppress(FileNotFoundError):
                previous_path(self.session.path).unlink()


def use_cassette(path: str | os.PathLike[str], *, mode: Mode, provider: str, model: str | None,
                 recorded_against: Literal["live", "emulator"] = "live", record_timeout: float | None = None,
                 nodeid: str | None = None, config: Any = None) -> contextlib.AbstractContextManager[CassetteSession]:
    """A context manager replaying or recording ``path`` with vcrpy (see the module docstring).

    ``nodeid`` goes into the re-record commands of error messages (default: the running test);
    with the pytest ``config`` those commands also repeat the run's ``--batch-*`` options and
    work from the directory pytest was started in (``record_command``).
    """
    if mode not in ("replay", "record"):
        raise ValueError(f"cassette mode must be 'replay' or 'record', not {mode!r}")
    if provider not in DEFAULT_HOSTS:
        raise ValueError(f"unknown provider {provider!r}: use one of {', '.join(DEFAULT_HOSTS)}")
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    COMPILED.use(Path(cache.mkdir("pytest-batch-cassettes")) if cache is not None else None)
    session = CassetteSession(Path(path), mode, provider, model, recorded_against, record_timeout,
                              nodeid or current_nodeid(), pytest_config=config)
    return _UseCassette(session)
