"""The terminal summary: per provider, what the batch tests of this run did.

Counts come from the ``batch_processor`` fixture's processors (``instrument``), field
accuracy from every ``assert_extractions`` of the run (``record_accuracy``); both survive
pytest-xdist: each worker ships its ``RunStats.to_dict()`` through ``workeroutput`` and the
controller merges them (``RunStats.merge``) before printing.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

WORKEROUTPUT_KEY = "pytest_batch_stats"


@dataclass
class ProviderStats:
    """What one provider's batch tests did in this run."""

    modes: set[str] = field(default_factory=set)
    tests: int = 0
    batches: int = 0
    requests: int = 0
    successes: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None

    def add_cost(self, cost: float | None) -> None:
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost

    def merge(self, other: ProviderStats) -> None:
        self.modes |= other.modes
        self.tests += other.tests
        self.batches += other.batches
        self.requests += other.requests
        self.successes += other.successes
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.add_cost(other.cost)


@dataclass
class RunStats:
    """Per-provider stats of one process (a worker or the whole run), and their merge."""

    providers: dict[str, ProviderStats] = field(default_factory=dict)
    workers: int = 0
    #: provider -> field path (list indices as ``[*]``) -> [right, total], from assert_extractions
    accuracy: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def for_provider(self, provider: str) -> ProviderStats:
        return self.providers.setdefault(provider, ProviderStats())

    def add_accuracy(self, provider: str, fields: Mapping[str, Sequence[int]]) -> None:
        table = self.accuracy.setdefault(provider, {})
        for key, (right, total) in fields.items():
            tally = table.setdefault(key, [0, 0])
            tally[0] += right
            tally[1] += total

    def to_dict(self) -> dict[str, Any]:
        """Plain data for xdist's workeroutput (execnet only carries builtins)."""
        return {"providers": {name: {**asdict(stats), "modes": sorted(stats.modes)}
                              for name, stats in self.providers.items()},
                "accuracy": self.accuracy}

    def merge(self, data: dict[str, Any]) -> None:
        """Add a worker's ``to_dict()``."""
        self.workers += 1
        for name, values in data.get("providers", {}).items():
            self.for_provider(name).merge(ProviderStats(**{**values, "modes": set(values["modes"])}))
        for provider, fields in data.get("accuracy", {}).items():
            self.add_accuracy(provider, fields)


def record_accuracy(stats: RunStats, item: Any, reports: Iterable[Any]) -> None:
    """Count one test's ``assert_extractions`` reports into the run's accuracy table, per provider
    (the results' own, else the test's ``batch_provider``), and attach them to the test's report
    as a ``batch_accuracy`` user property (JSON), which ``--junitxml`` writes as a <property>.
    Results of no known provider (built by hand in a unit test) are left out."""
    callspec = getattr(item, "callspec", None)
    fallback = callspec.params.get("batch_provider") if callspec is not None else None
    by_provider: dict[str, dict[str, list[int]]] = {}
    for report in reports:
        provider = report.provider or (fallback if isinstance(fallback, str) else None)
        if provider is None:
            continue
        table = by_provider.setdefault(provider, {})
        for key, (right, total) in report.fields.items():
            tally = table.setdefault(key, [0, 0])
            tally[0] += right
            tally[1] += total
    for provider, fields in by_provider.items():
        stats.add_accuracy(provider, fields)
        right, total = sum(r for r, _ in fields.values()), sum(t for _, t in fields.values())
        item.user_properties.append(("batch_accuracy", json.dumps(
            {"provider": provider, "right": right, "total": total, "accuracy": round(right / total, 4) if total
             else 1.0, "fields": {key: fields[key] for key in sorted(fields)}})))


