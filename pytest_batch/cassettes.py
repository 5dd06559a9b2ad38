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
  submission is refused, so a batch is never submitted twice.
- Polling: consecutive identical GET responses to one URL are stored once; replay plays a
  URL's recorded responses in order and then repeats the last, so a test may poll more
  often than when it was recorded. A test that polled fewer times and moved on (fetched
  the results) gets the state recorded at that point, never an older one. Non-GET
  requests play once each, in order.
- ``check_cassettes(cassette_dir, used_paths)``: stale cassettes and leaked secrets.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import difflib
import os
import re
import shlex
import tempfile
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

from .cassette_format import COMPILED, CassetteSerializer, body_view, read_metadata, view_text
from .cassette_scrub import (
    DEFAULT_HOSTS,
    SECRET_QUERY_PARAMS,
    SecretFinding,
    find_secrets,
    is_loopback,
    scrub_request,
    scrub_response,
)

T = TypeVar("T")
Mode = Literal["replay", "record"]
EMULATOR_HEADER = "x-pytest-batch-emulator"
_MUTATING = ("POST", "PUT", "PATCH", "DELETE")
_POLLING = ("GET", "HEAD")
_LAST_LOOK = 0.001  # seconds a wait past the record deadline still gets
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]+")


class CassetteError(Exception):
    """A cassette cannot be used: missing, pending, unreadable, or it would leak a secret."""


class CassetteMismatch(CassetteError):
    """Replay met a request the cassette has no answer for."""


