"""Synthetic scalars for schema synthesis (synthesis.py): integers and numbers inside their bounds
and multipleOf, strings of a length, a format or a pattern, each from a deterministic random source.
Also the two errors synthesis raises."""

from __future__ import annotations

import math
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

#: a compiled schema: a random source in, a valid value out
Generator = Callable[[Any], Any]


class SynthesisError(ValueError):
    """A schema the synthetic responder cannot satisfy: better said than answered wrongly."""


class InvalidSchema(SynthesisError):
    """A schema no provider would accept (not an object, a ``$ref`` that resolves nowhere): the
    request that carries it fails on its own, as it does at the providers."""


_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def length_keyword(schema: Mapping[str, Any], key: str, where: str) -> int | None:
    """A length keyword: a non-negative integer (Gemini's proto JSON writes int64 as a string)."""
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if is_number(value) and value >= 0 and (isinstance(value, int) or value.is_integer()):
        return int(value)
    raise InvalidSchema(f"{where}: {key} must be a non-negative integer, got {value!r:.40}")


def _bounds(schema: Mapping[str, Any], where: str) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is exclusive, high, high is exclusive) from minimum / exclusiveMinimum and
    maximum / exclusiveMaximum: numbers in JSON Schema 2020-12 (what pydantic's gt / lt write),
    booleans qualifying minimum / maximum in draft 4. An infinite bound is no bound."""
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        value = schema.get(key)
        if value is not None and not is_number(value) and not (key.startswith("exclusive") and
                                                                isinstance(value, bool)):
            raise InvalidSchema(f"{where}: {key} must be a number, got {value!r:.40}")
        if isinstance(value, float) and math.isnan(value):
            raise InvalidSchema(f"{where}: {key} must be a number, got NaN")
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
        if isinstance(value, float) and math.isinf(value):
            if (value > 0) == (inclusive == "minimum"):  # minimum: inf, maximum: -inf
                raise SynthesisError(f"{where}: no number satisfies its bounds {_describe_bounds(schema)}")
            value, is_open = None, False
        bounds += [value, is_open]
    return bounds[0], bounds[1], bounds[2], bounds[3]


def _step(schema: Mapping[str, Any], where: str) -> int | float | None:
    step = schema.get("multipleOf")
    if step is not None and (not is_number(step) or not step > 0 or isinstance(step, float) and math.isinf(step)):
        raise InvalidSchema(f"{where}: multipleOf must be a number above 0, got {step!r:.40}")
    return step


def _is_multiple(value: int | float, step: int | float) -> bool:
    """multipleOf as validators test it: exact for integers, an integral quotient for floats."""
    if isinstance(step, int) and isinstance(value, int):
        return value % step == 0
    try:
        quotient = value / step
    except OverflowError:
        return False
    return math.isfinite(quotient) and quotient == int(quotient)


#: a draw wider than this is drawn from its lower end: rng.random() has 53 bits
_WIDEST = 2**53


def integer_generator(schema: Mapping[str, Any], where: str) -> Generator:
    low_f, low_open, high_f, high_open = _bounds(schema, where)
    step = _step(schema, where)
    low = None if low_f is None else math.floor(low_f) + 1 if low_open else math.ceil(low_f)
    high = None if high_f is None else math.ceil(high_f) - 1 if high_open else math.floor(high_f)
    # With one bound, a 100-wide range on its inner side (0..100 with none, as before: a
    # maximum alone no longer assumes a lower bound of 0 when it is below 0).
    if low is None:
        low = 0 if high is None or high >= 0 else high - 100
    if high is None:
        high = low + 100 * (int(step) if isinstance(step, int) else 1)
    if low > high:
        raise SynthesisError(f"{where}: no integer satisfies its bounds {_describe_bounds(schema)}")
    if step is None:
        high = min(high, low + _WIDEST)
        return lambda rng: between(rng, low, high)
    if isinstance(step, int):
        first, last = -(-low // step), high // step
        if first > last:
            raise SynthesisError(f"{where}: no multiple of {step} lies between its bounds {_describe_bounds(schema)}")
        last = min(last, first + _WIDEST)
        return lambda rng: between(rng, first, last) * step
    return _multiples(schema, where, low, high, step, integral=True)


def _multiples(schema: Mapping[str, Any], where: str, low: float, high: float, step: float,
               integral: bool) -> Generator:
    """Values k * step inside [low, high] that validators accept as multiples (a float step's
    products are not always exact: 3 * 0.3 is 0.8999999999999999)."""
    try:
        first, last = math.ceil(low / step), math.floor(high / step)
    except OverflowError:
        raise SynthesisError(f"{where}: its multipleOf {step} and bounds {_describe_bounds(schema)} are out of "
                             "range") from None
    if first > last:
        raise SynthesisError(f"{where}: no multiple of {step} lies between its bounds {_describe_bounds(schema)}")
    last = min(last, first + 1000)

    def multiple(rng: Any) -> int | float:
        for _ in range(20):
            k = between(rng, first, last)
            for value in (k * step, round(k * step, 12)):
                if integral:
                    if not float(value).is_integer():
                        continue
                    value = int(value)
                if low <= value <= high and _is_multiple(value, step):
                    return value
        if low <= 0 <= high:
            return 0
        raise SynthesisError(f"cannot synthesize {where}: no multiple of {step} it drew lies between its bounds "
                             f"{_describe_bounds(schema)}")

    return multiple


def number_generator(schema: Mapping[str, Any], where: str) -> Generator:
    low_b, low_open, high_b, high_open = _bounds(schema, where)
    step = _step(schema, where)
    try:
        low_b, high_b = (None if low_b is None else float(low_b)), (None if high_b is None else float(high_b))
    except OverflowError:
        raise SynthesisError(f"{where}: its bounds {_describe_bounds(schema)} are beyond a float's range") from None
    low = float(low_b) if low_b is not None else (0.0 if high_b is None or high_b > 0 else float(high_b) - 100.0)
    high = float(high_b) if high_b is not None else low + 100.0
    # the closest floats inside an open bound: gt=0, lt=5e-324 has no float between
    low = math.nextafter(low, math.inf) if low_open else low
    high = math.nextafter(high, -math.inf) if high_open else high
    if not low <= high:
        raise SynthesisError(f"{where}: no number satisfies its bounds {_describe_bounds(schema)}")
    if step is not None:
        return _multiples(schema, where, low, high, step, integral=False)

    def number(rng: Any) -> float:
        share = rng.random()
        exact = min(max(low * (1 - share) + high * share, low), high)  # no overflow on [-1e308, 1e308]
        value = round(exact, 2)  # two decimals read like data, when rounding keeps the value inside
        return value if low <= value <= high else exact

    return number


def _describe_bounds(schema: Mapping[str, Any]) -> str:
    keys = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
    return "{" + ", ".join(f"{k}: {schema[k]}" for k in keys if k in schema) + "}"


def plain_integer(rng: Any) -> int:
    return between(rng, 0, 100)


def _word(rng: Any) -> str:
    return _WORDS[int(rng.random() * len(_WORDS))]


def plain_string(rng: Any) -> str:
    return f"{_word(rng)}-{between(rng, 100, 999)}"


def _date(rng: Any) -> str:
    return f"2026-0{between(rng, 1, 9)}-1{between(rng, 0, 9)}"


#: strings of each format pydantic writes (date, datetime, time, timedelta, EmailStr, HttpUrl,
#: UUID, IPv4Address, ...); an unknown format is an annotation, and any string will do
_FORMATS: dict[str, Generator] = {
    "date-time": lambda rng: f"{_date(rng)}T12:00:00Z",
    "date": _date,
    "time": lambda rng: f"1{between(rng, 0, 9)}:30:00Z",  # RFC 3339 times carry an offset
    "duration": lambda rng: f"PT{between(rng, 1, 59)}M",
    "email": lambda rng: f"{_word(rng)}@example.com",
    "uri": lambda rng: f"https://example.com/{_word(rng)}",
    "url": lambda rng: f"https://example.com/{_word(rng)}",
    "uri-reference": lambda rng: f"/{_word(rng)}",
    "hostname": lambda rng: f"{_word(rng)}.example.com",
    "ipv4": lambda rng: f"192.0.2.{between(rng, 1, 254)}",
    "ipv6": lambda rng: f"2001:db8::{between(rng, 1, 9999)}",
    "uuid": lambda rng: "%08x-0000-4000-8000-%012x" % (between(rng, 0, 2**32 - 1), between(rng, 0, 2**48 - 1)),
}


def string_generator(schema: Mapping[str, Any], where: str = "a string field") -> Generator:
    low = length_keyword(schema, "minLength", where) or 0
    high = length_keyword(schema, "maxLength", where)
    if high is not None and low > high:
        raise SynthesisError(f"{where}: minLength {low} is above its maxLength {high}")
    pattern = schema.get("pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise InvalidSchema(f"{where}: pattern must be a string, got {pattern!r:.40}")
    fmt = schema.get("format")
    formatted = _FORMATS.get(fmt) if isinstance(fmt, str) else None
    if pattern is not None:
        patterned = _patterned(pattern, low, high, where)
        if formatted is None:  # an unknown format is an annotation: the pattern decides
            return patterned
        matcher = re.compile(pattern)
    if formatted is not None:
        def text(rng: Any) -> str:
            value = formatted(rng)
            if not low <= len(value) <= (high if high is not None else len(value)):
                raise SynthesisError(f"cannot synthesize {where}: a {fmt} string such as {value!r} is "
                                     f"not {low}..{high} characters long")
            if pattern is not None and matcher.search(value) is None:
                raise SynthesisError(f"cannot synthesize {where}: a {fmt} string such as {value!r} does not match "
                                     f"its pattern {pattern!r}. Give these requests an expectation (emulator.expect"
                                     "(...) or a --responses file) or a responder callable instead.")
            return value

        return text

    def plain(rng: Any) -> str:
        value = plain_string(rng).ljust(low, "x")
        return value[:high] if high is not None else value

    return plain


def between(rng: Any, low: int, high: int) -> int:
    """rng.randint without its argument checking: synthesize runs once per request."""
    return min(high, low + int(rng.random() * (high - low + 1)))


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
            for _ in range(between(rng, low, high)):
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


