"""Replaying recorded exchanges through a fresh emulator and naming what it answers differently.

A recording is a list of exchanges (request, response) made against some server: the live API
(a cassette recorded with ``--batch-mode=record`` against it, or ``verify --live``'s probe) or
an emulator. ``replay`` sends every request, in order, to one new ``Emulator`` and compares
each answer with the recorded one (``shapes.compare_responses``). Two things make the
emulator reach the recorded state:

- ids: the emulator issues its own file and batch ids. Each answer is walked beside the
  recorded one, and every id-like value that differs (``id``, ``*_id``, ``name``,
  ``results_url``, ``responsesFile``, upload URL headers) is remembered; later request URLs
  and bodies get the emulator's value in place of the recorded one, so a retrieve of the
  recorded batch reaches the emulator's batch.
- states: the emulator runs on a frozen clock with a ``seconds`` lifecycle. Each recorded read
  (GET) showing a state (``status``, ``processing_status``, ``state``, ``done``) is answered
  by the emulator in that state (``_read_in_state``): as it stands, held where it is (a cancel
  not finished yet stays ``cancelling``), or with its clock moved forward in steps, whichever
  shows the recorded state with the fewest differences. A state it never reaches is drift,
  and the emulator stays where it came closest instead of running ahead of the recording.
  A batch may also run on between the last poll and a cancel: when the first poll after a
  cancel still differs, the cancel is sent again at later moments (``_cancel_later``).
"""

from __future__ import annotations

import copy
import json
import re
from functools import partial
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..cassettes.format import HEADER, CassetteFormatError, CassetteSerializer, encode_body, read_metadata
from ..cassettes.scrub import to_default_hosts
from ..endpoints import PROVIDERS, provider_of_host
from .shapes import Difference, compare_responses, shape_of

#: the emulator's lifecycle during a replay: progress is clock seconds / LIFECYCLE_SECONDS.
LIFECYCLE_SECONDS = 100.0
STEP_SECONDS = 2.5
STATE_KEYS = frozenset({"status", "processing_status", "state", "done"})
#: states a batch never leaves (wire-formats.md A.3, B.2, C.4), as ``_states`` spells them: an
#: emulator's batch in one of them stands still however far its clock moves
FINAL_STATES = frozenset(f'"{name}"' for name in (
    "completed", "failed", "expired", "cancelled", "ended", "BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED",
    "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED", "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")) | {"true"}
#: keys whose differing values are ids the emulator issued in place of the recorded ones
ID_KEYS = frozenset({"id", "name", "results_url", "responsesFile", "fileName", "uri", "downloadUri"})
URL_HEADERS = frozenset({"x-goog-upload-url", "location"})


@dataclass
class Exchange:
    """One recorded request and response (bodies as bytes, headers one value each)."""

    method: str
    uri: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Checked:
    """One exchange as replayed: where it went and what differed."""

    index: int
    provider: str
    endpoint: str
    differences: list[Difference]


@dataclass
class Replay:
    """A whole recording, replayed."""

    source: str
    provider: str
    recorded_against: str
    checked: list[Checked] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(c.differences for c in self.checked)


class RecordingError(Exception):
    """A cassette verify cannot read (cut short, not valid YAML, a bad edit)."""


class NotACassette(RecordingError):  # noqa: N818 - a kind of file, not a failure: a directory may hold others
    """A YAML file that is plainly something else (an answers file, a config) next to the cassettes."""


#: every cassette has one: pytest-batch's starts with its header, vcrpy's YAML has a top-level
#: ``interactions:`` key (vcrpy's serializer writes it block style)
_CASSETTE_KEY = re.compile(r"^interactions:", re.MULTILINE)


def _one(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) else str(value)