class RecordingPending(Exception):
    """Recording stopped at ``record_timeout`` with the batch still running; skip with ``str(exc)``."""

    def __init__(self, message: str, *, batch_id: str | None = None, path: Path | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.path = path


class _ReplayMiss(BaseException):
    """Carries a CassetteMismatch message out through SDK retry loops (they catch Exception).

    It surfaces where the test sent the request; the ``with`` block turns it into
    CassetteMismatch on exit. Catch it as ``ReplayMiss`` to report it earlier.
    """


ReplayMiss = _ReplayMiss


# ---------------------------------------------------------------------------- paths

def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("-", name.replace("[", "-").replace("]", "")).strip("-.")
    return cleaned or "_"


def cassette_path(cassette_dir: str | os.PathLike[str], provider: str, module_name: str, test_name: str) -> Path:
    """``<dir>/<provider>/<test module>/<test name>.yaml``; ``test_x[a/b c]`` becomes ``test_x-a-b-c``."""
    module = module_name.rsplit("/", 1)[-1].removesuffix(".py").rsplit(".", 1)[-1]
    return Path(cassette_dir) / _safe(provider) / _safe(module) / f"{_safe(test_name)}.yaml"


#: session options a re-record repeats when they were given on the command line (ini settings
#: apply by themselves; --batch-provider is pinned by the test id)
_RERUN_OPTIONS = ("batch_cassette_dir", "batch_model", "batch_record_timeout", "batch_max_requests")


#: what a re-record command adds for a cassette recorded against an emulator server
EMULATOR_HINT = ("(recorded against an emulator: start `pytest-batch serve` and export the *_BASE_URL lines it "
                 "prints first)")


def record_command(nodeid: str | None, config: Any = None, *, recorded_against: str | None = None) -> str:
    """The shell command that records ``nodeid`` again.

    With the run's pytest ``config`` it repeats the ``--batch-*`` options given on the command line
    (cassette dir, models, record timeout, request limit), and, since test ids are relative to the
    rootdir, starts with ``cd <rootdir> &&`` when pytest was started somewhere else. A cassette
    ``recorded_against`` an emulator gets ``EMULATOR_HINT`` after the command.
    """
    words = ["pytest", nodeid or "<test id>", "--batch-mode=record"]
    prefix = ""
    if config is not None:
        rootdir = Path(config.rootpath)
        for dest in _RERUN_OPTIONS:
            value = config.getoption(dest, default=None)
            if dest == "batch_cassette_dir" and value:  # the command runs at the rootdir: say it from there
                from .config import cassette_dir_of

                value = os.path.relpath(cassette_dir_of(config), rootdir.resolve())
            for item in value if isinstance(value, list | tuple) else [value]:
                if item is not None and item != "":
                    words.append(f"--{dest.replace('_', '-')}={item}")
        invoked = Path(config.invocation_params.dir)
        if rootdir.resolve() != invoked.resolve():
            prefix = f"cd {shlex.quote(str(rootdir))} && "
    hint = f" {EMULATOR_HINT}" if recorded_against == "emulator" else ""
    return prefix + " ".join(shlex.quote(word) for word in words) + hint


def previous_path(path: Path) -> Path:
    """Where a complete cassette is kept while a pending recording replaces it: ``<name>.yaml.previous``
    (not ``*.yaml``, so replay and the cassette check never take it for a cassette)."""
    return path.with_name(path.name + ".previous")


def _current_nodeid() -> str | None:
    current = os.environ.get("PYTEST_CURRENT_TEST")
    return current.rsplit(" (", 1)[0] if current else None


# ---------------------------------------------------------------------------- matching

def _content_type(request: Any) -> str | None:
    return request.headers.get("content-type")


_KEY_ATTR = "_pytest_batch_match_key"


def match_key(request: Any) -> tuple[str, tuple[str, str, str], tuple[tuple[str, str], ...], Any]:
    """What matching compares: method, url (scheme, host, path), query without secrets, body view.

    Two requests match when their keys are equal; the four matchers below compare one part each
    (and explain a difference). The key is computed once per request object and kept on it, so a
    stored request is parsed once however many requests are compared with it; it is computed
    again if the request's method, uri, content type or body object changes.
    """
    body, content_type = request.body, _content_type(request)
    cached = getattr(request, _KEY_ATTR, None)
    if (cached is not None and cached[0] is body and cached[1] == content_type and cached[2] == request.uri
            and cached[3] == request.method):
        return cached[4]
    key = (request.method, (request.scheme, request.host, request.path.rstrip("/") or "/"),
           tuple((k, v) for k, v in request.query if k.lower() not in SECRET_QUERY_PARAMS),
           body_view(body, content_type))
    setattr(request, _KEY_ATTR, (body, content_type, request.uri, request.method, key))
    return key


def _request_view(request: Any) -> Any:
    return match_key(request)[3]


def match_method(r1: Any, r2: Any) -> None:
    if r1.method != r2.method:
        raise AssertionError(f"method: sent {r1.method}, recorded {r2.method}")


def match_url(r1: Any, r2: Any) -> None:
    """scheme + host + path (after normalisation the port and emulator prefix are gone)."""
    if match_key(r1)[1] != match_key(r2)[1]:
        raise AssertionError(f"url: sent {r1.scheme}://{r1.host}{r1.path}, recorded {r2.scheme}://{r2.host}{r2.path}")


def match_query(r1: Any, r2: Any) -> None:
    sent, recorded = match_key(r1)[2], match_key(r2)[2]
    if sent != recorded:
        raise AssertionError(f"query: sent {list(sent)}, recorded {list(recorded)}")


def match_body(r1: Any, r2: Any) -> None:
    """JSON-equal, JSONL line by line, multipart part by part (never the boundary)."""
    sent, recorded = _request_view(r1), _request_view(r2)
    if sent != recorded:
        diff = difflib.unified_diff(view_text(recorded).splitlines(), view_text(sent).splitlines(),
                                    "recorded", "sent", lineterm="", n=2)
        lines = list(diff)
        if len(lines) > 40:
            lines = lines[:40] + [f"... ({len(lines) - 40} more diff lines)"]
        raise AssertionError("body:\n" + "\n".join(lines))


MATCHERS = {"method": match_method, "batch_url": match_url, "batch_query": match_query, "batch_body": match_body}
MATCH_ON = ("method", "batch_url", "batch_query", "batch_body")
#: the matchers ``match_key`` equality stands for: replay compares keys, and runs the matchers
#: themselves (which build the diffs) only to explain a request it has no answer for
_KEY_MATCHERS = tuple(MATCHERS[name] for name in MATCH_ON)


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
    return recorder


# ---------------------------------------------------------------------------- persistence

def _collapse_polls(requests: list[Any], responses: list[Any]) -> tuple[list[Any], list[Any]]:
    """Drop a GET whose response equals the last kept response for the same URL."""
    kept_requests, kept_responses = [], []
    last: dict[tuple[str, str], Any] = {}
    for request, response in zip(requests, responses, strict=True):
        key = (request.method, request.uri)
        if request.method in _POLLING and key in last:
            previous = last[key]
            if (previous["status"]["code"] == response["status"]["code"]
                    and previous["body"].get("string") == response["body"].get("string")):
                continue
        last[key] = response
        kept_requests.append(request)
        kept_responses.append(response)
    return kept_requests, kept_responses


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and ``os.replace``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, _file_mode())  # mkstemp's 0600 would make the cassette private to its recorder
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def refuse_if_secret(path: Path, text: str) -> None:
    findings = find_secrets(text)
    if findings:
        listed = "; ".join(str(f) for f in findings[:5])
        raise CassetteError(
            f"pytest-batch refused to write cassette {path}: it would contain {listed}. Nothing was written; "
            "remove the key from the request/response (or unset the env var it matched) and record again.")


