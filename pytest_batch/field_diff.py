"""Field-by-field comparison of one expected value with one extracted value.

``assert_extractions`` (in ``assertions.py``) walks each expected object and its result with
``compare``: nested models, dataclasses, mappings and lists are entered; every leaf is a
*field* that is right or wrong. What differs comes back as ``FieldDiff``s named by path
(``line_items[1].unit_price``), and every field is tallied right/wrong under its path with
list indices collapsed (``line_items[*].unit_price``) for the accuracy figures.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

Path = tuple[str | int, ...]  # field names and list indices, outermost first


class _Absent:
    """The side of a difference that has no such field or list item."""

    def __repr__(self) -> str:
        return "(nothing)"


ABSENT: Any = _Absent()

#: ``normalize=`` names and what each does to both sides of a string comparison.
NORMALIZERS: dict[str, Callable[[str], str]] = {
    "case": str.casefold,
    "whitespace": lambda text: " ".join(text.split()),
    "unicode": lambda text: unicodedata.normalize("NFKC", text),
}


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs: its path, the expected value and what came (``ABSENT`` when
    one side has no such field or list item)."""

    path: str
    expected: Any
    got: Any
    note: str = ""

    def __str__(self) -> str:
        where = self.path or "value"
        return f"{where}: expected {describe(self.expected)}, got {describe(self.got)}{self.note}"


class FieldCounts:
    """Right and total over ``fields`` (field key -> [right, total]), for a subclass that has it."""

    fields: dict[str, list[int]]

    @property
    def right(self) -> int:
        return sum(right for right, _ in self.fields.values())

    @property
    def total(self) -> int:
        return sum(total for _, total in self.fields.values())


@dataclass
class Tally(FieldCounts):
    """What one comparison found: the differences, and right/total per field key."""

    diffs: list[FieldDiff] = field(default_factory=list)
    fields: dict[str, list[int]] = field(default_factory=dict)  # field key -> [right, total]

    def count(self, path: Path, right: bool) -> None:
        tally = self.fields.setdefault(field_key(path), [0, 0])
        tally[0] += right
        tally[1] += 1

    def add(self, other: Tally) -> None:
        """Add ``other``'s field counts (its differences stay with it)."""
        for key, (right, total) in other.fields.items():
            tally = self.fields.setdefault(key, [0, 0])
            tally[0] += right
            tally[1] += total


# ---------------------------------------------------------------------- paths
_TOKEN = re.compile(r"""\.?(?P<name>[A-Za-z_]\w*|\*)|\[(?P<index>\d+|\*|'[^']*'|"[^"]*")\]""")
_ANY = object()  # a "*" segment: any field name or list index