def load_cassette(path: Path) -> tuple[dict[str, Any], list[Exchange]]:
    """The metadata and exchanges of a cassette file (pytest-batch's YAML, or a plain vcrpy one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from None
    if not text.startswith(HEADER) and not _CASSETTE_KEY.search(text):
        raise NotACassette(f"{path} is not a cassette (it has no top-level `interactions:`)")
    try:
        data = CassetteSerializer.deserialize(text)
        metadata = read_metadata(text)
    except CassetteFormatError as exc:
        raise RecordingError(f"cannot read cassette {path}: {exc}; record it again "
                             "(`pytest --batch-mode=record`)") from None
    except Exception as exc:  # noqa: BLE001 - vcrpy's own reader may raise anything on a bad edit
        raise RecordingError(f"cannot read cassette {path} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from None
    exchanges = []
    for interaction in data.get("interactions") or []:
        request, response = interaction["request"], interaction["response"]
        status = response["status"]
        body = (response.get("body") or {}).get("string") or b""
        exchanges.append(Exchange(
            request["method"].upper(), request["uri"],
            {k.lower(): _one(v) for k, v in (request.get("headers") or {}).items()},
            request.get("body") or b"" if not isinstance(request.get("body"), str) else request["body"].encode(),
            int(status["code"] if isinstance(status, dict) else status),
            {k.lower(): _one(v) for k, v in (response.get("headers") or {}).items()},
            body if isinstance(body, bytes) else str(body).encode()))
    return metadata, exchanges


def provider_of(uri: str) -> str | None:
    parts = urlsplit(uri)
    provider = provider_of_host(parts.hostname)  # any Azure resource too
    if provider is None:
        head = parts.path.lstrip("/").partition("/")[0]
        provider = head if head in PROVIDERS else None
    return provider


def endpoint_of(method: str, uri: str) -> str:
    """``GET /v1/batches/{id}``: the path with ids and model names replaced, for grouping."""
    path = urlsplit(uri).path
    segments = path.split("/")
    for i in range(1, len(segments)):
        before = segments[i - 1]
        if before in ("batches", "files", "models") and segments[i]:
            head, colon, verb = segments[i].partition(":")
            segments[i] = ("{model}" if before == "models" else "{id}") + colon + verb
    return f"{method} {'/'.join(segments)}"


def _view(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    return {"status": status, "headers": headers, "body": encode_body(body, headers.get("content-type"))}


def _parsed(view: dict[str, Any]) -> Any:
    body = view["body"] or {}
    return body.get("json", body.get("jsonl")) if isinstance(body, dict) else None


def _states(view: dict[str, Any]) -> dict[str, set[str]]:
    parsed = _parsed(view)
    if parsed is None:
        return {}
    return {path: values for path, values in shape_of(parsed)[1].items() if path.rsplit(".", 1)[-1] in STATE_KEYS}


def _final(view: dict[str, Any]) -> bool:
    return any(values & FINAL_STATES for values in _states(view).values())


def _id_pairs(recorded: Any, emulated: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(recorded, dict) and isinstance(emulated, dict):
        for name, value in recorded.items():
            if name in emulated:
                yield from _id_pairs(value, emulated[name], name)
    elif isinstance(recorded, list) and isinstance(emulated, list):
        for mine, theirs in zip(recorded, emulated, strict=False):
            yield from _id_pairs(mine, theirs, key)
    elif (isinstance(recorded, str) and isinstance(emulated, str) and recorded != emulated and len(recorded) >= 6
          and (key in ID_KEYS or key.endswith(("_id", "Id"))) and key != "custom_id"):
        yield recorded, emulated


class _IdMap:
    def __init__(self) -> None:
        self.pairs: dict[str, str] = {}

    def learn(self, pairs: Iterable[tuple[str, str]]) -> None:
        for recorded, emulated in pairs:
            self.pairs.setdefault(recorded, emulated)

    def apply(self, text: str) -> str:
        for recorded in sorted(self.pairs, key=len, reverse=True):
            if recorded in text:
                text = text.replace(recorded, self.pairs[recorded])
        return text

    def apply_bytes(self, raw: bytes) -> bytes:
        for recorded in sorted(self.pairs, key=len, reverse=True):
            encoded = recorded.encode()
            if encoded in raw:
                raw = raw.replace(encoded, self.pairs[recorded].encode())
        return raw


def replay(exchanges: list[Exchange], *, source: str, provider: str | None = None,
           recorded_against: str = "unknown", emulator: Any = None) -> Replay:
    """Send ``exchanges`` through one fresh emulator and compare every answer (module docstring)."""
    from ..sim.clock import FrozenClock
    from ..sim.core import Emulator
    from ..sim.http import DroppedConnection, SimRequest

    emulator = emulator or Emulator(lifecycle=f"seconds:{LIFECYCLE_SECONDS:g}", clock=FrozenClock())
    provider = provider or next((p for p in (provider_of(e.uri) for e in exchanges) if p), "unknown")
    report = Replay(source, provider, recorded_against)
    ids = _IdMap()

    def send(exchange: Exchange, uri: str, body: bytes, target: Any = None) -> dict[str, Any]:
        target = target or emulator
        request = SimRequest.build(exchange.method, uri, dict(exchange.request_headers), body)
        try:
            with target.lock:
                response = target.handle(request)
                raw = response.read()
        except DroppedConnection:
            return {"status": 0, "headers": {}, "body": None}
        return _view(response.status, {k.lower(): v for k, v in response.headers.items()}, raw)

    #: the last cancel (its exchange, a copy of the emulator before it, where it went): a batch
    #: cancelled between two polls may have run on after the last poll the recording shows
    cancel: tuple[Checked, Any, partial[dict[str, Any]], dict[str, Any]] | None = None
    for index, exchange in enumerate(exchanges):
        own_provider = provider_of(exchange.uri) or provider
        uri = ids.apply(to_default_hosts(exchange.uri, own_provider))
        body = ids.apply_bytes(exchange.request_body)
        recorded = _view(exchange.status, exchange.headers, exchange.body)
        wanted = _states(recorded) if exchange.method == "GET" else {}
        before = copy.deepcopy(emulator) if _is_cancel(exchange) else None
        if wanted:
            read = partial(send, exchange, uri, body)
            emulator, emulated, differences = _read_in_state(emulator, recorded, wanted, read)
            if differences and cancel is not None:
                emulator, emulated, differences = _cancel_later(cancel, recorded, wanted, read,
                                                                (emulator, emulated, differences))
            cancel = None  # the first poll after a cancel decides when it happened
        else:
            emulated = send(exchange, uri, body)
            differences = compare_responses(recorded, emulated)
        ids.learn(_id_pairs(_parsed(recorded), _parsed(emulated)))
        ids.learn((exchange.headers[name], emulated["headers"][name]) for name in URL_HEADERS
                  if name in exchange.headers and name in emulated["headers"])
        checked = Checked(index, own_provider, endpoint_of(exchange.method, exchange.uri), differences)
        report.checked.append(checked)
        if before is not None:
            cancel = (checked, before, partial(send, exchange, uri, body), recorded)
        elif exchange.method != "GET":
            cancel = None  # another change came between: the cancel's moment stays as it is
    return report


def _read_in_state(emulator: Any, recorded: dict[str, Any], wanted: dict[str, set[str]],
                   read: Callable[[Any], dict[str, Any]]) -> tuple[Any, dict[str, Any], list[Difference]]:
    """A recorded read (GET) answered by the emulator in the state the recording shows there:
    (the emulator to go on with, its answer, the differences).

    The emulator is read at these moments, each on its own copy, never going back in time:
    as it stands; held (every batch on the ``manual`` lifecycle for this one read, so a batch
    stays where it is: a cancel the live API had not finished yet stays ``cancelling``, where the
    emulator would end it on this read); then later and later (the clock moved in steps until
    the lifecycle has run out). The answer kept is the one in the recorded state with the fewest
    differences (within a state progress shows too: counts, Gemini leaving a zero count out), the
    earliest on a tie; when no moment reaches the recorded state (a status the emulator does not
    know is drift), the one with the fewest differences, so the emulator does not run ahead of
    the recording and the later exchanges still compare like with like."""
    best: tuple[bool, int] | None = None
    kept: tuple[Any, dict[str, Any], list[Difference]] | None = None

    def consider(target: Any, view: dict[str, Any], *, moves_on: bool = False) -> bool:
        nonlocal best, kept
        differences = compare_responses(recorded, view)
        rank = (_states(view) == wanted, -len(differences))
        if best is None or rank > best:  # a copy of a target that is read again later
            best, kept = rank, (copy.deepcopy(target) if moves_on else target, view, differences)
        return rank[0]

    snapshot = copy.deepcopy(emulator)
    view = read(emulator)
    if consider(emulator, view) and (best == (True, 0) or _final(view)):
        return kept  # type: ignore[return-value] - set by consider: nothing closer to come
    if not best[0]:  # type: ignore[index]
        held = copy.deepcopy(snapshot)
        own = held.lifecycle
        held.set_lifecycle("manual")
        view = read(held)
        held.set_lifecycle(own)
        consider(held, view)
        if _final(view):  # the batch had ended before this read: it stands still from here on
            return kept  # type: ignore[return-value]
    later = snapshot
    stepped, matched = 0.0, best is not None and best[0]
    while stepped < LIFECYCLE_SECONDS + STEP_SECONDS:
        later.clock.advance(STEP_SECONDS)
        stepped += STEP_SECONDS
        view = read(later)
        in_state = consider(later, view, moves_on=True)
        if (matched and not in_state) or _final(view):
            break  # past the recorded state, or at the end: later moments only move further away
        matched = matched or in_state
    assert kept is not None
    return kept


def _is_cancel(exchange: Exchange) -> bool:
    """OpenAI's and Anthropic's ``POST .../cancel``, Gemini's ``POST ...:cancel``."""
    return exchange.method == "POST" and urlsplit(exchange.uri).path.endswith(("/cancel", ":cancel"))


