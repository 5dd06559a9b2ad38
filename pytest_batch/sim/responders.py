"""What each request in a batch gets back.

A backend turns every request line into a provider-neutral ``BatchItem`` and asks the
``Responder`` for an ``Answer``; the backend then wraps the answer in its provider's real
success body (or error row). The responder tries, in order: the expectation table (first
match wins), the user's callables, a schema-synthetic object when the request carries a
JSON schema, and a deterministic text answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import invalid_schema_message
from .synthesis import (  # noqa: F401 - re-exported
    Generator,
    InvalidSchema,
    ItemRandom,
    SynthesisError,
    compile_schema,
    synthesize,
    violate,
)

#: outcomes an answer can have; every one but "ok" is something a test asks for.
OUTCOMES = (
    "ok",
    "http_error",
    "expired",
    "canceled",
    "malformed_json",
    "refusal",
    "truncated",
    "schema_violation",
)


@dataclass
class BatchItem:
    """One request of a batch, as every provider's backend describes it to a responder."""

    provider: str
    custom_id: str
    index: int
    model: str
    #: the text of every message, system first, joined by newlines: what ``match`` searches.
    prompt: str
    schema: dict[str, Any] | None = None
    schema_name: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    value: Any = None
    outcome: str = "ok"
    status: int = 200
    message: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; choose one of {', '.join(OUTCOMES)}")

    @property
    def text(self) -> str:
        """The answer as the model's text: JSON for structured values."""
        if isinstance(self.value, str):
            return self.value
        return compact_json(self.value)


#: one shared encoder: json.dumps with options builds a new encoder on every call.
compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

ResponderFn = Callable[[BatchItem], "Answer | Any | None"]


class ExpectationError(ValueError):
    """An expectation (a ``expect(...)`` call, a responses file's entry, a control-API row) that
    cannot be answered with: refused when it is loaded, never when a batch falls through to it."""


#: ``response`` left out: an "ok" answer needs one (a None response is written ``response: null``).
_NO_RESPONSE: Any = type("_NoResponse", (), {"__repr__": lambda self: "<no response>"})()

#: each field of an expectation, with the types it takes and how to say them in an error
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "custom_id": ((str,), "a string (the request's custom_id / key)"),
    "match": ((str,), "a string (text the prompt contains); quote numbers in YAML: match: \"12345\""),
    "regex": ((str,), "a string (a regular expression searched in the prompt)"),
    "outcome": ((str,), f"one of {', '.join(OUTCOMES)}"),
    "status": ((int,), "an integer HTTP status (400-599 for an http_error)"),
    "message": ((str, type(None)), "a string or null"),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@dataclass
class Expectation:
    response: Any = _NO_RESPONSE
    custom_id: str | None = None
    match: str | None = None
    regex: str | None = None
    outcome: str = "ok"
    status: int = 200
    message: str | None = None

    def __post_init__(self) -> None:
        for name, (types, expected) in _FIELD_TYPES.items():
            value = getattr(self, name)
            if value is None and name in ("custom_id", "match", "regex"):
                continue
            if not isinstance(value, types) or isinstance(value, bool):
                raise ExpectationError(f"{name!r} must be {expected}, got {_type_name(value)} {value!r:.60}")
        if not (self.custom_id or self.match or self.regex):
            raise ExpectationError("an expectation needs one of 'custom_id', 'match' or 'regex'")
        if self.response is _NO_RESPONSE:
            if self.outcome == "ok":
                raise ExpectationError("'response' is missing: an expectation with outcome 'ok' answers with its "
                                       "response (write 'response: null' for a null answer)")
            self.response = None
        try:
            self._pattern = re.compile(self.regex) if self.regex else None
        except re.error as exc:
            raise ExpectationError(str(exc)) from None
        try:
            Answer(outcome=self.outcome)  # validates the outcome name
        except ValueError as exc:
            raise ExpectationError(str(exc)) from None

    def matches(self, item: BatchItem) -> bool:
        if self.custom_id is not None and item.custom_id != self.custom_id:
            return False
        if self.match is not None and self.match not in item.prompt:
            return False
        if self._pattern is not None and not self._pattern.search(item.prompt):
            return False
        return True

    def answer(self) -> Answer:
        return Answer(self.response, self.outcome, self.status, self.message)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "") -> Expectation:
        if not isinstance(raw, Mapping):
            raise ExpectationError(f"{where}each expectation must be an object, got {_type_name(raw)}")
        known = {"response", "custom_id", "match", "regex", "outcome", "status", "message"}
        unknown = set(raw) - known
        if unknown:
            raise ExpectationError(f"{where}unknown key(s) {sorted(map(str, unknown))}; an expectation has "
                                   f"{sorted(known)}")
        try:
            return cls(**dict(raw))
        except ValueError as exc:
            raise ExpectationError(f"{where}{exc}") from None