#: the last cassettes read, by path, with the text they were parsed from: replaying one cassette
#: again (tests sharing it, reruns) reads the file (microseconds) but skips the YAML (milliseconds).
#: Keyed by content, not mtime, so an edit is always seen. Least recently used first.
_LOADED: OrderedDict[str, tuple[str, Any]] = OrderedDict()
_LOADED_MAX = 32


class AtomicPersister:
    """vcrpy persister: polls collapsed, secrets refused, files replaced atomically."""

    @classmethod
    def load_cassette(cls, cassette_path: str | Path, serializer: Any) -> Any:
        """vcrpy's ``(requests, responses[, metadata])``, parsed once per distinct text of the file.

        Sharing a parse is safe: vcrpy copies each request and response (``before_record_*``)
        before it keeps them, and the metadata is copied here."""
        from vcr.persisters.filesystem import CassetteDecodeError, CassetteNotFoundError
        from vcr.serialize import deserialize

        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise CassetteDecodeError("Can't read Cassette, Encoding is broken") from err
        if not text.strip():  # as vcrpy: an empty file is a missing cassette
            raise CassetteNotFoundError()
        key = str(path)
        cached = _LOADED.get(key)
        if cached is not None and cached[0] == text:
            _LOADED.move_to_end(key)
            loaded = cached[1]
        else:
            loaded = deserialize(text, serializer)
            _LOADED[key] = (text, loaded)
            while len(_LOADED) > _LOADED_MAX:
                _LOADED.popitem(last=False)
        return tuple(list(part) if isinstance(part, list) else copy.deepcopy(part) for part in loaded)

    @staticmethod
    def save_cassette(cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any) -> None:
        from vcr.serialize import serialize

        requests, responses = _collapse_polls(cassette_dict["requests"], cassette_dict["responses"])
        text = serialize({**cassette_dict, "requests": requests, "responses": responses}, serializer)
        path = Path(cassette_path)
        refuse_if_secret(path, text)
        write_atomically(path, text)


# ---------------------------------------------------------------------------- the session

def _sdk_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for dist in ("openai", "anthropic", "google-genai", "pytest-batch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    if versions["pytest-batch"] is None:
        from . import __version__ as own_version  # type: ignore[attr-defined]

        versions["pytest-batch"] = own_version
    return versions


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _describe(request: Any) -> list[str]:
    lines = [f"  {request.method} {request.uri}"]
    view = _request_view(request)
    if view is not None:
        import json

        text = json.dumps(view, ensure_ascii=False, default=str)
        if len(text) > 240:
            text = text[:240] + f"… ({len(text)} characters)"
        lines.append(f"    body: {text}")
    return lines


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
    misses: list[str] = field(default_factory=list)
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
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            remaining = _LAST_LOOK
        try:
            return wait_fn(remaining)
        except TimeoutError:
            if self.mode == "record" and self.record_timeout is not None:
                self.pending(batch_id)
            raise

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
        return (f"pytest-batch: the pending batch {self.pending_batch_id} in {self.path} no longer exists at "
                f"{base_url} (deleted, expired, or the emulator server was restarted): delete the cassette{restore} "
                f"and run --batch-mode=record again: {self.record_command()}")

    def detect_batch_id(self) -> str | None:
        """The id in the last batch-creating response recorded so far."""
        if self.cassette is None:
            return None
        import json

        for request, response in reversed(self.cassette.data):
            if request.method != "POST" or "batch" not in request.path.lower() or "cancel" in request.path.lower():
                continue
            try:
                body = json.loads(response["body"]["string"] or b"{}")
            except ValueError:
                continue
            if isinstance(body, dict) and (body.get("id") or body.get("name")):
                return str(body.get("id") or body.get("name"))
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
        lines += _describe(filtered)
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
            lines += _describe(stored)
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
        return "\n".join(lines)

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
            "recorded_at": _now(),
            "provider": self.provider,
            "model": self.model,
            "recorded_against": self.recording_against(before),
            "sdk_versions": _sdk_versions(),
        }


