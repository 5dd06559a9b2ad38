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
import math
import random
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # the parser behind re.compile, walked to generate strings matching a pattern
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _sre
    import sre_parse as _sre_parse

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


@dataclass
class Expectation:
    response: Any = None
    custom_id: str | None = None
    match: str | None = None
    regex: str | None = None
    outcome: str = "ok"
    status: int = 200
    message: str | None = None

    def __post_init__(self) -> None:
        if not (self.custom_id or self.match or self.regex):
            raise ValueError("an expectation needs one of 'custom_id', 'match' or 'regex'")
        self._pattern = re.compile(self.regex) if self.regex else None
        Answer(outcome=self.outcome)  # validates the outcome name

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
        known = {"response", "custom_id", "match", "regex", "outcome", "status", "message"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"{where}unknown key(s) {sorted(unknown)}; an expectation has {sorted(known)}")
        try:
            return cls(**dict(raw))
        except (ValueError, re.error) as exc:
            raise ValueError(f"{where}{exc}") from None


class ExpectationError(ValueError):
    pass


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
        rows = [(f"{path} item {i}: ", row) for i, row in enumerate(data, 1)]
    elif path.suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpectationError(f"{path}: not valid JSON: {exc}") from None
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
        if not isinstance(row, Mapping):
            raise ExpectationError(f"{where}each expectation must be an object, got {type(row).__name__}")
        try:
            table.append(Expectation.from_mapping(row, where))
        except ValueError as exc:
            raise ExpectationError(str(exc)) from None
    return table


class Responder:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.expectations: list[Expectation] = []
        self.callables: list[ResponderFn] = []
        self._schema: dict[str, Any] | None = None
        self._compiled: Generator | None = None

    def expect(self, response: Any = None, **where: Any) -> Expectation:
        """Add one expectation: ``expect({"name": "Alice", "age": 28}, match="Alice")``."""
        expectation = Expectation(response=response, **where)
        self.expectations.append(expectation)
        return expectation

    def load(self, source: str | Path | Iterable[Expectation | Mapping[str, Any]]) -> None:
        if isinstance(source, str | Path):
            self.expectations.extend(load_expectations(source))
            return
        for row in source:
            self.expectations.append(row if isinstance(row, Expectation) else Expectation.from_mapping(row))

    def add(self, fn: ResponderFn) -> None:
        """Add a callable from a ``BatchItem`` to an ``Answer``, a value, or None to pass."""
        self.callables.append(fn)

    def reset(self) -> None:
        self.expectations.clear()
        self.callables.clear()

    def __call__(self, item: BatchItem) -> Answer:
        for expectation in self.expectations:
            if expectation.matches(item):
                return expectation.answer()
        for fn in self.callables:
            result = fn(item)
            if result is not None:
                return result if isinstance(result, Answer) else Answer(result)
        if item.schema is not None:
            return Answer(self._generator(item.schema)(self._rng(item)))
        return Answer(f"Simulated answer {item.index + 1} ({item.custom_id}) from pytest-batch.")

    def _generator(self, schema: dict[str, Any]) -> Generator:
        """The compiled schema, reused while consecutive requests carry an equal schema."""
        if self._compiled is None or (schema is not self._schema and schema != self._schema):
            self._schema, self._compiled = schema, compile_schema(schema)
        return self._compiled

    def _rng(self, item: BatchItem) -> ItemRandom:
        digest = hashlib.blake2b(f"{self.seed}:{item.custom_id}:{item.prompt}".encode(), digest_size=8).digest()
        return ItemRandom(int.from_bytes(digest, "big"))


class ItemRandom:
    """A tiny splitmix64 generator seeded from a request's hash.

    Every request gets its own stream, so an answer depends only on the seed, the custom_id
    and the prompt (not on order or shuffling); seeding a ``random.Random`` per request cost
    more than the rest of the synthetic answer on a 50,000-request batch.
    """

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed

    def getrandbits(self, bits: int) -> int:
        out = 0
        for _ in range(0, bits, 64):
            self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            z = self.state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
            out = (out << 64) | (z ^ (z >> 31))
        return out >> (-bits % 64)

    def random(self) -> float:
        return self.getrandbits(53) / 9007199254740992

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()


# --------------------------------------------------------------------------- schemas

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


Generator = Callable[[Any], Any]


def synthesize(schema: Mapping[str, Any], rng: ItemRandom | random.Random) -> Any:
    """A deterministic object valid against ``schema``: JSON Schema as pydantic writes it,
    OpenAI's strict form, Anthropic's transformed form, or Gemini's uppercase OpenAPI subset."""
    return compile_schema(schema)(rng)