def expectations_from(rows: Iterable[Expectation | Mapping[str, Any]], source: str = "") -> list[Expectation]:
    """Check every row before any is used: one wrong row refuses the whole list, naming its index."""
    return [row if isinstance(row, Expectation) else Expectation.from_mapping(row, f"{source}item {i}: ")
            for i, row in enumerate(rows, 1)]


def load_expectations(path: str | Path) -> list[Expectation]:
    """Read an expectations file: JSONL, or a JSON or YAML list of the same objects."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExpectationError(f"cannot read expectations file {path}: {exc.strerror}") from None
    rows: list[tuple[str, Any]]
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or []
        except yaml.YAMLError as exc:
            raise ExpectationError(f"{path}: not valid YAML: {exc}") from None
        _check_list(path, data)
        rows = [(f"{path} item {i}: ", row) for i, row in enumerate(data, 1)]
    elif path.suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpectationError(f"{path}: not valid JSON: {exc}") from None
        _check_list(path, data)
        rows = [(f"{path} item {i}: ", row) for i, row in enumerate(data, 1)]
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((f"{path} line {number}: ", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ExpectationError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
    table = []
    for where, row in rows:
        table.append(Expectation.from_mapping(row, where))
    return table


def _check_list(path: Path, data: Any) -> None:
    if not isinstance(data, list):
        raise ExpectationError(f"{path}: expected a list of expectation objects (- match: ...\\n  response: ...), "
                               f"got {_type_name(data)}")


class Responder:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.expectations: list[Expectation] = []
        self.callables: list[ResponderFn] = []
        #: the last schema and its compiled generator, as one value: batches are answered on
        #: several threads at once, and a reader must never pair one schema with another's generator
        self._compiled: tuple[dict[str, Any], Generator] | None = None
        #: (provider, custom_id) of every request answered with made-up values (no expectation or
        #: callable answered it): what an assertion's failure message can point out
        self.synthetic: set[tuple[str, str]] = set()

    def expect(self, response: Any = _NO_RESPONSE, **where: Any) -> Expectation:
        """Add one expectation: ``expect({"name": "Alice", "age": 28}, match="Alice")``."""
        expectation = Expectation(response=response, **where)
        self.expectations.append(expectation)
        return expectation

    def load(self, source: str | Path | Iterable[Expectation | Mapping[str, Any]]) -> None:
        if isinstance(source, str | Path):
            self.expectations.extend(load_expectations(source))
            return
        self.expectations.extend(expectations_from(source))

    def add(self, fn: ResponderFn) -> None:
        """Add a callable from a ``BatchItem`` to an ``Answer``, a value, or None to pass."""
        self.callables.append(fn)

    def reset(self) -> None:
        self.expectations.clear()
        self.callables.clear()
        self.synthetic.clear()

    def __call__(self, item: BatchItem) -> Answer:
        for expectation in self.expectations:
            if expectation.matches(item):
                return expectation.answer()
        for fn in self.callables:
            result = fn(item)
            if result is not None:
                return result if isinstance(result, Answer) else Answer(result)
        self.synthetic.add((item.provider, item.custom_id))
        if item.schema is not None:
            return self._synthetic(item)
        return Answer(f"Simulated answer {item.index + 1} ({item.custom_id}) from pytest-batch.")

    def _synthetic(self, item: BatchItem) -> Answer:
        """A schema-valid answer; a request whose schema is broken fails alone (the providers reject
        that request, never the batch or the server), and so does one the emulator cannot satisfy."""
        try:
            return Answer(self._generator(item.schema)(self._rng(item)))  # type: ignore[arg-type]
        except InvalidSchema as exc:
            # in the words of the provider the request went to (rules/<provider>.py)
            return Answer(None, "http_error", 400,
                          invalid_schema_message(item.provider, item.body, item.schema_name, str(exc)))
        except (SynthesisError, RecursionError) as exc:
            return Answer(None, "http_error", 500, f"pytest-batch emulator cannot synthesize an answer for this "
                          f"request's schema: {exc}. Answer it with an expectation (emulator.expect(..., "
                          f"custom_id={item.custom_id!r}) or a responses file).")

    def _generator(self, schema: dict[str, Any]) -> Generator:
        """The compiled schema, reused while consecutive requests carry an equal schema."""
        compiled = self._compiled
        if compiled is None or (schema is not compiled[0] and schema != compiled[0]):
            compiled = self._compiled = (schema, compile_schema(schema))
        return compiled[1]

    def _rng(self, item: BatchItem) -> ItemRandom:
        digest = hashlib.blake2b(f"{self.seed}:{item.custom_id}:{item.prompt}".encode(), digest_size=8).digest()
        return ItemRandom(int.from_bytes(digest, "big"))