def _make_cassette_class(session: CassetteSession) -> type:
    from vcr.cassette import Cassette
    from vcr.errors import UnhandledHTTPRequestError
    from vcr.matchers import requests_match

    class BatchCassette(Cassette):  # type: ignore[misc]
        """A vcrpy Cassette that plays a URL's responses in order, then repeats the last GET."""

        #: the furthest interaction replayed so far: the replay's place in the recording
        _position = -1
        #: (request, index): vcrpy asks can_play_response_for, then play_response, with one request
        _plan: tuple[Any, int | None] | None = None

        def _load(self) -> None:
            if session.mode == "record" and not session.resuming:
                return  # record from scratch; the old file is replaced on success
            super()._load()
            if session.resuming:
                mutating = [i for i, (request, _) in enumerate(self.data) if request.method in _MUTATING]
                session.replay_limit = mutating[-1] + 1 if mutating else 0

        def _candidates(self, request: Any) -> list[int]:
            filtered = self._before_record_request(request)
            if not filtered:
                return []
            limit = session._replayable_count(self)
            if tuple(self._match_on) != _KEY_MATCHERS:  # someone changed the matchers: ask each of them
                return [i for i, (stored, _) in enumerate(self.data[:limit])
                        if requests_match(filtered, stored, self._match_on)]
            key = match_key(filtered)
            return [i for i, (stored, _) in enumerate(self.data[:limit]) if match_key(stored) == key]

        def _next_index(self, request: Any) -> int | None:
            if self._plan is None or self._plan[0] is not request:
                self._plan = (request, self._choose(request))
            return self._plan[1]

        def _choose(self, request: Any) -> int | None:
            """Non-GET: the next unplayed match. GET: the URL's next recorded state, but never one
            older than the replay's place in the recording; after the last, the last again."""
            candidates = self._candidates(request)
            if request.method not in _POLLING:
                return next((i for i in candidates if self.play_counts[i] == 0), None)
            if not candidates:
                return None
            played = [i for i in candidates if self.play_counts[i]]
            last = played[-1] if played else -1
            # the test moved on past states it did not poll for (it polled fewer times than
            # when recorded): answer with the state current at that point of the recording
            overtaken = [i for i in candidates if last < i <= self._position]
            if overtaken:
                return overtaken[-1]
            ahead = [i for i in candidates if i > last]
            return ahead[0] if ahead else last

        def can_play_response_for(self, request: Any) -> bool:
            if self._next_index(request) is not None:
                return True
            if session.mode == "replay":
                message = session.mismatch_message(self, request)
                session.misses.append(message)
                raise _ReplayMiss(message)
            if session.resuming and request.method in _MUTATING and self._submits_again(request):
                message = session.mismatch_message(self, request, why=(
                    f"pytest-batch refused to send this request while resuming pending cassette {self.path}: it "
                    f"would submit again (batch {session.pending_batch_id} is still running). The submission must "
                    "match the recorded one exactly; to start over, delete the cassette (and cancel the running "
                    "batch)."))
                session.misses.append(message)
                raise _ReplayMiss(message)
            return False

        def _submits_again(self, request: Any) -> bool:
            filtered = self._before_record_request(request)
            for stored, _ in self.data[: session._replayable_count(self)]:
                try:
                    match_method(filtered, stored)
                    match_url(filtered, stored)
                except AssertionError:
                    continue
                return True
            return False

        def play_response(self, request: Any) -> Any:
            index = self._next_index(request)
            self._plan = None  # playing changes what the next request gets
            if index is None:
                raise UnhandledHTTPRequestError(f"The cassette ({self._path!r}) has no answer for {request!r}")
            if self.play_counts[index] == 0 and index < self._loaded_count:
                self._played_interactions.append(self.data[index])
            self.play_counts[index] += 1
            self._position = max(self._position, index)
            return self.data[index][1]

        def __contains__(self, request: Any) -> bool:
            return self._next_index(request) is not None

    return BatchCassette