def render_path(path: Path) -> str:
    """``("line_items", 1, "unit_price")`` -> ``line_items[1].unit_price``."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif segment.isidentifier():
            out += f".{segment}" if out else segment
        else:
            out += f"[{segment!r}]"
    return out


def field_key(path: Path) -> str:
    """The path with list indices collapsed: the same field of every list item counts together."""
    return re.sub(r"\[\d+\]", "[*]", render_path(path)) or "(value)"


@dataclass(frozen=True)
class FieldPattern:
    """An ``ignore=`` entry: a field path where ``*`` stands for any name or index
    (``line_items[*].description``); it also covers everything below that field."""

    text: str
    segments: tuple[Any, ...]

    @classmethod
    def parse(cls, text: str) -> FieldPattern:
        if not isinstance(text, str):
            raise TypeError(f"ignore= takes field paths as strings, like 'address.zip'; got {text!r}")
        segments: list[Any] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or (position == 0 and text.startswith(".")):
                raise ValueError(f"ignore={text!r} is not a field path: write it like 'vendor', 'address.city', "
                                 "'line_items[0].unit_price' or 'line_items[*].unit_price' (* is any field or index)")
            name, index = match.group("name"), match.group("index")
            token = name if name is not None else index
            if token == "*":
                segments.append(_ANY)
            elif name is not None:
                segments.append(name)
            else:
                segments.append(int(index) if index.isdigit() else index[1:-1])
            position = match.end()
        if not segments:
            raise ValueError("ignore= got an empty field path; name a field like 'address.zip'")
        return cls(text, tuple(segments))

    def covers(self, path: Path) -> bool:
        """True when ``path`` is this field or lies below it."""
        return len(path) >= len(self.segments) and self._matches(path)

    def reaches_into(self, path: Path) -> bool:
        """True when this pattern names a field below ``path``."""
        return len(path) < len(self.segments) and self._matches(path)

    def _matches(self, path: Path) -> bool:
        return all(want is _ANY or want == got for want, got in zip(self.segments, path, strict=False))


# ---------------------------------------------------------------------- options
@dataclass
class Options:
    """How leaves compare and which fields count (built and checked by ``Options.build``)."""

    ignore: tuple[FieldPattern, ...] = ()
    rel: float | None = None
    abs: float | None = None
    normalize: Callable[[str], str] | None = None
    subset: bool = False
    #: the ignore patterns that matched (or reached a field that stops short of them)
    used: set[int] = field(default_factory=set)

    @classmethod
    def build(cls, *, ignore: Iterable[str] | str = (), approx: Any = None, normalize: Any = None,
              subset: bool = False) -> Options:
        patterns = (FieldPattern.parse(ignore),) if isinstance(ignore, str) else tuple(
            FieldPattern.parse(text) for text in ignore)
        rel, abs_ = _tolerances(approx)
        return cls(patterns, rel, abs_, _normalizer(normalize), bool(subset))

    def ignored(self, path: Path, value: Any) -> bool:
        for number, pattern in enumerate(self.ignore):
            if pattern.covers(path):
                self.used.add(number)
                return True
            if pattern.reaches_into(path) and not _is_container(value):
                self.used.add(number)  # e.g. 'address.zip' where the address is None
        return False

    def unused(self) -> list[str]:
        return [pattern.text for number, pattern in enumerate(self.ignore) if number not in self.used]


def _tolerances(approx: Any) -> tuple[float | None, float | None]:
    """``approx=``: True (pytest.approx's rel=1e-6, abs=1e-12), a relative tolerance, or
    ``{"rel": ..., "abs": ...}``."""
    hint = ("approx= takes True, a relative tolerance like 0.01 (1%), or a mapping like {'rel': 0.01, 'abs': 0.005}; "
            f"got {approx!r}")
    if approx is None or approx is False:
        return None, None
    if approx is True:
        return 1e-6, 1e-12
    if isinstance(approx, Mapping):
        unknown = set(approx) - {"rel", "abs"}
        values = [approx.get("rel"), approx.get("abs")]
        if unknown or not approx or not all(v is None or (_is_number(v) and v >= 0) for v in values):
            raise ValueError(hint)
        return (None if values[0] is None else float(values[0])), (None if values[1] is None else float(values[1]))
    if _is_number(approx) and approx >= 0:
        return float(approx), None
    raise ValueError(hint)


def _normalizer(normalize: Any) -> Callable[[str], str] | None:
    """``normalize=``: True (case and whitespace), a name of ``NORMALIZERS``, several, or a callable."""
    if normalize is None or normalize is False:
        return None
    if callable(normalize):
        return normalize
    names = ["case", "whitespace"] if normalize is True else [normalize] if isinstance(normalize, str) else normalize
    try:
        steps = [NORMALIZERS[name] for name in names]
    except (KeyError, TypeError):
        raise ValueError(f"normalize= takes True (case and whitespace), one or more of {', '.join(NORMALIZERS)}, "
                         f"or a function str -> str; got {normalize!r}") from None

    def normalized(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return normalized


# ---------------------------------------------------------------------- the walk
def record_fields(value: Any, *, subset: bool = False) -> dict[str, Any] | None:
    """A pydantic model's, dataclass's or mapping's fields by name; None for anything else.

    With ``subset``, a model gives only the fields set when it was made (``model_fields_set``)."""
    if isinstance(value, Mapping):
        return dict(value)
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(value, "model_fields_set"):
        names = [name for name in model_fields if not subset or name in value.model_fields_set]
        fields = {name: getattr(value, name) for name in names}
        fields.update(getattr(value, "model_extra", None) or {})
        return fields
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_container(value: Any) -> bool:
    return _is_list(value) or record_fields(value) is not None


def compare(want: Any, got: Any, options: Options, path: Path = (), tally: Tally | None = None) -> Tally:
    """Compare ``got`` with ``want`` field by field into ``tally`` (a new one by default)."""
    tally = tally if tally is not None else Tally()
    if options.ignored(path, want):
        return tally
    want_fields = record_fields(want, subset=options.subset)
    got_fields = record_fields(got)
    if want_fields == {} and options.subset and got_fields is not None:
        return tally  # names no field: nothing to compare
    if want_fields and got_fields is not None and _same_kind(want, got):
        for name, value in want_fields.items():
            if name in got_fields:
                compare(value, got_fields[name], options, (*path, name), tally)
            else:
                miss(value, ABSENT, options, (*path, name), tally)
        if not options.subset:
            for name in [name for name in got_fields if name not in want_fields]:
                _extra(got_fields[name], options, (*path, name), tally,
                       " (the expected value has no such field: subset=True compares only the fields it names)")
        return tally
    if _is_list(want) and want and _is_list(got):
        for index in range(max(len(want), len(got))):
            if index >= len(got):
                miss(want[index], ABSENT, options, (*path, index), tally)
            elif index >= len(want):
                _extra(got[index], options, (*path, index), tally)
            else:
                compare(want[index], got[index], options, (*path, index), tally)
        return tally
    if want_fields or (_is_list(want) and want):  # a structure where the result has something else
        miss(want, got, options, path, tally)
        return tally
    right, note = leaf_equal(want, got, options)
    tally.count(path, right)
    if not right:
        tally.diffs.append(FieldDiff(render_path(path), want, got, note))
    return tally


def _same_kind(want: Any, got: Any) -> bool:
    """Records compare field by field unless they are two different classes (an Invoice is no Address)."""
    return isinstance(want, Mapping) or isinstance(got, Mapping) or type(want) is type(got)


def miss(want: Any, got: Any, options: Options, path: Path, tally: Tally) -> None:
    """``want`` did not come (``got`` is something else, or nothing): one difference shown at
    ``path``, and every expected field below it counted wrong."""
    wrong = list(_leaves(want, options, path))
    for leaf in wrong:
        tally.count(leaf, False)
    if wrong:
        tally.diffs.append(FieldDiff(render_path(path), want, got))


def _extra(got: Any, options: Options, path: Path, tally: Tally, note: str = "") -> None:
    """A field or list item that came but was not expected: one wrong field."""
    if not options.ignored(path, got):
        tally.count(path, False)
        tally.diffs.append(FieldDiff(render_path(path), ABSENT, got, note))


def _leaves(value: Any, options: Options, path: Path) -> Iterator[Path]:
    """The paths of the fields ``value`` is made of (what an error or a missing item costs)."""
    if options.ignored(path, value):
        return
    fields = record_fields(value, subset=options.subset)
    if fields:
        for name, child in fields.items():
            yield from _leaves(child, options, (*path, name))
    elif _is_list(value) and value:
        for index, child in enumerate(value):
            yield from _leaves(child, options, (*path, index))
    else:
        yield path


# ---------------------------------------------------------------------- leaves
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _as_text(value: Any) -> str | None:
    """How a date, time, enum, decimal or UUID is written in JSON (an expected dict may say
    ``"issue_date": "2024-03-01"`` for a model's ``date``)."""
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    return None


def leaf_equal(want: Any, got: Any, options: Options) -> tuple[bool, str]:
    """Whether two leaves are equal under the options, and a note for the failure message."""
    if isinstance(want, str) and not isinstance(got, str) and _as_text(got) is not None:
        got = _as_text(got)
    if isinstance(want, str) and isinstance(got, str):
        if options.normalize is not None:
            return options.normalize(want) == options.normalize(got), " (after normalize=)"
        return want == got, ""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got, _type_note(want, got)
    if _is_number(want) and _is_number(got):
        if isinstance(want, float) and isinstance(got, float) and math.isnan(want) and math.isnan(got):
            return True, ""
        exact = isinstance(want, int) and isinstance(got, int)
        if options.rel is None and options.abs is None or exact:
            return want == got, _type_note(want, got)
        tolerance = max((options.rel or 0.0) * abs(float(want)), options.abs or 0.0)
        return abs(float(want) - float(got)) <= tolerance, f" (beyond the tolerance ±{tolerance:.3g})"
    try:
        return bool(want == got), _type_note(want, got)
    except Exception:  # noqa: BLE001 - an __eq__ that raises (numpy arrays...) means "not equal" here
        return False, _type_note(want, got)


def _type_note(want: Any, got: Any) -> str:
    """When two values print alike but differ in type (``35`` vs ``'35'`` prints differently; an
    enum and its value may not)."""
    if repr(want) == repr(got) and type(want) is not type(got):
        return f" ({type(want).__name__} vs {type(got).__name__})"
    return ""


def describe(value: Any) -> str:
    """A value in a failure message: models as ``Name(field=...)``, the rest as ``repr``."""
    if value is ABSENT:
        return "nothing"
    fields = None if isinstance(value, Mapping) else record_fields(value)
    if fields is not None:
        return f"{type(value).__name__}(" + ", ".join(f"{k}={describe(v)}" for k, v in fields.items()) + ")"
    if _is_list(value):
        inner = ", ".join(describe(item) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)