def _cancel_later(cancel: tuple[Checked, Any, partial[dict[str, Any]], dict[str, Any]], recorded: dict[str, Any],
                  wanted: dict[str, set[str]], read: Callable[[Any], dict[str, Any]],
                  answer: tuple[Any, dict[str, Any], list[Difference]]) -> tuple[Any, dict[str, Any], list[Difference]]:
    """A read after a cancel that still differs: the live batch may have run on between the last
    poll and the cancel (a Gemini batch cancelled then keeps the results it had: one more
    ``successfulRequestCount``, an ``output``). Send the cancel again at later moments, each on a
    copy of the emulator from before it, and keep the moment where the cancel and this read
    together differ least (the cancel's differences are replaced by that moment's)."""
    checked, before, send_cancel, recorded_cancel = cancel
    best = (len(checked.differences) + len(answer[2]), answer, checked.differences)
    later, stepped = copy.deepcopy(before), 0.0
    while best[0] and stepped < LIFECYCLE_SECONDS + STEP_SECONDS:
        later.clock.advance(STEP_SECONDS)
        stepped += STEP_SECONDS
        trial = copy.deepcopy(later)
        cancel_differences = compare_responses(recorded_cancel, send_cancel(trial))
        moment = _read_in_state(trial, recorded, wanted, read)
        if len(cancel_differences) + len(moment[2]) < best[0]:
            best = (len(cancel_differences) + len(moment[2]), moment, cancel_differences)
    checked.differences = best[2]
    return best[1]


def replay_cassette(path: Path) -> Replay:
    metadata, exchanges = load_cassette(path)
    return replay(exchanges, source=str(path), provider=metadata.get("provider"),
                  recorded_against=str(metadata.get("recorded_against") or "unknown"))


def find_cassettes(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