class _UseCassette:
    """The context manager ``use_cassette`` returns; it yields a CassetteSession."""

    def __init__(self, session: CassetteSession) -> None:
        self.session = session
        self._vcr_context: Any = None
        self._previous: dict[str, Any] = {}

    def __enter__(self) -> CassetteSession:
        session = self.session
        path = session.path
        if path.exists():
            try:
                self._previous = read_metadata(path.read_text(encoding="utf-8"))
            except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same one-line answer
                if session.mode == "replay":
                    raise CassetteError(f"pytest-batch cannot read cassette {path}: {exc}. Re-record it: "
                                        f"{session.record_command()}") from None
                self._previous = {}
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
        cassette_class = _make_cassette_class(session)
        self._vcr_context = cassette_class.use_arg_getter(lambda: dict(config))
        session.cassette = self._vcr_context.__enter__()
        return session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: types.TracebackType | None) -> bool:
        session = self.session
        cassette = session.cassette
        # vcrpy saves on a clean exit only; pass an exception so it just unpatches, and save here.
        self._vcr_context.__exit__(RuntimeError, RuntimeError("pytest-batch saves the cassette itself"), None)
        if isinstance(exc, _ReplayMiss) or (session.misses and exc is None):
            raise CassetteMismatch(session.misses[-1] if session.misses else str(exc)) from None
        if session.mode != "record":
            if session.misses and exc is not None and not isinstance(exc, CassetteError):
                raise CassetteMismatch(session.misses[-1]) from exc
            return False
        timed_out = isinstance(exc, TimeoutError) and session.record_timeout is not None
        if isinstance(exc, RecordingPending) or timed_out:
            batch_id = getattr(exc, "batch_id", None) or session.pending_batch_id or session.detect_batch_id()
            self._save(cassette, pending={"batch_id": batch_id, "since": _now(),
                                          "record_timeout": session.record_timeout})
            if timed_out:
                raise RecordingPending(session._pending_message(batch_id), batch_id=batch_id,
                                       path=session.path) from exc
            return False
        if exc is not None:
            return False  # a failed recording never replaces a cassette
        self._save(cassette, pending=None)
        return False

    def _save(self, cassette: Any, pending: dict[str, Any] | None) -> None:
        metadata = self.session.metadata(self._previous)
        if pending:
            metadata["pending"] = pending
            if self.session.replaces_complete and self.session.path.is_file():
                # a pending recording must not cost the complete one it replaces: keep that beside it
                write_atomically(previous_path(self.session.path), self.session.path.read_text(encoding="utf-8"))
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
                              nodeid or _current_nodeid(), pytest_config=config)
    return _UseCassette(session)


# ---------------------------------------------------------------------------- auto mode

CassetteState = Literal["missing", "recorded", "pending", "unreadable"]


def cassette_state(path: str | os.PathLike[str]) -> CassetteState:
    """``missing``; ``pending`` (a record run stopped at --batch-record-timeout with the batch still
    running: replay refuses it); ``recorded`` (replayable); ``unreadable`` (not a cassette: replay
    says so). Reads only the metadata at the top of the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "missing"
    except (OSError, UnicodeDecodeError):
        return "unreadable"
    if not text.strip():
        return "missing"  # as vcrpy: an empty file is no cassette
    try:
        metadata = read_metadata(text)
    except Exception:  # noqa: BLE001 - any YAML error: let replay report it
        return "unreadable"
    return "pending" if metadata.get("pending") else "recorded"


def is_pending(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a recording left pending (see ``cassette_state``)."""
    return cassette_state(path) == "pending"


