"""Assertion helpers for batch results, with failure messages that show the whole picture.

``assert_extractions`` prints one table row per item (expected, got, or the error's kind
and message), then every field that differs by its path (``line_items[1].unit_price:
expected 150.0, got 15.0``, never cut), then the missing and unexpected custom_ids, so a
failed run says at once which prompt went wrong and how. With ``min_accuracy=`` it passes
when enough of the fields are right, for live runs of imperfect models; the pytest plugin
adds each comparison's field accuracy to the run's summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .field_diff import ABSENT, FieldCounts, FieldDiff, Options, Tally, compare, describe, miss, record_fields

_OK, _DIFF, _ERR, _MISSING, _EXTRA = "ok", "DIFF", "ERROR", "MISSING", "UNEXPECTED"
#: how the header counts each kind of row: (one, several)
_LABELS = {_DIFF: ("wrong value", "wrong values"), _ERR: ("error", "errors"), _MISSING: ("missing", "missing"),
           _EXTRA: ("unexpected", "unexpected")}
_WIDTH = 60  # the widest the expected and custom_id columns get; the last column is never cut
_MAX_ROWS = 40  # past this many items the table lists only the failing ones, and at most this many
_MAX_DETAILS = 40  # items whose differing fields are spelled out below the table


@dataclass
class ItemReport:
    """How one expected item (or one unexpected result) fared."""

    verdict: str  #: "ok", "DIFF", "ERROR", "MISSING" or "UNEXPECTED"
    custom_id: str
    expected: Any  #: the expected value; ``ABSENT`` for an unexpected result
    got: Any  #: the extracted value; ``ABSENT`` when the item failed or never came
    diffs: list[FieldDiff] = field(default_factory=list)  #: the fields that differ
    error: str | None = None  #: the error's kind and message when the item failed

    @property
    def row(self) -> tuple[str, str, str, str]:
        """(verdict, custom_id, expected, got) as the table prints them, uncut."""
        want = "(not expected)" if self.expected is ABSENT else _show(self.expected)
        got = self.error if self.error is not None else "(no result)" if self.got is ABSENT else _show(self.got)
        return (self.verdict, self.custom_id, want, got)


@dataclass
class ExtractionReport(FieldCounts):
    """What ``compare_extractions``/``assert_extractions`` found: every item, and how many of
    the expected fields are right, in all and per field (list indices collapsed:
    ``line_items[*].unit_price``)."""

    by: str  #: "order" or "custom_id"
    provider: str | None  #: the results' provider, when they know it
    items: list[ItemReport]
    fields: dict[str, list[int]]  #: field -> [right, total]

    @property
    def accuracy(self) -> float:
        """The share of fields right (1.0 when nothing was expected)."""
        return self.right / self.total if self.total else 1.0

    def field_accuracy(self) -> dict[str, float]:
        return {key: right / total for key, (right, total) in sorted(self.fields.items()) if total}

    @property
    def failures(self) -> list[ItemReport]:
        return [item for item in self.items if item.verdict != _OK]

    @property
    def rows(self) -> list[tuple[str, str, str, str]]:
        return [item.row for item in self.items]


class ExtractionMismatch(AssertionError):
    """``assert_extractions`` failed; ``rows`` holds the table it printed, ``report`` everything."""

    def __init__(self, message: str, rows: list[tuple[str, str, str, str]],
                 report: ExtractionReport | None = None) -> None:
        super().__init__(message)
        self.rows = rows
        self.report = report


def _show(value: Any) -> str:
    return "-" if value is None else describe(value)


def _items(results: Any) -> list[Any]:
    """The result items, in input order when the results know it."""
    if hasattr(results, "in_input_order") and getattr(results, "custom_ids", None) is not None:
        return list(results.in_input_order())
    return list(results)


def _kind(item: Any) -> str:
    return str(getattr(item.kind, "value", item.kind))


def _error_text(item: Any) -> str:
    status = f" {item.status}" if getattr(item, "status", None) else ""
    return f"error {_kind(item)}{status}: {item.message}"


# ---------------------------------------------------------------------- assert_extractions
def compare_extractions(results: Any, expected: Sequence[Any] | Mapping[str, Any], *, by: str | None = None,
                        ignore: Iterable[str] | str = (), approx: Any = None, normalize: Any = None,
                        subset: bool = False) -> ExtractionReport:
    """Compare the batch's results with ``expected`` and return the report, asserting nothing
    (``assert_extractions`` takes the same arguments)."""
    if by is None:
        by = "custom_id" if isinstance(expected, Mapping) else "order"
    if by not in ("order", "custom_id"):
        raise ValueError(f"assert_extractions(by=...): use 'order' or 'custom_id', not {by!r}")
    options = Options.build(ignore=ignore, approx=approx, normalize=normalize, subset=subset)
    items = _items(results)
    pairs: list[tuple[str, Any, Any]] = []  # (custom_id, expected or ABSENT, item or None)
    if by == "custom_id":
        if not isinstance(expected, Mapping):
            raise TypeError("assert_extractions(by='custom_id') needs a mapping custom_id -> expected value")
        got = {item.custom_id: item for item in items}
        pairs.extend((custom_id, want, got.pop(custom_id, None)) for custom_id, want in expected.items())
        pairs.extend((item.custom_id, ABSENT, item) for item in got.values())
    else:
        if isinstance(expected, Mapping):
            raise TypeError("assert_extractions(by='order') needs a sequence; pass by='custom_id' for a mapping")
        wanted = list(expected)
        for index in range(max(len(wanted), len(items))):
            item = items[index] if index < len(items) else None
            want = wanted[index] if index < len(wanted) else ABSENT
            pairs.append((item.custom_id if item is not None else f"#{index + 1}", want, item))
    tally = Tally()
    reports = [_compare_item(custom_id, want, item, options, tally) for custom_id, want, item in pairs]
    unused = options.unused()
    if unused and any(report.got is not ABSENT for report in reports):
        known = sorted({name for report in reports for name in record_fields(report.got) or ()})
        raise ValueError(f"ignore={unused[0]!r} matches no field of the compared values (a typo?); their fields "
                         f"are: {', '.join(known) or 'none'}. Nested fields are written 'address.city', list "
                         "items 'line_items[*].unit_price'.")
    job = getattr(results, "job", None)
    provider = getattr(job, "provider", None)
    return ExtractionReport(by, provider if isinstance(provider, str) else None, reports, tally.fields)


def _compare_item(custom_id: str, want: Any, item: Any, options: Options, total: Tally) -> ItemReport:
    if want is ABSENT:
        got = item.value if item.ok else ABSENT
        return ItemReport(_EXTRA, custom_id, ABSENT, got, error=None if item.ok else _error_text(item))
    if item is None or not item.ok:
        lost = Tally()
        miss(want, ABSENT, options, (), lost)  # every expected field of the item is wrong
        total.add(lost)
        verdict = _MISSING if item is None or _kind(item) == "missing" else _ERR
        return ItemReport(verdict, custom_id, want, ABSENT, error=None if item is None else _error_text(item))
    tally = compare(want, item.value, options)
    total.add(tally)
    return ItemReport(_DIFF if tally.diffs else _OK, custom_id, want, item.value, tally.diffs)


def assert_extractions(results: Any, expected: Sequence[Any] | Mapping[str, Any], *, by: str | None = None,
                       ignore: Iterable[str] | str = (), approx: Any = None, normalize: Any = None,
                       subset: bool = False, min_accuracy: float | None = None) -> ExtractionReport:
    """Assert that the batch extracted ``expected``; returns the ``ExtractionReport``.

    ``by="order"`` (the default for a sequence): ``expected`` is matched to the results in
    input order (the submitted order when the results know it; custom_ids are whatever the
    processor chose). ``by="custom_id"`` (the default for a mapping): ``expected`` maps
    custom_id -> value. Models, dataclasses, dicts and lists are compared field by field:

    - ``ignore``: field paths left out (``"issue_date"``, ``"address.zip"``,
      ``"line_items[*].description"``; ``*`` is any field name or list index);
    - ``approx``: floats within a tolerance: True (pytest.approx's), a relative tolerance
      like ``0.01``, or ``{"rel": 0.01, "abs": 0.005}``; ints stay exact;
    - ``normalize``: strings compared after ``"case"``, ``"whitespace"`` (collapsed),
      ``"unicode"`` (NFKC), several of them, True (case and whitespace) or a function;
    - ``subset=True``: only the fields the expected value names: a dict's keys, a model's
      fields set when it was made (``model_fields_set``); lists still compare item by item;
    - ``min_accuracy``: pass when at least this share of the expected fields are right
      (0.9 = 90%); an error or missing item counts all its fields wrong. Unexpected results
      still fail.

    Without ``min_accuracy``, a wrong field, an error, a missing or an unexpected item fails.
    The message is a table of every item, then each differing field by path, uncut.
    """
    __tracebackhide__ = True
    if min_accuracy is not None and not (isinstance(min_accuracy, int | float) and 0 < min_accuracy <= 1):
        raise ValueError(f"min_accuracy is the share of fields that must be right, between 0 and 1 (0.9 for 90%); "
                         f"got {min_accuracy!r}")
    report = compare_extractions(results, expected, by=by, ignore=ignore, approx=approx, normalize=normalize,
                                 subset=subset)
    if _OBSERVERS:
        _OBSERVERS[-1](report)
    failures = report.failures
    if min_accuracy is None:
        if failures:
            raise ExtractionMismatch(_render(report, _mismatch_header(report)), report.rows, report)
        return report
    below = report.right < min_accuracy * report.total - 1e-9
    unexpected = any(item.verdict == _EXTRA for item in failures)
    if below or unexpected:
        header = (f"batch extraction accuracy {_percent(report.right, report.total)} is below min_accuracy="
                  f"{min_accuracy:g}: {report.right} of {report.total} fields right" if below
                  else f"{_mismatch_header(report)}; unexpected results fail even with min_accuracy")
        raise ExtractionMismatch(_render(report, header, worst_fields=below), report.rows, report)
    return report


def _mismatch_header(report: ExtractionReport) -> str:
    counts: dict[str, int] = {}
    for item in report.failures:
        counts[item.verdict] = counts.get(item.verdict, 0) + 1
    expected = sum(1 for item in report.items if item.verdict != _EXTRA)
    summary = ", ".join(f"{n} {_LABELS[verdict][n != 1]}" for verdict, n in counts.items())
    return f"batch extraction mismatch (matched by {report.by}): {summary} of {expected} expected items"


def _percent(right: int, total: int) -> str:
    return f"{100 * right / total:.1f}%" if total else "100%"


def _render(report: ExtractionReport, header: str, *, worst_fields: bool = False) -> str:
    failures = report.failures
    shown = report.items if len(report.items) <= _MAX_ROWS else failures[:_MAX_ROWS]
    table = [("", "custom_id", "expected", "got"),
             *[(("  " if item.verdict == _OK else "✗ ") + item.verdict, *_cells(item)) for item in shown]]
    widths = [min(max(len(row[i]) for row in table), _WIDTH) for i in range(3)]
    lines = [header]
    for row in table:
        cells = [_clip(row[i], widths[i]).ljust(widths[i]) for i in range(3)]
        lines.append("  " + " | ".join([*cells, row[3]]).rstrip())
    if len(shown) < len(report.items):
        lines.append(f"  ... {len(report.items) - len(shown)} more items not shown "
                     f"({len(report.items) - len(failures)} of them right); the exception's .report holds them all")
    lines.append(f"fields right: {report.right} of {report.total} ({_percent(report.right, report.total)})")
    if worst_fields:
        wrong = sorted(((right / total, key, right, total) for key, (right, total) in report.fields.items()
                        if right < total))
        lines.append("least accurate fields: " + ", ".join(f"{key} {right}/{total}" for _, key, right, total
                                                             in wrong[:10]))
    differing = [item for item in failures if item.diffs]
    for item in differing[:_MAX_DETAILS]:
        count = len(item.diffs)
        lines.append(f"{item.custom_id}: {count} field{'s' if count != 1 else ''} differ{'s' if count == 1 else ''}")
        lines.extend(f"  {diff}" for diff in item.diffs)
    if len(differing) > _MAX_DETAILS:
        lines.append(f"... and {len(differing) - _MAX_DETAILS} more items with differing fields (see the "
                     "exception's .report)")
    made_up = [item.custom_id for item in differing if _is_synthetic(report.provider, item.custom_id)]
    if made_up:
        lines.append(f"synthetic answers: {', '.join(made_up)}: the emulator made these up (no expectation matched "
                     "their prompts), so they cannot match your data; give them answers with batch_sim.expect(...) "
                     "or @pytest.mark.batch(responses=...)")
    missing = [item.custom_id for item in failures if item.verdict == _MISSING]
    unexpected = [item.custom_id for item in failures if item.verdict == _EXTRA]
    if missing:
        lines.append(f"missing: {', '.join(missing)}")
    if unexpected:
        lines.append(f"unexpected: {', '.join(unexpected)}")
    lines.extend(f"{item.custom_id}: {item.error}" for item in failures if item.verdict == _ERR)
    return "\n".join(lines)


def _cells(item: ItemReport) -> tuple[str, str, str]:
    """The custom_id, expected and got cells. A wrong value too wide for its column shows only
    the fields that differ (``Invoice(… currency='EUR')``): the side that differs is never cut."""
    _, custom_id, want, got = item.row
    if item.verdict == _OK:
        return custom_id, want, _clip(got, _WIDTH)  # the same as expected: nothing to see in full
    if item.verdict == _DIFF and len(want) > _WIDTH and all(diff.path for diff in item.diffs):
        want = _partial(item.expected, item.diffs, "expected")
        got = _partial(item.got, item.diffs, "got")
        if len(want) > _WIDTH:  # too many to fit: the lines below the table list them
            count = len(item.diffs)
            want = got = f"{type(item.expected).__name__}: {count} field{'s' if count != 1 else ''} differ, see below"
    return custom_id, want, got


def _partial(value: Any, diffs: list[FieldDiff], side: str) -> str:
    """``Invoice(… currency='EUR')``: only the fields that differ."""
    parts = ", ".join(f"{diff.path}={describe(getattr(diff, side))}" for diff in diffs)
    return f"{type(value).__name__}(… {parts})"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------- the plugin's view
#: who hears of each ``assert_extractions`` report: the innermost only (the pytest plugin
#: counts field accuracy per test; a pytester run inside a test has its own).
_OBSERVERS: list[Callable[[ExtractionReport], None]] = []
#: who can tell whether a (provider, custom_id) was answered with made-up values (the plugin, in simulate)
_SYNTHETIC: list[Callable[[str | None, str], bool]] = []


@contextlib.contextmanager
def explaining_synthetic(is_synthetic: Callable[[str | None, str], bool]) -> Iterator[None]:
    """While inside, failure messages say which differing items the emulator answered with made-up values."""
    _SYNTHETIC.append(is_synthetic)
    try:
        yield
    finally:
        _SYNTHETIC.remove(is_synthetic)


def _is_synthetic(provider: str | None, custom_id: str) -> bool:
    return bool(_SYNTHETIC) and _SYNTHETIC[-1](provider, custom_id)


@contextlib.contextmanager
def observe_extractions(observer: Callable[[ExtractionReport], None]) -> Iterator[None]:
    """While active, every ``assert_extractions`` call hands its report to ``observer``."""
    _OBSERVERS.append(observer)
    try:
        yield
    finally:
        _OBSERVERS.remove(observer)


# ---------------------------------------------------------------------- errors
def _error_kind(kind: Any, where: str) -> str:
    from .models import ErrorKind

    try:
        return ErrorKind(getattr(kind, "value", kind)).value
    except ValueError:
        raise ValueError(f"{where}: {kind!r} is not an error kind; use one of "
                         f"{', '.join(k.value for k in ErrorKind)}") from None


def assert_error_kinds(results: Any, expected: Mapping[str, Any]) -> None:
    """Assert that exactly the items in ``expected`` (custom_id -> ``ErrorKind`` or its name,
    e.g. ``{"request-3": "expired"}``) failed, each with its kind, and every other item succeeded."""
    __tracebackhide__ = True
    if not isinstance(expected, Mapping):
        raise TypeError("assert_error_kinds(results, expected) takes a mapping custom_id -> error kind, "
                        "e.g. {'request-3': 'expired'}")
    wanted = {custom_id: _error_kind(kind, f"assert_error_kinds({custom_id!r})") for custom_id, kind in
              expected.items()}
    items = {item.custom_id: item for item in _items(results)}
    lines = []
    for custom_id, kind in wanted.items():
        item = items.get(custom_id)
        if item is None:
            lines.append(f"  {custom_id}: expected error {kind}, got no result at all (not in the results)")
        elif item.ok:
            lines.append(f"  {custom_id}: expected error {kind}, got a value: {_show(item.value)}")
        elif _kind(item) != kind:
            lines.append(f"  {custom_id}: expected error {kind}, got {_error_text(item)}")
    lines.extend(f"  {custom_id}: expected a value, got {_error_text(item)}" for custom_id, item in items.items()
                 if not item.ok and custom_id not in wanted)
    if lines:
        raise AssertionError("\n".join([f"batch errors differ from the expected kinds ({len(lines)} "
                                        f"item{'s' if len(lines) != 1 else ''}):", *lines]))


def assert_at_most_errors(results: Any, at_most: int, *, kinds: Iterable[Any] | None = None) -> None:
    """Assert that at most ``at_most`` items failed. With ``kinds`` (e.g. ``["refusal",
    "truncated"]``) only errors of those kinds are tolerated up to that number; an error of
    any other kind fails the assertion at once."""
    __tracebackhide__ = True
    if not isinstance(at_most, int) or isinstance(at_most, bool) or at_most < 0:
        raise ValueError(f"assert_at_most_errors(results, at_most): at_most is a number of items, 0 or more; "
                         f"got {at_most!r}")
    tolerated = None if kinds is None else [_error_kind(kind, "assert_at_most_errors(kinds=...)") for kind in
                                            ([kinds] if isinstance(kinds, str) else kinds)]
    errors = [item for item in _items(results) if not item.ok]
    counted = [item for item in errors if tolerated is None or _kind(item) in tolerated]
    others = [item for item in errors if item not in counted]
    if len(counted) <= at_most and not others:
        return
    which = f" with {' or '.join(tolerated)}" if tolerated else ""
    lines = []
    if len(counted) > at_most:
        lines.append(f"{len(counted)} batch items failed{which}; at most {at_most} allowed:")
        lines.extend(f"  {item.custom_id}: {_error_text(item)}" for item in counted)
    if others:
        lines.append(f"{len(others)} batch item{'s' if len(others) != 1 else ''} failed with a kind not tolerated "
                     f"(kinds={', '.join(tolerated or ())}):")
        lines.extend(f"  {item.custom_id}: {_error_text(item)}" for item in others)
    raise AssertionError("\n".join(lines))


def assert_no_errors(results: Iterable[Any]) -> None:
    """Assert that no item of the batch is an error; the message lists each error's kind and message."""
    __tracebackhide__ = True
    errors = [item for item in results if not item.ok]
    if errors:
        lines = [f"{len(errors)} batch item(s) failed:"]
        lines.extend(f"  {item.custom_id}: {_error_text(item)}" for item in errors)
        raise AssertionError("\n".join(lines))


def assert_batch_completed(job: Any) -> None:
    """Assert that the batch job ended with status ``completed`` (and say what it did instead)."""
    __tracebackhide__ = True
    status = getattr(job.status, "value", job.status)
    if status != "completed":
        counts = getattr(job, "counts", None)
        detail = (f" ({counts.succeeded} succeeded, {counts.errored} errored, {counts.pending} pending "
                  f"of {counts.total})") if counts is not None and counts.total else ""
        errors = "".join(f"\n  {error}" for error in getattr(job, "errors", None) or ())
        hint = " - call processor.wait(job) first" if status in ("validating", "in_progress", "finalizing") else ""
        raise AssertionError(f"batch {job.id} on {job.provider} is {status!r}, not 'completed'{detail}{hint}{errors}")


def assertrepr_compare(op: str, left: Any, right: Any) -> list[str] | None:
    """For ``pytest_assertrepr_compare``: ``results == expected`` where the left side is a batch's
    results (or a list of result items) is explained with the same table as ``assert_extractions``."""
    if op != "==" or not _looks_like_results(left) or not isinstance(right, list | tuple):
        return None
    report = compare_extractions(left, right)
    if report.failures:
        return ["batch results do not match the expected values", *_render(report, _mismatch_header(report))
                .splitlines()]
    return ["batch result items are compared with plain values: every value matches, but the items are "
            "BatchSuccess/BatchError objects",
            "compare results.values() instead, or call assert_extractions(results, expected)"]


def _looks_like_results(value: Any) -> bool:
    if hasattr(value, "in_input_order") and hasattr(value, "successes"):
        return True
    return (isinstance(value, list) and bool(value)
            and all(hasattr(v, "custom_id") and hasattr(v, "ok") for v in value))


__all__ = ["ExtractionMismatch", "ExtractionReport", "FieldDiff", "ItemReport", "assert_at_most_errors",
           "assert_batch_completed", "assert_error_kinds", "assert_extractions", "assert_no_errors",
           "compare_extractions"]