def compile_schema(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
                   depth: int = 0, where: str | None = None) -> Generator:
    """Walk ``schema`` once into a generator from a random source to a valid value.

    A batch's requests usually share one schema: compiled once, it is only called per request.
    ``where`` names the field being compiled, for errors (``User.address.zip``).
    """
    root = root if root is not None else schema
    if where is None:
        where = str(schema.get("title") or "the schema root")
    kind = schema.get("type")
    leaf = _LEAVES.get(kind) if kind.__class__ is str else None
    if leaf is not None and schema.keys() <= _PLAIN_KEYS:  # the common case, e.g. {"type", "title"}
        return leaf
    if depth > 8:  # a model that contains itself: stop expanding
        return lambda rng: {}
    if "$ref" in schema:
        return compile_schema(_resolve(schema["$ref"], root), root, depth + 1, where)
    if "const" in schema:
        const = schema["const"]
        return lambda rng: const
    if schema.get("enum"):
        first = schema["enum"][0]
        return lambda rng: first
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if str(s.get("type", "")).lower() != "null"] or schema[key]
            return compile_schema(options[0], root, depth + 1, where)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part["$ref"], root) if "$ref" in part else part)
        return compile_schema(merged, root, depth + 1, where)
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower() if kind else ("object" if "properties" in schema else "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        fields = [(name, compile_schema(sub, root, depth + 1, f"{where}.{name}")) for name, sub in properties.items()]
        return lambda rng: {name: field(rng) for name, field in fields}
    if kind == "array":
        low = int(schema.get("minItems", 1))
        high = max(low, min(int(schema.get("maxItems", low + 2)), low + 2))
        item = compile_schema(schema.get("items") or {"type": "string"}, root, depth + 1, f"{where}[]")
        return lambda rng: [item(rng) for _ in range(_between(rng, low, high))]
    if kind == "integer":
        return _integer(schema, where)
    if kind == "number":
        return _number(schema, where)
    if kind == "boolean":
        return lambda rng: rng.random() < 0.5
    if kind == "null":
        return lambda rng: None
    return _string(schema, where)


class SynthesisError(ValueError):
    """A schema the synthetic responder cannot satisfy: better said than answered wrongly."""


def _bounds(schema: Mapping[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is exclusive, high, high is exclusive) from minimum / exclusiveMinimum and
    maximum / exclusiveMaximum: numbers in JSON Schema 2020-12 (what pydantic's gt / lt write),
    booleans qualifying minimum / maximum in draft 4."""
    bounds: list[Any] = []
    for inclusive, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value, flag = schema.get(inclusive), schema.get(exclusive)
        is_open = False
        if isinstance(flag, bool):
            is_open = flag and value is not None
        elif isinstance(flag, int | float):
            tighter = value is None or (flag >= value if inclusive == "minimum" else flag <= value)
            if tighter:
                value, is_open = flag, True
        bounds += [value, is_open]
    return bounds[0], bounds[1], bounds[2], bounds[3]


def _integer(schema: Mapping[str, Any], where: str) -> Generator:
    low_f, low_open, high_f, high_open = _bounds(schema)
    low = None if low_f is None else math.floor(low_f) + 1 if low_open else math.ceil(low_f)
    high = None if high_f is None else math.ceil(high_f) - 1 if high_open else math.floor(high_f)
    # With one bound, a 100-wide range on its inner side (0..100 with none, as before: a
    # maximum alone no longer assumes a lower bound of 0 when it is below 0).
    if low is None:
        low = 0 if high is None or high >= 0 else high - 100
    if high is None:
        high = low + 100
    step = schema.get("multipleOf")
    if isinstance(step, int) and not isinstance(step, bool) and step > 0:
        low, high = -(-low // step), high // step
        if low > high:
            raise SynthesisError(f"{where}: no multiple of {step} lies between its bounds {_describe_bounds(schema)}")
        return lambda rng: _between(rng, low, high) * step
    if low > high:
        raise SynthesisError(f"{where}: no integer satisfies its bounds {_describe_bounds(schema)}")
    return lambda rng: _between(rng, low, high)


def _number(schema: Mapping[str, Any], where: str) -> Generator:
    low_b, low_open, high_b, high_open = _bounds(schema)
    low = float(low_b) if low_b is not None else (0.0 if high_b is None or high_b > 0 else float(high_b) - 100.0)
    high = float(high_b) if high_b is not None else low + 100.0
    if low > high or (low == high and (low_open or high_open)):
        raise SynthesisError(f"{where}: no number satisfies its bounds {_describe_bounds(schema)}")

    def inside(value: float) -> bool:
        return (value > low if low_open else value >= low) and (value < high if high_open else value <= high)

    def number(rng: Any) -> float:
        exact = low + (high - low) * rng.random()
        value = round(exact, 2)  # two decimals read like data, when rounding keeps the value inside
        if inside(value):
            return value
        return exact if inside(exact) else (low + high) / 2

    return number


def _describe_bounds(schema: Mapping[str, Any]) -> str:
    keys = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
    return "{" + ", ".join(f"{k}: {schema[k]}" for k in keys if k in schema) + "}"


def _plain_integer(rng: Any) -> int:
    return _between(rng, 0, 100)


def _word(rng: Any) -> str:
    return _WORDS[int(rng.random() * len(_WORDS))]


def _plain_string(rng: Any) -> str:
    return f"{_word(rng)}-{_between(rng, 100, 999)}"


def _string(schema: Mapping[str, Any], where: str = "a string field") -> Generator:
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    if schema.get("pattern") is not None:
        return _patterned(str(schema["pattern"]), low, None if high is None else int(high), where)
    fmt = schema.get("format")
    if fmt == "date-time":
        return lambda rng: f"2026-0{_between(rng, 1, 9)}-1{_between(rng, 0, 9)}T12:00:00Z"
    if fmt == "date":
        return lambda rng: f"2026-0{_between(rng, 1, 9)}-1{_between(rng, 0, 9)}"
    if fmt == "email":
        return lambda rng: f"{_word(rng)}@example.com"
    if fmt in ("uri", "url"):
        return lambda rng: f"https://example.com/{_word(rng)}"
    if fmt == "uuid":
        return lambda rng: "%08x-0000-4000-8000-%012x" % (_between(rng, 0, 2**32 - 1), _between(rng, 0, 2**48 - 1))

    def text(rng: Any) -> str:
        value = _plain_string(rng).ljust(low, "x")
        return value[: int(high)] if high is not None else value

    return text


def _between(rng: Any, low: int, high: int) -> int:
    """rng.randint without its argument checking: synthesize runs once per request."""
    return low + int(rng.random() * (high - low + 1))


# --------------------------------------------------------------------------- patterns

#: what a character class can draw from: printable ASCII (a class with none of it, e.g.
#: [\u4e00-\u9fff], draws from the start of its own ranges).
_UNIVERSE = string.printable
_CATEGORIES = {
    _sre.CATEGORY_DIGIT: string.digits,
    _sre.CATEGORY_NOT_DIGIT: "".join(c for c in _UNIVERSE if c not in string.digits),
    _sre.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    _sre.CATEGORY_NOT_WORD: "".join(c for c in _UNIVERSE if not (c.isalnum() or c == "_")),
    _sre.CATEGORY_SPACE: " \t\n\r\f\v",
    _sre.CATEGORY_NOT_SPACE: "".join(c for c in _UNIVERSE if not c.isspace()),
}
_ANY = string.ascii_letters + string.digits
#: an unbounded repeat (*, +, {n,}) adds at most this many beyond its minimum.
_EXTRA_REPEATS = 3

#: a compiled regex node appends its text to ``out``; ``groups`` keeps numbered groups for \1.
_Node = Callable[[Any, list[str], dict[int, str]], None]


class _Unsupported(Exception):
    pass


def _patterned(pattern: str, min_length: int, max_length: int | None, where: str) -> Generator:
    r"""Strings matching ``pattern`` (JSON Schema's pattern: a search, usually anchored),
    from Python's own parse of it: literals, classes, \d \w \s, ranges, repeats, alternation,
    groups and back-references, anchors. Anything else fails here, naming the field."""
    def fail(why: str) -> SynthesisError:
        return SynthesisError(
            f"cannot synthesize {where}: its pattern {pattern!r} {why}. Give these requests an expectation "
            "(emulator.expect(...) or a --responses file) or a responder callable instead.")

    try:
        compiled = re.compile(pattern)
        node = _regex_nodes(_sre_parse.parse(pattern))
    except re.error as exc:
        raise fail(f"is not a regular expression Python reads ({exc})") from None
    except _Unsupported as exc:
        raise fail(f"uses {exc}, which the synthetic responder cannot generate") from None

    def text(rng: Any) -> str:
        for _ in range(20):  # a length limit the pattern alone does not guarantee: draw again
            out: list[str] = []
            node(rng, out, {})
            value = "".join(out)
            if min_length <= len(value) <= (max_length if max_length is not None else len(value)):
                if compiled.search(value) is None:
                    raise fail(f"was generated as {value!r}, which does not match")
                return value
        raise fail(f"gives no string of length {min_length}..{max_length} in 20 draws")

    return text


def _regex_nodes(items: Iterable[tuple[Any, Any]]) -> _Node:
    nodes = [_regex_node(op, av) for op, av in items]

    def sequence(rng: Any, out: list[str], groups: dict[int, str]) -> None:
        for node in nodes:
            node(rng, out, groups)

    return sequence


def _pick(rng: Any, choices: str | list[str]) -> str:
    return choices[int(rng.random() * len(choices))]


def _regex_node(op: Any, av: Any) -> _Node:
    c = _sre
    if op is c.LITERAL:
        char = chr(av)
        return lambda rng, out, groups: out.append(char)
    if op is c.NOT_LITERAL:
        others = [ch for ch in _ANY if ord(ch) != av]
        return lambda rng, out, groups: out.append(_pick(rng, others))
    if op is c.ANY:
        return lambda rng, out, groups: out.append(_pick(rng, _ANY))
    if op is c.IN:
        choices = _class_choices(av)
        return lambda rng, out, groups: out.append(_pick(rng, choices))
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)):
        low, high, sub = av
        high = low + _EXTRA_REPEATS if high is c.MAXREPEAT or high > low + _EXTRA_REPEATS else high
        inner = _regex_nodes(sub)

        def repeat(rng: Any, out: list[str], groups: dict[int, str]) -> None:
            for _ in range(_between(rng, low, high)):
                inner(rng, out, groups)

        return repeat
    if op is c.SUBPATTERN:
        group, sub = av[0], av[-1]
        inner = _regex_nodes(sub)

        def subpattern(rng: Any, out: list[str], groups: dict[int, str]) -> None:
            start = len(out)
            inner(rng, out, groups)
            if group is not None:
                groups[group] = "".join(out[start:])

        return subpattern
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _regex_nodes(av)
    if op is c.BRANCH:
        branches = [_regex_nodes(alternative) for alternative in av[1]]
        return lambda rng, out, groups: _pick(rng, branches)(rng, out, groups)  # type: ignore[operator]
    if op is c.GROUPREF:
        return lambda rng, out, groups: out.append(groups.get(av, ""))
    if op is c.AT:
        # ^ $ \A \Z, and \b \B, take no text; a boundary the text around it breaks is caught by
        # the check of every generated string against the pattern.
        return lambda rng, out, groups: None
    if op in (c.ASSERT, c.ASSERT_NOT):
        raise _Unsupported("a lookahead or lookbehind")
    raise _Unsupported(f"the regex construct {str(op).lower()}")


def _class_choices(items: list[tuple[Any, Any]]) -> list[str]:
    r"""The characters a class [...] (or \d, \w, \s outside one) may produce."""
    c = _sre
    negate = bool(items) and items[0][0] is c.NEGATE
    members: set[str] = set()
    for op, av in items:
        if op is c.NEGATE:
            continue
        if op is c.LITERAL:
            members.add(chr(av))
        elif op is c.RANGE:
            low, high = av
            inside = [ch for ch in _UNIVERSE if low <= ord(ch) <= high]
            members.update(inside or [chr(code) for code in range(low, min(high, low + 63) + 1)])
        elif op is c.CATEGORY and av in _CATEGORIES:
            members.update(_CATEGORIES[av])
        else:
            raise _Unsupported(f"the character-class item {str(op).lower()} {av}")
    if negate:
        choices = [ch for ch in _UNIVERSE if ch not in members and not ch.isspace()] or \
                  [ch for ch in _UNIVERSE if ch not in members]
    else:
        # Prefer visible characters: \s or [ \t] still yields a space rather than a tab.
        choices = sorted(members, key=lambda ch: (ch.isspace() and ch != " ", ch))
        visible = [ch for ch in choices if not ch.isspace() or ch == " "]
        choices = visible or choices
    if not choices:
        raise _Unsupported("a character class that matches no printable character")
    return choices


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"cannot resolve schema reference {ref!r}: only local '#/...' references are supported")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def violate(schema: Mapping[str, Any] | None, value: Any) -> Any:
    """Content that does not satisfy ``schema``: a required field dropped, or the wrong type."""
    if isinstance(value, dict) and value:
        broken = dict(value)
        broken.pop(next(iter(broken)))
        broken["unexpected_field"] = "pytest-batch schema violation"
        return broken
    return ["pytest-batch schema violation"]



#: leaves with no constraints, synthesized without walking the general path.
_PLAIN_KEYS = frozenset({"type", "title", "description"})
_LEAVES: dict[str, Generator] = {
    "string": _plain_string, "STRING": _plain_string, "integer": _plain_integer, "INTEGER": _plain_integer,
}
