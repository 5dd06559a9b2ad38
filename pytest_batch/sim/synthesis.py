"""Schema-valid synthetic answers: a JSON schema compiled once into a generator, run per request on its
own deterministic random stream; and ``violate``, which breaks a valid answer on purpose."""

from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

try:  # the parser behind re.compile, walked to generate strings matching a pattern
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _sre
    import sre_parse as _sre_parse

#: outcomes an answer can have; every one but "ok" is something a test asks for.
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
    if not isinstance(schema, Mapping):
        raise InvalidSchema(f"{where or 'the schema root'}: expected a JSON schema object, got {schema!r:.60}")
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


class InvalidSchema(SynthesisError):
    """A schema no provider would accept (not an object, a ``$ref`` that resolves nowhere): the
    request that carries it fails on its own, as it does at the providers."""


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


def _resolve(ref: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise InvalidSchema(f"cannot resolve schema reference {ref!r}: only local '#/...' references are supported")
    node: Any = root
    for part in ref[2:].split("/"):
        try:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        except (KeyError, IndexError, TypeError):
            raise InvalidSchema(f"schema reference {ref!r} does not resolve (no {part!r})") from None
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
