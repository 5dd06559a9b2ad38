"""The normalized vocabulary every layer shares: statuses, jobs, result items, usage.

Providers translate their own objects into these; nothing above ``providers/`` sees a
provider's raw status string.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BatchStatus(str, Enum):
    """A batch's status, the same words on every provider (OpenAI's spelling)."""

    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True once the batch will not change any more ("cancelling" is not terminal)."""
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset({BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.CANCELLED, BatchStatus.EXPIRED})
#: how a job group's status is chosen from its parts: the first listed status any part has
#: among the running ones, else (all terminal) the worst ending.
_RUNNING_ORDER = (BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS, BatchStatus.CANCELLING, BatchStatus.FINALIZING)
_ENDED_ORDER = (BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED, BatchStatus.COMPLETED)


class ErrorKind(str, Enum):
    """Why one request of a batch produced no usable value."""

    HTTP_ERROR = "http_error"  #: the provider answered the request with an error status
    EXPIRED = "expired"  #: the batch's window closed before the request ran
    CANCELED = "canceled"  #: the batch was cancelled before the request ran
    REFUSAL = "refusal"  #: the model refused
    TRUNCATED = "truncated"  #: the answer hit the token limit
    INVALID_JSON = "invalid_json"  #: the answer is not JSON
    VALIDATION_ERROR = "validation_error"  #: JSON that does not fit the response model
    MISSING = "missing"  #: submitted, but no result row came back

    def __str__(self) -> str:
        return self.value


@dataclass(slots=True)
class Usage:
    """Token counts; ``+`` sums them."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


#: the BatchCounts field each error kind is counted in
_COUNTED_AS = {ErrorKind.HTTP_ERROR: "errored", ErrorKind.REFUSAL: "refused", ErrorKind.INVALID_JSON: "invalid",
               ErrorKind.VALIDATION_ERROR: "invalid", ErrorKind.TRUNCATED: "truncated",
               ErrorKind.EXPIRED: "expired", ErrorKind.CANCELED: "canceled", ErrorKind.MISSING: "missing"}
_FAILURES = ("errored", "refused", "invalid", "truncated", "expired", "canceled", "missing")


@dataclass(slots=True)
class BatchCounts:
    """Request counts: ``total = succeeded + failed + pending``, ``failed`` being the sum of
    ``errored`` (the provider answered the request with an error), ``refused``, ``invalid`` (an
    answer that is not JSON or does not fit the response model), ``truncated``, ``expired``,
    ``canceled`` and ``missing`` (no result came back).

    Counts the provider reports (``from_results`` False: after submit, status, wait, list)
    are coarser: only total, succeeded, errored and pending. Every provider counts a refusal,
    a truncated or an invalid answer as succeeded (the request ran, and is billed), and
    ``errored`` holds every other failure it counts (expired and canceled requests included).
    Once a job's results have been read to the end, ``job.counts`` is counted from them, by
    kind (``from_results`` True); ``job.provider_counts`` keeps what the provider reported.
    """

    total: int = 0
    succeeded: int = 0
    errored: int = 0
    pending: int = 0
    refused: int = 0
    invalid: int = 0
    truncated: int = 0
    expired: int = 0
    canceled: int = 0
    missing: int = 0
    #: True when counted from the results, False when reported by the provider
    from_results: bool = False

    @property
    def failed(self) -> int:
        """Every request that ended without a usable value, whatever the reason."""
        return (self.errored + self.refused + self.invalid + self.truncated + self.expired + self.canceled
                + self.missing)

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(*(getattr(self, name) + getattr(other, name) for name in _NUMBERS),
                           from_results=self.from_results and other.from_results)

    def summary(self) -> str:
        """``"3 of 5 succeeded, 1 refused, 1 invalid"``: the non-zero failures and pending, by kind."""
        parts = [f"{self.succeeded} of {self.total} succeeded"]
        parts += [f"{getattr(self, name)} {name}" for name in (*_FAILURES, "pending") if getattr(self, name)]
        return ", ".join(parts)


_NUMBERS = ("total", "succeeded", "errored", "pending", *_FAILURES[1:])


class _Counter:
    """Counts result items by kind as they stream past."""

    __slots__ = ("succeeded", "by_kind")

    def __init__(self) -> None:
        self.succeeded = 0
        self.by_kind: dict[ErrorKind, int] = {}

    def add(self, item: BatchItem) -> None:
        if item.ok:
            self.succeeded += 1
        else:
            kind = item.kind  # type: ignore[union-attr]
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def counts(self, reported_total: int = 0) -> BatchCounts:
        """The counts; requests the provider counted (``reported_total``) beyond the items seen
        are missing (a job known by id alone, whose custom_ids could not be checked)."""
        counts = BatchCounts(succeeded=self.succeeded, from_results=True)
        for kind, number in self.by_kind.items():
            name = _COUNTED_AS[kind]
            setattr(counts, name, getattr(counts, name) + number)
        seen = self.succeeded + sum(self.by_kind.values())
        counts.missing += max(0, reported_total - seen)
        counts.total = max(seen, reported_total)
        return counts


@dataclass(slots=True)
class BatchSuccess(Generic[T]):
    """One request's validated answer: a response-model instance, or ``str`` for plain text."""

    custom_id: str
    value: T
    usage: Usage
    raw: Any = field(default=None, repr=False)
    #: the id of the job whose results held this item (set while the results are read)
    job_id: str | None = field(default=None, repr=False, compare=False)
    ok = True