def auto_mode(path: str | os.PathLike[str], nodeid: str | None = None) -> Literal["replay", "simulate"]:
    """What ``--batch-mode=auto`` does with the cassette at ``path``: replay it if it is recorded (or
    unreadable, so replay says why), otherwise simulate. A pending cassette cannot replay, so the
    test simulates with a ``PytestWarning`` that names the cassette and how to finish it."""
    state = cassette_state(path)
    if state == "pending":
        import warnings

        import pytest

        warnings.warn(pytest.PytestWarning(pending_in_auto_message(path, nodeid)), stacklevel=2)
    return "replay" if state in ("recorded", "unreadable") else "simulate"


def pending_in_auto_message(path: str | os.PathLike[str], nodeid: str | None = None) -> str:
    try:
        metadata = read_metadata(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - the message must not fail
        metadata = {}
    batch_id = (metadata.get("pending") or {}).get("batch_id")
    what = f"batch {batch_id}" if batch_id else "its batch"
    return (f"pytest-batch: cassette {path} is pending ({what} was still running when recording stopped), so "
            f"auto mode simulates this test instead of replaying it. Finish the recording with: "
            f"{record_command(nodeid or _current_nodeid(), recorded_against=metadata.get('recorded_against'))}")


# ---------------------------------------------------------------------------- checking a folder

@dataclass
class CassetteReport:
    """What ``check_cassettes`` found; ``ok`` when nothing is stale, leaking or pending."""

    cassette_dir: Path
    checked: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    secrets: dict[Path, list[SecretFinding]] = field(default_factory=dict)
    pending: dict[Path, str | None] = field(default_factory=dict)
    unreadable: dict[Path, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.stale or self.secrets or self.pending or self.unreadable)

    def lines(self) -> list[str]:
        out = []
        for path in self.stale:
            out.append(f"stale: {path} (no collected test uses it; delete it or restore its test)")
        for path, findings in self.secrets.items():
            for finding in findings:
                out.append(f"secret: {path}:{finding.line}: {finding.kind} ({finding.preview}); "
                           "delete the cassette, rotate the key, record again")
        for path, batch_id in self.pending.items():
            out.append(f"pending: {path} (batch {batch_id} still running; run record mode again to finish it)")
        for path, why in self.unreadable.items():
            out.append(f"unreadable: {path}: {why}")
        return out

    def format(self) -> str:
        return "\n".join(self.lines()) or f"{len(self.checked)} cassettes in {self.cassette_dir}: all clean"


def check_cassettes(cassette_dir: str | os.PathLike[str], used_paths: Iterable[str | os.PathLike[str]] | None = None
                    ) -> CassetteReport:
    """Scan every ``*.yaml``/``*.yml`` under ``cassette_dir`` for secrets and pending recordings;
    with ``used_paths`` (the cassettes the collected tests map to), also list the stale ones."""
    root = Path(cassette_dir)
    report = CassetteReport(root)
    if not root.is_dir():
        return report
    used = None if used_paths is None else {Path(p).resolve() for p in used_paths}
    for path in sorted(p for pattern in ("*.yaml", "*.yml") for p in root.rglob(pattern)):
        report.checked.append(path)
        if used is not None and path.resolve() not in used:
            report.stale.append(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.unreadable[path] = str(exc)
            continue
        findings = find_secrets(text)
        if findings:
            report.secrets[path] = findings
        try:
            pending = read_metadata(text).get("pending")
        except Exception as exc:  # noqa: BLE001 - report any YAML error as one line
            report.unreadable[path] = f"not valid YAML ({type(exc).__name__})"
            continue
        if pending:
            report.pending[path] = pending.get("batch_id")
    return report


__all__ = [
    "CassetteError", "CassetteMismatch", "CassetteReport", "CassetteSession", "CassetteState", "RecordingPending",
    "ReplayMiss", "auto_mode", "cassette_path", "cassette_state", "check_cassettes", "is_pending", "preload",
    "record_command", "use_cassette",
]