def count_requests(source: Any) -> int | None:
    """How many requests a ``submit`` source carries (a build, a prompt list, JSONL bytes, a
    BytesIO or a JSONL path), or None when it cannot be told cheaply."""
    import io
    from pathlib import Path

    if isinstance(source, bytes | bytearray):
        return sum(1 for line in bytes(source).splitlines() if line.strip())
    if isinstance(source, io.BytesIO):
        return count_requests(source.getvalue())
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    try:
        return len(source)
    except TypeError:
        return None


def instrument(processor: Any, stats: ProviderStats, mode: str, *,
               limit: Callable[[int], None] | None = None) -> Any:
    """Count the processor's batches, requests and results into ``stats`` (on the instance, so
    ``isinstance`` and every other method are untouched); sync and async processors alike.
    ``limit(n)`` runs before a submit of ``n`` requests and may raise."""
    stats.modes.add(mode)
    submit, results = processor.submit, processor.results
    seen: set[tuple[str, str]] = set()  # (job id, custom_id): fetching results twice counts once

    def before_submit(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
        size = count_requests(args[0] if args else kwargs.get("source"))
        if limit is not None and size is not None:
            limit(size)
        return size

    def after_submit(job: Any, size: int | None) -> Any:
        stats.batches += max(1, len(getattr(job, "parts", None) or ()))
        known = getattr(job, "custom_ids", None)
        stats.requests += len(known) if known is not None else (size or 0)
        return job

    def counting(batch_results: Any) -> Any:
        try:
            batch_results.__class__ = _counting_class(type(batch_results))
        except TypeError:
            return batch_results
        batch_results._pytest_batch_count = (stats, seen)
        return batch_results

    if inspect.iscoroutinefunction(submit):
        @functools.wraps(submit)
        async def counted_submit(*args: Any, **kwargs: Any) -> Any:
            size = before_submit(args, kwargs)
            return after_submit(await submit(*args, **kwargs), size)

        @functools.wraps(results)
        async def counted_results(*args: Any, **kwargs: Any) -> Any:
            return counting(await results(*args, **kwargs))
    else:
        @functools.wraps(submit)
        def counted_submit(*args: Any, **kwargs: Any) -> Any:
            size = before_submit(args, kwargs)
            return after_submit(submit(*args, **kwargs), size)

        @functools.wraps(results)
        def counted_results(*args: Any, **kwargs: Any) -> Any:
            return counting(results(*args, **kwargs))

    processor.submit = counted_submit
    processor.results = counted_results
    return processor


_COUNTING_CLASSES: dict[type, type] = {}


class _Counted:
    """What the counting results classes share: count one item once, then the cost of the new usage."""

    _pytest_batch_count: tuple[ProviderStats, set[tuple[str, str]]]

    def _count(self, item: Any, usage: Any) -> Any:
        stats, seen = self._pytest_batch_count
        job = getattr(self, "job", None)
        key = (str(getattr(job, "id", id(self))), item.custom_id)
        if key not in seen:
            seen.add(key)
            _count_item(stats, item)
            if item.ok and getattr(item, "usage", None) is not None:
                return item.usage if usage is None else usage + item.usage
        return usage

    def _count_cost(self, usage: Any) -> None:
        if usage is not None:
            try:
                self._pytest_batch_count[0].add_cost(self._cost(usage))  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a gap in the price table must not fail the test
                pass


def _counting_class(cls: type) -> type:
    """A subclass of the results class whose iteration (``for`` or ``async for``) also counts
    items into the stats (every helper, ``in_input_order``, ``successes``, ``usage``..., iterates
    ``self``)."""
    if cls not in _COUNTING_CLASSES:
        def __iter__(self: Any) -> Any:  # noqa: N807
            usage = None
            for item in super(counting, self).__iter__():
                usage = self._count(item, usage)
                yield item
            self._count_cost(usage)

        async def __aiter__(self: Any) -> Any:  # noqa: N807
            usage = None
            async for item in super(counting, self).__aiter__():
                usage = self._count(item, usage)
                yield item
            self._count_cost(usage)

        iterate = {"__aiter__": __aiter__} if hasattr(cls, "__aiter__") else {"__iter__": __iter__}
        counting = type(cls.__name__, (cls, _Counted), {**iterate, "__module__": cls.__module__,
                                                         "__qualname__": cls.__qualname__})
        _COUNTING_CLASSES[cls] = counting
    return _COUNTING_CLASSES[cls]


def _count_item(stats: ProviderStats, item: Any) -> None:
    if getattr(item, "ok", False):
        stats.successes += 1
        usage = getattr(item, "usage", None)
        if usage is not None:
            stats.input_tokens += usage.input_tokens
            stats.output_tokens += usage.output_tokens
    else:
        stats.errors += 1


@dataclass
class CassetteCheck:
    """--batch-check-cassettes: the folder report, and the cassettes a narrowed run could not judge."""

    report: Any  # cassettes.CassetteReport
    not_checked: list[Any] = field(default_factory=list)  # paths whose test module was not collected
    narrowed_by: list[str] = field(default_factory=list)  # "test paths", "-k", "-m"...

    def lines(self) -> list[str]:
        report = self.report
        if not self.not_checked:
            return report.format().splitlines()
        lines = report.lines()
        by_module: dict[Any, int] = {}
        for path in self.not_checked:
            by_module[path.parent] = by_module.get(path.parent, 0) + 1
        from .options import DEFAULT_NARROWING

        how = ("pass the rootdir to judge them: pytest --batch-check-cassettes --collect-only -q ."
               if set(self.narrowed_by) <= set(DEFAULT_NARROWING) else "run the check without them to find stale "
               "cassettes")
        for folder, count in by_module.items():
            lines.append(f"not checked: {count} cassette{'s' if count > 1 else ''} in {folder} (this run, narrowed "
                         f"by {', '.join(self.narrowed_by)}, did not collect that module; {how})")
        lines.append(report.count_line(len(self.not_checked), self.narrowed_by))
        return lines


def render(stats: RunStats, write_line: Callable[..., None]) -> None:
    """Write the per-provider table (nothing when no batch test ran)."""
    rows = [(name, stats.providers[name]) for name in sorted(stats.providers)]
    if not rows:
        return
    show_spend = any(s.modes & {"record", "live"} for _, s in rows)
    header = ["provider", "mode", "tests", "batches", "requests", "successes", "errors"]
    if show_spend:
        header += ["tokens in", "tokens out", "est. cost"]
    table = [header]
    for name, s in rows:
        row = [name, ",".join(sorted(s.modes)), str(s.tests), str(s.batches), str(s.requests), str(s.successes),
               str(s.errors)]
        if show_spend:
            spent = bool(s.modes & {"record", "live"})
            cost = "-" if not (spent and s.successes) else f"${s.cost:.6f}" if s.cost is not None else "unknown"
            row += [str(s.input_tokens) if spent else "-", str(s.output_tokens) if spent else "-", cost]
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    if stats.workers:
        write_line(f"merged from {stats.workers} xdist workers")
    for row in table:
        write_line("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def render_accuracy(stats: RunStats, write_line: Callable[..., None]) -> None:
    """Write the field-accuracy table: one column per provider, one row per field (all
    ``assert_extractions`` calls of the run together; list indices as ``[*]``)."""
    providers = sorted(stats.accuracy)
    if not providers:
        return
    keys = sorted({key for provider in providers for key in stats.accuracy[provider]})

    def cell(tally: Sequence[int] | None) -> str:
        if not tally or not tally[1]:
            return "-"
        right, total = tally
        return f"{100 * right / total:.1f}% ({right}/{total})"

    totals = {provider: [sum(t[0] for t in stats.accuracy[provider].values()),
                         sum(t[1] for t in stats.accuracy[provider].values())] for provider in providers}
    table = [["field", *providers], ["all fields", *(cell(totals[p]) for p in providers)]]
    table.extend([key, *(cell(stats.accuracy[p].get(key)) for p in providers)] for key in keys)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        write_line("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