@dataclass(slots=True)
class BatchError:
    """One request that produced no value; ``status`` is the HTTP status when there was one.

    ``usage`` is set when the model did answer (a refusal, a truncated or unparseable
    answer): those tokens are billed like any other. ``job_id`` is the id of the job whose
    results held it: ``retry_failed`` finds the original prompts by it.
    """

    custom_id: str
    kind: ErrorKind
    message: str
    status: int | None = None
    raw: Any = field(default=None, repr=False)
    usage: Usage | None = None
    job_id: str | None = field(default=None, repr=False, compare=False)
    ok = False


BatchItem = BatchSuccess[Any] | BatchError


@dataclass
class BatchJob:
    """A submitted batch, or a group of batches made by splitting one input.

    ``id`` is the provider's batch id; for a group, the parts' ids joined by commas.
    ``custom_ids`` and ``prompts`` are known when this processor submitted the job (they
    make "missing" detection, input order and ``retry_failed`` possible); a job rebuilt
    from an id alone has neither.

    ``counts`` starts as what the provider reports, and is counted from the results once
    they have been read to the end (see BatchCounts); ``provider_counts`` is always what the
    provider reported.
    """

    provider: str
    id: str
    status: BatchStatus = BatchStatus.VALIDATING
    model: str | None = None
    counts: BatchCounts = field(default_factory=BatchCounts)
    created_at: datetime | None = None
    ended_at: datetime | None = None
    #: batch-level errors, as "code: message (line N)" strings
    errors: list[str] = field(default_factory=list)
    raw: Any = field(default=None, repr=False)
    custom_ids: list[str] | None = field(default=None, repr=False)
    prompts: dict[str, Any] | None = field(default=None, repr=False)
    parts: list[BatchJob] = field(default_factory=list, repr=False)
    #: the counts as the provider reported them (``counts`` until the results are read)
    provider_counts: BatchCounts = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.provider_counts is None:
            self.provider_counts = replace(self.counts)

    def __str__(self) -> str:
        return self.id

    @property
    def ids(self) -> list[str]:
        """The provider batch ids this job covers (one unless the input was split)."""
        return [part.id for part in self.parts] if self.parts else [self.id]

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @classmethod
    def group(cls, parts: Sequence[BatchJob], *, custom_ids: list[str] | None = None,
              prompts: dict[str, Any] | None = None) -> BatchJob:
        """One job for several parts; a single part is returned as itself (with the extras)."""
        if len(parts) == 1:
            job = parts[0]
            job.custom_ids = custom_ids if custom_ids is not None else job.custom_ids
            job.prompts = prompts if prompts is not None else job.prompts
            return job
        statuses = {part.status for part in parts}
        running = [s for s in _RUNNING_ORDER if s in statuses]
        status = running[0] if running else next(s for s in _ENDED_ORDER if s in statuses)
        counts = provider_counts = BatchCounts()
        for part in parts:
            counts, provider_counts = counts + part.counts, provider_counts + part.provider_counts
        created = [p.created_at for p in parts if p.created_at]
        ended = [p.ended_at for p in parts if p.ended_at]
        return cls(parts[0].provider, ",".join(p.id for p in parts), status, parts[0].model, counts,
                   min(created) if created else None,
                   max(ended) if ended and len(ended) == len(parts) else None,
                   [f"{p.id}: {e}" for p in parts for e in p.errors], [p.raw for p in parts],
                   custom_ids, prompts, list(parts), provider_counts)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """What is needed to find the job again (the raw provider object is left out)."""
        data = {"provider": self.provider, "model": self.model, "ids": self.ids, "status": self.status.value,
                "custom_ids": self.custom_ids, "prompts": self.prompts}
        if self.parts and all(part.custom_ids is not None for part in self.parts):
            # which requests went into which part: a cancelled or expired part's unreturned
            # requests are reported as canceled/expired, not missing
            data["part_sizes"] = [len(part.custom_ids or ()) for part in self.parts]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchJob:
        ids = data["ids"] if isinstance(data.get("ids"), list) else str(data.get("id", "")).split(",")
        status = BatchStatus(data.get("status") or "validating")
        parts = [cls(data["provider"], i, status, data.get("model")) for i in ids] if len(ids) > 1 else []
        custom_ids, sizes = data.get("custom_ids"), data.get("part_sizes")
        if parts and custom_ids is not None and sizes is not None and len(sizes) == len(parts):
            start = 0
            for part, size in zip(parts, sizes, strict=True):
                part.custom_ids, start = custom_ids[start:start + size], start + size
        return cls(data["provider"], ",".join(ids), status, data.get("model"), custom_ids=data.get("custom_ids"),
                   prompts=data.get("prompts"), parts=parts)

    @classmethod
    def from_json(cls, text: str) -> BatchJob:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_id(cls, provider: str, job_id: str, model: str | None = None) -> BatchJob:
        """A job known only by its id (or comma-joined ids); status unknown until polled."""
        return cls.from_dict({"provider": provider, "model": model, "ids": [i.strip() for i in job_id.split(",")
                                                                            if i.strip()]})


