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
- states: the emulator runs on a frozen clock with a ``seconds`` lifecycle. When a read
  (GET) was recorded in another state (``status``, ``processing_status``, ``state``, ``done``)
  than the emulator's, the clock moves forward in steps and the read is sent again until the
  states agree (or the lifecycle has run out: then the difference is drift).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..cassettes.format import CassetteSerializer, encode_body, read_metadata
from ..cassettes.scrub import to_default_hosts
from ..endpoints import PROVIDERS, provider_of_host
from .shapes import Difference, compare_responses, shape_of

#: the emulator's lifecycle during a replay: progress is clock seconds / LIFECYCLE_SECONDS.
LIFECYCLE_SECONDS = 100.0
STEP_SECONDS = 2.5
STATE_KEYS = frozenset({"status", "processing_status", "state", "done"})
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
    """A file that is not a cassette verify can read."""


def _one(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) else str(value)


def load_cassette(path: Path) -> tuple[dict[str, Any], list[Exchange]]:
    """The metadata and exchanges of a cassette file (pytest-batch's YAML, or a plain vcrpy one)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = CassetteSerializer.deserialize(text)
        metadata = read_metadata(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # yaml errors, missing keys: not a cassette
        raise RecordingError(f"{path} is not a cassette ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
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

    for index, exchange in enumerate(exchanges):
        own_provider = provider_of(exchange.uri) or provider
        uri = ids.apply(to_default_hosts(exchange.uri, own_provider))
        body = ids.apply_bytes(exchange.request_body)
        recorded = _view(exchange.status, exchange.headers, exchange.body)
        emulated = send(exchange, uri, body)
        differences = compare_responses(recorded, emulated)
        wanted = _states(recorded) if exchange.method == "GET" else {}
        stepped = 0.0
        while wanted and _states(emulated) != wanted and stepped < LIFECYCLE_SECONDS + STEP_SECONDS:
            emulator.clock.advance(STEP_SECONDS)
            stepped += STEP_SECONDS
            emulated = send(exchange, uri, body)
            differences = compare_responses(recorded, emulated)
        # Within a state, progress shows too (Gemini leaves a zero count out, proto3 style): try
        # later moments of the same state on a copy, and keep the closest.
        ahead = 0.0
        while wanted and differences and _states(emulated) == wanted and stepped < LIFECYCLE_SECONDS + STEP_SECONDS:
            trial = copy.deepcopy(emulator)
            ahead += STEP_SECONDS
            trial.clock.advance(ahead)
            stepped += STEP_SECONDS
            trial_view = send(exchange, uri, body, trial)
            if _states(trial_view) != wanted:
                break
            trial_differences = compare_responses(recorded, trial_view)
            if len(trial_differences) < len(differences):
                emulator, emulated, differences, ahead = trial, trial_view, trial_differences, 0.0
        ids.learn(_id_pairs(_parsed(recorded), _parsed(emulated)))
        ids.learn((exchange.headers[name], emulated["headers"][name]) for name in URL_HEADERS
                  if name in exchange.headers and name in emulated["headers"])
        report.checked.append(Checked(index, own_provider, endpoint_of(exchange.method, exchange.uri),
                                      differences))
    return report


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
