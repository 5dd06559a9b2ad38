"""Assertion helpers for batch results, with failure messages that show the whole picture.

``assert_extractions`` prints one table row per item (expected, got, or the error's kind
and message), then the missing and unexpected custom_ids, so a failed run says at once
which prompt went wrong and how.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_OK, _DIFF, _ERR, _MISSING, _EXTRA = "ok", "DIFF", "ERROR", "MISSING", "UNEXPECTED"
#: how the header counts each kind of row: (one, several)
_LABELS = {_DIFF: ("wrong value", "wrong values"), _ERR: ("error", "errors"), _MISSING: ("missing", "missing"),
           _EXTRA: ("unexpected", "unexpected")}


class ExtractionMismatch(AssertionError):
    """``assert_extractions`` failed; ``rows`` holds the table it printed."""

    def __init__(self, message: str, rows: list[tuple[str, str, str, str]]) -> None:
        super().__init__(message)
        self.rows = rows


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if hasattr(value, "model_dump"):
        fields = value.model_dump()
        return f"{type(value).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"
    return repr(value)


def _items(results: Any) -> list[Any]:
    """The result items, in input order when the results know it."""
    if hasattr(results, "in_input_order") and getattr(results, "custom_ids", None) is not None:
        return list(results.in_input_order())
    return list(results)


def _error_text(item: Any) -> str:
    kind = getattr(item.kind, "value", item.kind)
    status = f" {item.status}" if getattr(item, "status", None) else ""
    return f"error {kind}{status}: {item.message}"


def assert_extractions(results: Any, expected: Sequence[Any] | Mapping[str, Any], *, by: str | None = None) -> None:
    """Assert that the batch extracted exactly ``expected``.

    ``by="order"`` (the default for a sequence): ``expected`` is matched to the results in
    input order (the submitted order when the results know it; custom_ids are whatever the
    processor chose). ``by="custom_id"`` (the default for a mapping): ``expected`` maps
    custom_id -> value. Error items, missing items and unexpected extra items all fail, and
    the message is a table of every item (an expected item with no result is shown as #N,
    its 1-based position).
    """
    __tracebackhide__ = True
    if by is None:
        by = "custom_id" if isinstance(expected, Mapping) else "order"
    if by not in ("order", "custom_id"):
        raise ValueError(f"assert_extractions(by=...): use 'order' or 'custom_id', not {by!r}")
    items = _items(results)
    rows: list[tuple[str, str, str, str]] = []  # (verdict, custom_id, expected, got)
    if by == "custom_id":
        if not isinstance(expected, Mapping):
            raise TypeError("assert_extractions(by='custom_id') needs a mapping custom_id -> expected value")
        got = {item.custom_id: item for item in items}
        for custom_id, want in expected.items():
            rows.append(_row(custom_id, want, got.pop(custom_id, None)))
        rows.extend(_row(item.custom_id, None, item, extra=True) for item in got.values())
    else:
        if isinstance(expected, Mapping):
            raise TypeError("assert_extractions(by='order') needs a sequence; pass by='custom_id' for a mapping")
        wanted = list(expected)
        for index in range(max(len(wanted), len(items))):
            item = items[index] if index < len(items) else None
            if index >= len(wanted):
                rows.append(_row(item.custom_id, None, item, extra=True))
            else:
                rows.append(_row(item.custom_id if item is not None else f"#{index + 1}", wanted[index], item))
    failures = [row for row in rows if row[0] != _OK]
    if failures:
        raise ExtractionMismatch(_render(rows, failures, by), rows)


def _row(custom_id: str, want: Any, item: Any, *, extra: bool = False) -> tuple[str, str, str, str]:
    if item is None:
        return (_MISSING, custom_id, _show(want), "(no result)")
    if extra:
        got = _show(item.value) if item.ok else _error_text(item)
        return (_EXTRA, custom_id, "(not expected)", got)
    if not item.ok:
        kind = getattr(item.kind, "value", item.kind)
        verdict = _MISSING if kind == "missing" else _ERR
        return (verdict, custom_id, _show(want), _error_text(item))
    return (_OK if item.value == want else _DIFF, custom_id, _show(want), _show(item.value))


def _render(rows: list[tuple[str, str, str, str]], failures: list[tuple[str, str, str, str]], by: str) -> str:
    counts: dict[str, int] = {}
    for verdict, *_ in failures:
        counts[verdict] = counts.get(verdict, 0) + 1
    total = sum(1 for row in rows if row[0] != _EXTRA)
    summary = ", ".join(f"{n} {_LABELS[verdict][n != 1]}" for verdict, n in counts.items())
    header = ("", "custom_id", "expected", "got")
    table = [header, *[(("  " if r[0] == _OK else "✗ ") + r[0], r[1], r[2], r[3]) for r in rows]]
    widths = [min(max(len(row[i]) for row in table), 60) for i in range(3)]
    lines = [f"batch extraction mismatch (matched by {by}): {summary} of {total} expected items"]
    for row in table:
        cells = [_clip(row[i], widths[i]).ljust(widths[i]) for i in range(3)]
        lines.append("  " + " | ".join([*cells, row[3]]).rstrip())
    missing = [r[1] for r in failures if r[0] == _MISSING]
    unexpected = [r[1] for r in failures if r[0] == _EXTRA]
    errors = [(r[1], r[3]) for r in failures if r[0] == _ERR]
    if missing:
        lines.append(f"missing: {', '.join(missing)}")
    if unexpected:
        lines.append(f"unexpected: {', '.join(unexpected)}")
    for custom_id, text in errors:
        lines.append(f"{custom_id}: {text}")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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
    try:
        assert_extractions(left, right)
    except ExtractionMismatch as error:
        return ["batch results do not match the expected values", *str(error).splitlines()]
    return ["batch result items are compared with plain values: every value matches, but the items are "
            "BatchSuccess/BatchError objects",
            "compare results.values() instead, or call assert_extractions(results, expected)"]


def _looks_like_results(value: Any) -> bool:
    if hasattr(value, "in_input_order") and hasattr(value, "successes"):
        return True
    return (isinstance(value, list) and bool(value)
            and all(hasattr(v, "custom_id") and hasattr(v, "ok") for v in value))


__all__ = ["ExtractionMismatch", "assert_batch_completed", "assert_extractions", "assert_no_errors"]