def _missing(custom_ids: Sequence[str], job: BatchJob | None) -> Iterator[BatchError]:
    """The errors for submitted requests with no result row: "canceled"/"expired" when their
    batch was cancelled or expired (the request never ran), else "missing"."""
    if not custom_ids:
        return
    ended: dict[str, BatchJob] = {}
    if job is not None:
        for part in job.parts or [job]:
            if part.status in (BatchStatus.CANCELLED, BatchStatus.EXPIRED):
                ended.update(dict.fromkeys(part.custom_ids or (job.custom_ids if not job.parts else ()) or (), part))
    for custom_id in custom_ids:
        part = ended.get(custom_id)
        if part is None:
            where = f" of batch {job.id} ({job.status.value})" if job is not None else ""
            yield BatchError(custom_id, ErrorKind.MISSING, f"no result came back for {custom_id}{where}")
        elif part.status is BatchStatus.CANCELLED:
            # OpenAI drops even the requests that finished before the cancel (OpenRouter live capture)
            yield BatchError(custom_id, ErrorKind.CANCELED,
                             f"batch {part.id} was cancelled and returned no result for {custom_id}")
        else:
            yield BatchError(custom_id, ErrorKind.EXPIRED,
                             f"batch {part.id} expired and returned no result for {custom_id}")


class _Returned:
    """Which submitted custom_ids came back. Rows usually arrive in input order, so only the
    ones that arrive ahead of it are held: memory stays flat however big the batch is, and
    grows only with how far out of order the provider returns rows."""

    def __init__(self, order: Sequence[str]) -> None:
        self.order = order
        self.position = 0  #: every custom_id before this one came back
        self.ahead: set[str] = set()

    def saw(self, custom_id: str) -> None:
        order, ahead = self.order, self.ahead
        if self.position < len(order) and order[self.position] == custom_id:
            self.position += 1
            while ahead and self.position < len(order) and order[self.position] in ahead:
                ahead.discard(order[self.position])
                self.position += 1
        else:
            ahead.add(custom_id)

    def missing(self) -> list[str]:
        """The submitted custom_ids that never came back, in input order."""
        return [c for c in self.order[self.position:] if c not in self.ahead]


class _ResultsBase:
    def __init__(self, *, custom_ids: Sequence[str] | None, job: BatchJob | None,
                 price: Callable[[Usage], float | None] | None) -> None:
        # the job's own list, not a copy: a 50,000-request job would pay 0.4 MB per read
        self.custom_ids = custom_ids if isinstance(custom_ids, list) or custom_ids is None else list(custom_ids)
        self.job = job
        self._price = price
        self._usage: Usage | None = None

    def _require_order(self) -> list[str]:
        if self.custom_ids is None:
            raise ValueError("input order is unknown for a job rebuilt from its id alone; submit it with this "
                             "processor, or pass the job saved with BatchJob.to_json()")
        return self.custom_ids

    def _cost(self, usage: Usage) -> float | None:
        return self._price(usage) if self._price is not None else None

    def _read_to_the_end(self, counter: _Counter) -> None:
        """Every result has been seen: the job's counts become the truthful ones, by kind."""
        if self.job is not None:
            self.job.counts = counter.counts(self.job.provider_counts.total)


class BatchResults(_ResultsBase, Generic[T]):
    """Every result of a job, streamed from the provider on each iteration.

    Iterating yields ``BatchSuccess``/``BatchError`` in the provider's order, then one
    ``BatchError(kind="missing")`` for each submitted custom_id that never came back.
    Missing requests can only be detected when the custom_ids are known: the job was
    submitted by this processor, restored with ``BatchJob.from_json``, or (OpenAI) it ended
    cancelled, expired or failed and its input file still lists them. Otherwise, for a job
    known only by its id, nothing is reported missing.
    """

    def __init__(self, source: Callable[[], Iterator[BatchItem]], *, custom_ids: Sequence[str] | None = None,
                 job: BatchJob | None = None, price: Callable[[Usage], float | None] | None = None) -> None:
        super().__init__(custom_ids=custom_ids, job=job, price=price)
        self._source = source

    def __iter__(self) -> Iterator[BatchItem]:
        returned = _Returned(self.custom_ids) if self.custom_ids is not None else None
        counter, job_id = _Counter(), self.job.id if self.job is not None else None
        failed = counter.by_kind  # counted inline: this loop runs once per result
        input_tokens = output_tokens = succeeded = 0
        for item in self._source():
            if returned is not None:
                returned.saw(item.custom_id)
            if item.usage is not None:
                input_tokens += item.usage.input_tokens
                output_tokens += item.usage.output_tokens
            item.job_id = job_id
            if item.ok:
                succeeded += 1
            else:
                failed[item.kind] = failed.get(item.kind, 0) + 1  # type: ignore[union-attr]
            yield item
        counter.succeeded = succeeded
        if returned is not None:
            for error in _missing(returned.missing(), self.job):
                error.job_id = job_id
                counter.add(error)
                yield error
        self._usage = Usage(input_tokens, output_tokens)
        self._read_to_the_end(counter)

    def in_input_order(self) -> Iterator[BatchItem]:
        """Items in the order the prompts were given; holds only the early arrivals in memory."""
        order = self._require_order()
        pending: dict[str, BatchItem] = {}
        position = 0
        for item in self:
            pending[item.custom_id] = item
            while position < len(order) and order[position] in pending:
                yield pending.pop(order[position])
                position += 1
        yield from pending.values()  # results whose custom_id was never submitted

    def successes(self) -> Iterator[BatchSuccess[T]]:
        return (item for item in self if item.ok)  # type: ignore[misc]

    def errors(self) -> Iterator[BatchError]:
        return (item for item in self if not item.ok)  # type: ignore[misc]

    def values(self) -> list[T]:
        """The validated values, in input order when it is known."""
        source = self.in_input_order() if self.custom_ids is not None else iter(self)
        return [item.value for item in source if item.ok]  # type: ignore[union-attr]

    def by_custom_id(self) -> dict[str, BatchItem]:
        return {item.custom_id: item for item in self}

    def write_jsonl(self, path: str | Path) -> Path:
        """Stream every item to ``path`` as JSONL; returns the path."""
        path = Path(path)
        with path.open("w", encoding="utf-8") as out:
            for item in self:
                out.write(item_to_json(item))
                out.write("\n")
        return path

    @property
    def usage(self) -> Usage:
        """Summed usage of every answered request, successes and billed errors alike (iterates
        once if not done yet)."""
        if self._usage is None:
            for _ in self:
                pass
        assert self._usage is not None
        return self._usage

    @property
    def estimated_cost(self) -> float | None:
        """US dollars at the batch price (50% off the price table); None for an unknown model."""
        return self._cost(self.usage)


class AsyncBatchResults(_ResultsBase, Generic[T]):
    """``BatchResults`` for ``AsyncBatchProcessor``: ``async for``, and awaitable helpers.

    ``usage``/``estimated_cost`` are available once the results were iterated; ``await
    results.total_usage()`` iterates if needed.
    """

    def __init__(self, source: Callable[[], AsyncIterator[BatchItem]], *, custom_ids: Sequence[str] | None = None,
                 job: BatchJob | None = None, price: Callable[[Usage], float | None] | None = None) -> None:
        super().__init__(custom_ids=custom_ids, job=job, price=price)
        self._source = source

    async def __aiter__(self) -> AsyncIterator[BatchItem]:
        returned = _Returned(self.custom_ids) if self.custom_ids is not None else None
        counter, job_id = _Counter(), self.job.id if self.job is not None else None
        usage = Usage()
        async for item in self._source():
            if returned is not None:
                returned.saw(item.custom_id)
            if item.usage is not None:
                usage = usage + item.usage
            item.job_id = job_id
            counter.add(item)
            yield item
        if returned is not None:
            for error in _missing(returned.missing(), self.job):
                error.job_id = job_id
                counter.add(error)
                yield error
        self._usage = usage
        self._read_to_the_end(counter)

    async def in_input_order(self) -> AsyncIterator[BatchItem]:
        order = self._require_order()
        pending: dict[str, BatchItem] = {}
        position = 0
        async for item in self:
            pending[item.custom_id] = item
            while position < len(order) and order[position] in pending:
                yield pending.pop(order[position])
                position += 1
        for item in pending.values():
            yield item

    async def successes(self) -> AsyncIterator[BatchSuccess[T]]:
        async for item in self:
            if item.ok:
                yield item  # type: ignore[misc]

    async def errors(self) -> AsyncIterator[BatchError]:
        async for item in self:
            if not item.ok:
                yield item  # type: ignore[misc]

    async def values(self) -> list[T]:
        source = self.in_input_order() if self.custom_ids is not None else self.__aiter__()
        return [item.value async for item in source if item.ok]  # type: ignore[union-attr]

    async def by_custom_id(self) -> dict[str, BatchItem]:
        return {item.custom_id: item async for item in self}

    async def write_jsonl(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w", encoding="utf-8") as out:
            async for item in self:
                out.write(item_to_json(item))
                out.write("\n")
        return path

    async def total_usage(self) -> Usage:
        if self._usage is None:
            async for _ in self:
                pass
        assert self._usage is not None
        return self._usage

    @property
    def usage(self) -> Usage:
        if self._usage is None:
            raise RuntimeError("iterate the results first, or use `await results.total_usage()`")
        return self._usage

    @property
    def estimated_cost(self) -> float | None:
        return self._cost(self.usage)


def item_to_json(item: BatchItem) -> str:
    """One result item as a JSON line (values are dumped with pydantic when they are models)."""
    if item.ok:
        value = item.value  # type: ignore[union-attr]
        dumped = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        return json.dumps({"custom_id": item.custom_id, "ok": True, "value": dumped,
                           "usage": {"input_tokens": item.usage.input_tokens,  # type: ignore[union-attr]
                                     "output_tokens": item.usage.output_tokens}},  # type: ignore[union-attr]
                          ensure_ascii=False)
    error: dict[str, Any] = {"custom_id": item.custom_id, "ok": False, "kind": item.kind.value,  # type: ignore[union-attr]
                             "message": item.message, "status": item.status}  # type: ignore[union-attr]
    if item.usage is not None:
        error["usage"] = {"input_tokens": item.usage.input_tokens, "output_tokens": item.usage.output_tokens}
    return json.dumps(error, ensure_ascii=False)
