"""BatchProcessor: one API over the OpenAI, Anthropic and Gemini batch APIs.

    from pytest_batch import BatchProcessor
    bp = BatchProcessor("openai/gpt-4o-mini", response_model=User)
    job = bp.submit(prompts)
    job = bp.wait(job)
    for item in bp.results(job).in_input_order(): ...

The provider comes from the ``provider/model-name`` string and nothing else. Building
requests needs no key and no network; the SDK client is made lazily from the environment
(or injected with ``client=``). Everything provider-specific lives in ``providers/``.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from .errors import (BatchProcessorError, BatchTimeoutError, ConfigurationError, InputFileError, ProviderError,
                     ResultsNotReadyError, UnsupportedOperationError)
from .models import AsyncBatchResults, BatchError, BatchJob, BatchResults, BatchStatus, ErrorKind, Usage
from .providers import Limits, Prompt, Provider, get_provider, normalize_prompt

T = TypeVar("T", bound=BaseModel)

#: errors in the model's own answer, which retry_failed(feedback=True) tells the model about;
#: the others (HTTP errors, expiry, cancellation) are retried with the prompt unchanged.
#: the endings after which a batch may hold back rows (OpenAI drops even the finished ones on
#: cancel; a failed batch has none): for a job known only by id, the submitted custom_ids are
#: fetched so those requests are reported rather than silently absent.
_ROWS_GO_ABSENT = frozenset({BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})
_FEEDBACK_KINDS = frozenset({ErrorKind.VALIDATION_ERROR, ErrorKind.INVALID_JSON, ErrorKind.TRUNCATED})

#: user prices, per million tokens (input, output) at the standard rate, keyed "provider/model";
#: consulted before each provider file's table. Batch pricing is BATCH_DISCOUNT of it.
PRICES: dict[str, tuple[float, float]] = {}
BATCH_DISCOUNT = 0.5


def register_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Add or override a model's standard price: ``register_price("openai/gpt-4o-mini", 0.15, 0.6)``."""
    if "/" not in model:
        raise ConfigurationError(f"register_price needs 'provider/model-name', got {model!r}")
    PRICES[model] = (float(input_per_mtok), float(output_per_mtok))


def price_of(provider: Provider, model: str) -> tuple[float, float] | None:
    """The standard price of a model: exact name, else the longest known prefix (dated snapshots)."""
    full = f"{provider.name}/{model}"
    if full in PRICES:
        return PRICES[full]
    table = {**provider.prices, **{k.partition("/")[2]: v for k, v in PRICES.items()
                                   if k.startswith(provider.name + "/")}}
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None


@dataclass
class BatchRequests:
    """Request lines built for one provider, in memory until written or submitted.

    ``prompts`` maps each custom_id to its messages (kept for ``retry_failed``).
    """

    provider: str
    model: str
    lines: list[dict[str, Any]]
    custom_ids: list[str]
    prompts: dict[str, Any] | None = None
    path: Path | None = None
    _encoded: list[bytes] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.lines)

    def encoded_lines(self) -> list[bytes]:
        """Each line as compact UTF-8 JSON, without the newline."""
        if len(self._encoded) != len(self.lines):
            self._encoded = [json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()
                             for line in self.lines]
        return self._encoded

    def to_bytes(self) -> bytes:
        return b"".join(line + b"\n" for line in self.encoded_lines())

    def to_bytesio(self) -> io.BytesIO:
        return io.BytesIO(self.to_bytes())

    def write(self, path: str | Path) -> Path:
        """Write exactly one JSONL file at ``path``."""
        path = Path(path)
        with path.open("wb") as out:
            for line in self.encoded_lines():
                out.write(line)
                out.write(b"\n")
        self.path = path
        return path


Source = BatchRequests | Sequence[Prompt] | str | Path | io.IOBase | bytes


class _ProcessorBase(Generic[T]):
    _async = False

    def __init__(self, model: str, response_model: type[T] | None = None, *, client: Any = None,
                 mode: str = "structured", endpoint: str | None = None, max_tokens: int | None = None,
                 params: dict[str, Any] | None = None, metadata: dict[str, str] | None = None,
                 limits: Limits | dict[str, int] | None = None, display_name: str | None = None,
                 sleep: Callable[[float], Any] | None = None) -> None:
        """``model`` is ``provider/model-name``; ``response_model`` a pydantic model, or None for
        plain text. ``mode="tools"`` (Anthropic) forces tool use instead of structured outputs;
        ``endpoint="/v1/responses"`` (OpenAI) builds Responses API lines; ``params`` are merged
        into every request body; ``limits`` overrides the provider's split limits
        (``max_requests``, ``max_bytes``, ``inline_bytes``); ``sleep`` replaces the pause between
        polls (tests pass a no-op)."""
        self.provider, self.model = get_provider(model)
        self.model_string = model
        if response_model is not None and not (isinstance(response_model, type)
                                               and issubclass(response_model, BaseModel)):
            raise ConfigurationError(f"response_model must be a pydantic model class (or None for plain text), got "
                                     f"{response_model!r}")
        self.response_model = response_model
        self.provider.check_mode_and_endpoint(mode, endpoint)
        if client is not None:
            self.provider.check_client(client, async_client=self._async)
        self.options: dict[str, Any] = {"mode": mode, "endpoint": endpoint, "params": dict(params or {}),
                                        "metadata": metadata, "display_name": display_name}
        if max_tokens is not None:
            self.options["max_tokens"] = max_tokens
        if isinstance(limits, dict):
            limits = self.provider.limits.with_(**limits)
        self.limits: Limits = limits or self.provider.limits
        self._client = client
        self._owns_client = False
        self._sleep = sleep

    def __repr__(self) -> str:
        name = self.response_model.__name__ if self.response_model else "str"
        return f"{type(self).__name__}({self.model_string!r}, response_model={name})"

    @property
    def client(self) -> Any:
        """The SDK client: the injected one, or one made from the environment on first use."""
        if self._client is None:
            self._client = self.provider.make_client(async_client=self._async)
            self._owns_client = True
        return self._client

    def _release_client(self) -> Any:
        """The client to close, if this processor made it (an injected one is the caller's)."""
        client = self._client if self._owns_client else None
        if client is not None:
            self._client, self._owns_client = None, False
        return client

    # ------------------------------------------------------------------ build (pure)
    def build(self, prompts: Sequence[Prompt], *, custom_ids: Sequence[str] | None = None,
              output: str | Path | None = None) -> BatchRequests:
        """Request lines for ``prompts`` (strings or chat message lists), in memory; with
        ``output``, also written to exactly that one file."""
        if isinstance(prompts, str | bytes) or not isinstance(prompts, Sequence):
            raise ConfigurationError("build() takes a list of prompts (strings or message lists)")
        if not prompts:
            raise ConfigurationError("build() needs at least one prompt")
        if custom_ids is None:
            ids = [f"request-{i}" for i in range(1, len(prompts) + 1)]
        else:
            ids = list(custom_ids)
            if len(ids) != len(prompts):
                raise ConfigurationError(f"got {len(ids)} custom_ids for {len(prompts)} prompts")
            self._check_ids(ids)
        messages = [normalize_prompt(prompt, i) for i, prompt in enumerate(prompts)]
        lines = [self.provider.request_line(cid, msgs, self.model, self.response_model, self.options)
                 for cid, msgs in zip(ids, messages, strict=True)]
        requests = BatchRequests(self.provider.name, self.model, lines, ids, dict(zip(ids, messages, strict=True)))
        if output is not None:
            requests.write(output)
        return requests

    def _check_ids(self, ids: Iterable[str], where: Callable[[int], str] | None = None) -> None:
        seen: set[str] = set()
        for index, custom_id in enumerate(ids):
            try:
                self.provider.check_custom_id(custom_id)
            except ConfigurationError as error:
                raise type(error)(f"{where(index)}: {error}" if where else str(error)) from None
            if custom_id in seen:
                prefix = f"{where(index)}: " if where else ""
                raise ConfigurationError(f"{prefix}duplicate custom_id {custom_id!r}: each custom_id must be "
                                         "unique within a batch")
            seen.add(custom_id)

    def _requests(self, source: Source) -> BatchRequests:
        """Whatever submit() was given, as checked request lines."""
        if isinstance(source, BatchRequests):
            if source.provider != self.provider.name:
                raise ConfigurationError(f"these requests were built for {source.provider}, not "
                                         f"{self.provider.name}")
            return source
        if isinstance(source, str | Path):
            path = Path(source)
            if not path.is_file():
                raise InputFileError(f"{path}: no such file (submit() takes a JSONL path, a BytesIO, a build, "
                                     "or a list of prompts)")
            with path.open("rb") as handle:
                return self._read_jsonl(handle, str(path))
        if isinstance(source, bytes):
            return self._read_jsonl(io.BytesIO(source), "<bytes>")
        if isinstance(source, io.IOBase):
            return self._read_jsonl(source, getattr(source, "name", None) or "<BytesIO>")
        return self.build(source)

    def _read_jsonl(self, handle: Any, name: str) -> BatchRequests:
        lines: list[dict[str, Any]] = []
        numbers: list[int] = []
        field_name = self.provider.id_field
        for number, raw in enumerate(handle, 1):
            if isinstance(raw, str):
                raw = raw.encode()
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError as error:
                raise InputFileError(f"{name} line {number}: not valid JSON ({getattr(error, 'msg', error)})") \
                    from None
            if not isinstance(line, dict):
                raise InputFileError(f"{name} line {number}: expected a JSON object, got {type(line).__name__}")
            absent = [key for key in self.provider.line_keys if key not in line]
            if absent or not isinstance(line.get(field_name), str):
                raise InputFileError(f"{name} line {number}: missing {(absent or [field_name])[0]!r}, which every "
                                     f"{self.provider.name} request line has (was the file built for another "
                                     "provider?)")
            lines.append(line)
            numbers.append(number)
        if not lines:
            raise InputFileError(f"{name}: no request lines")
        ids = [line[field_name] for line in lines]
        self._check_ids(ids, lambda i: f"{name} line {numbers[i]}")
        return BatchRequests(self.provider.name, self.model, lines, ids, None)

    def _chunks(self, requests: BatchRequests) -> list[tuple[list[dict[str, Any]], bytes, list[str]]]:
        """Split the lines so no batch exceeds the provider's request or byte limit: each chunk
        is (lines, their JSONL bytes, their custom_ids)."""
        chunks = []
        start = size = 0
        encoded = requests.encoded_lines()
        for index, line in enumerate(encoded):
            length = len(line) + 1
            if length > self.limits.max_bytes:
                raise ConfigurationError(f"request {requests.custom_ids[index]!r} is {length} bytes, over "
                                         f"{self.provider.name}'s limit of {self.limits.max_bytes} bytes per batch")
            if index > start and (index - start >= self.limits.max_requests or size + length > self.limits.max_bytes):
                chunks.append(self._chunk(requests, start, index))
                start, size = index, 0
            size += length
        chunks.append(self._chunk(requests, start, len(encoded)))
        return chunks

    @staticmethod
    def _chunk(requests: BatchRequests, start: int, end: int) -> tuple[list[dict[str, Any]], bytes, list[str]]:
        data = b"".join(line + b"\n" for line in requests.encoded_lines()[start:end])
        return requests.lines[start:end], data, requests.custom_ids[start:end]

    def _submit_options(self) -> dict[str, Any]:
        return {**self.options, "inline_bytes": self.limits.inline_bytes}

    def _job(self, job: BatchJob | str) -> BatchJob:
        if isinstance(job, BatchJob):
            if job.provider != self.provider.name:
                raise ConfigurationError(f"job {job.id} belongs to {job.provider}, not {self.provider.name}")
            return job
        if isinstance(job, str) and job.strip():
            text = job.strip()
            return BatchJob.from_json(text) if text.startswith("{") else BatchJob.from_id(self.provider.name, text,
                                                                                           self.model)
        raise ConfigurationError(f"expected a BatchJob or a batch id, got {job!r}")

    @staticmethod
    def _regroup(job: BatchJob, parts: list[BatchJob]) -> BatchJob:
        for old, new in zip(job.parts or [job], parts, strict=True):
            new.custom_ids = old.custom_ids
        return BatchJob.group(parts, custom_ids=job.custom_ids, prompts=job.prompts)

    def _price(self, usage: Usage) -> float | None:
        price = price_of(self.provider, self.model)
        if price is None:
            return None
        return (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1e6 * BATCH_DISCOUNT

    @staticmethod
    def _with_submitted_ids(job: BatchJob, parts: list[BatchJob], recovered: list[list[str] | None]) -> BatchJob:
        """A job known only by id, with the custom_ids the provider still has, so the requests
        a cancelled, expired or failed batch never answered come back as items too."""
        if any(ids is None for ids in recovered):
            return job
        for part, ids in zip(parts, recovered, strict=True):
            part.custom_ids = ids
        job.custom_ids = [custom_id for ids in recovered for custom_id in ids or ()]
        return job

    def _results_parts(self, job: BatchJob) -> list[BatchJob]:
        if not job.is_terminal:
            raise ResultsNotReadyError(f"batch {job.id} is {job.status.value}; results are ready once it "
                                       "is completed, failed, cancelled or expired (use bp.wait(job))")
        return job.parts or [job]

    def _retry(self, errors: Iterable[BatchError], prompts: dict[str, Any] | None, feedback: bool,
               kinds: Iterable[ErrorKind | str] | None) -> BatchRequests:
        wanted = {ErrorKind(k) for k in kinds} if kinds is not None else None
        errors = [e for e in errors if not e.ok and (wanted is None or e.kind in wanted)]
        if not errors:
            raise ConfigurationError("nothing to retry: no failed items")
        if prompts is None:
            raise ConfigurationError("retry_failed needs the original prompts: use the job this processor "
                                     "submitted, or pass prompts={custom_id: prompt}")
        unknown = [e.custom_id for e in errors if e.custom_id not in prompts]
        if unknown:
            raise ConfigurationError(f"no original prompt for custom_id(s) {', '.join(unknown[:5])}; pass "
                                     "prompts={custom_id: prompt}")
        position = {custom_id: index for index, custom_id in enumerate(prompts)}
        errors.sort(key=lambda error: position[error.custom_id])  # input order, not the provider's
        new_prompts = []
        for error in errors:
            messages = normalize_prompt(prompts[error.custom_id], 0)
            if feedback and error.kind in _FEEDBACK_KINDS:
                messages = messages + [{"role": "user", "content": self._feedback(error)}]
            new_prompts.append(messages)
        return self.build(new_prompts, custom_ids=[e.custom_id for e in errors])

    def _feedback(self, error: BatchError) -> str:
        answer = ("with only a JSON object that matches the requested schema" if self.response_model is not None
                  else "in full")
        return (f"Your previous answer to this request could not be used ({error.kind.value}: {error.message}). "
                f"Answer again, {answer}.")


@contextlib.contextmanager
def _naming_submitted(parts: list[BatchJob]) -> Iterator[None]:
    """When a later part of a split input is refused, say which parts were already submitted."""
    try:
        yield
    except ProviderError as error:
        if not parts:
            raise
        raise ProviderError(f"{error} (already submitted: {', '.join(p.id for p in parts)})",
                            status=error.status) from None


class _PartFailures:
    """Cancel and delete go on to every part of a split job; the parts that failed are reported
    together at the end. A single batch's error is raised as it is."""

    def __init__(self, action: str, job: BatchJob) -> None:
        self.action, self.job = action, job
        self.split = len(job.ids) > 1
        self.done: list[str] = []
        self.failed: list[tuple[str, BatchProcessorError]] = []

    @contextlib.contextmanager
    def collect(self, batch_id: str) -> Iterator[None]:
        try:
            yield
        except UnsupportedOperationError:
            raise  # the provider cannot do it for any part
        except BatchProcessorError as error:
            if not self.split:
                raise
            self.failed.append((batch_id, error))
        else:
            self.done.append(batch_id)

    def raise_any(self) -> None:
        if not self.failed:
            return
        first = self.failed[0][1]
        reasons = "; ".join(f"{batch_id}: {error}" for batch_id, error in self.failed)
        done = f" ({self.action} done for {', '.join(self.done)})" if self.done else ""
        message = f"could not {self.action} {len(self.failed)} of the {len(self.job.ids)} parts of {self.job.id}: " \
                  f"{reasons}{done}"
        raise ProviderError(message, status=getattr(first, "status", None))


class _Hiccups:
    """A day-long wait should not die on one rate limit or server hiccup while polling: a poll
    that fails with 408, 429, 5xx, 529 or a lost connection (after the SDK's own retries) is
    polled again at the next pause; ``LIMIT`` such failures in a row are raised."""

    TRANSIENT = frozenset({408, 429, 500, 502, 503, 504, 529})
    LIMIT = 5

    def __init__(self) -> None:
        self.in_a_row = 0

    def tolerate(self, error: ProviderError) -> None:
        if error.status is not None and error.status not in self.TRANSIENT:
            raise error
        self.in_a_row += 1
        if self.in_a_row >= self.LIMIT:
            raise ProviderError(f"{error} ({self.in_a_row} polls in a row failed; wait() gave up)",
                                status=error.status) from None

    def clear(self) -> None:
        self.in_a_row = 0


class _Backoff:
    """The pauses between polls: ``interval`` growing by ``factor`` up to ``max_interval``,
    for ``timeout`` seconds (wall time, or the pauses themselves when sleep is a no-op). The
    last pause is cut to what remains, so the final poll happens at the deadline."""

    def __init__(self, timeout: float | None, interval: float, factor: float, max_interval: float) -> None:
        if timeout is not None and timeout <= 0:
            raise ConfigurationError(f"timeout must be positive (seconds, or None for no limit), got {timeout!r}")
        if interval <= 0 or max_interval <= 0:
            raise ConfigurationError(f"interval and max_interval must be positive, got {interval!r} and "
                                     f"{max_interval!r}")
        self.timeout, self.interval, self.factor, self.max_interval = timeout, interval, factor, max_interval
        self.started = time.monotonic()
        self.slept = 0.0

    def pause(self, job: BatchJob) -> float:
        """The next pause, or BatchTimeoutError once the timeout has passed."""
        elapsed = max(time.monotonic() - self.started, self.slept)
        interval = self.interval
        if self.timeout is not None:
            remaining = self.timeout - elapsed
            if remaining < 1e-3:
                raise BatchTimeoutError(f"batch {job.id} still {job.status.value} after {elapsed:.0f}s "
                                        f"(timeout {self.timeout:g}s); wait again or raise timeout=")
            interval = min(interval, remaining)
        self.slept += interval
        self.interval = min(self.max_interval, self.interval * self.factor)
        return interval


class BatchProcessor(_ProcessorBase[T]):
    """Build, submit, poll and read batches on OpenAI, Anthropic or Gemini (synchronous).

    ``with BatchProcessor(...) as bp:`` closes the SDK client it made on the way out.
    """

    def close(self) -> None:
        """Close the SDK client this processor made from the environment (not an injected one)."""
        if (client := self._release_client()) is not None:
            self.provider.close_client(client)

    def __enter__(self) -> BatchProcessor[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, source: Source) -> BatchJob:
        """Submit a build, a list of prompts, a JSONL path, bytes or a BytesIO.

        Input beyond the provider's limits is split into several batches returned as one
        job (``job.parts``). A malformed JSONL fails with its path and line before anything
        is sent.
        """
        requests = self._requests(source)
        parts: list[BatchJob] = []
        for lines, data, ids in self._chunks(requests):
            with _naming_submitted(parts):
                part = self.provider.submit(self.client, lines, data, self.model, self._submit_options())
            part.custom_ids = ids
            parts.append(part)
        return BatchJob.group(parts, custom_ids=requests.custom_ids, prompts=requests.prompts)

    def status(self, job: BatchJob | str) -> BatchJob:
        """The job's current state, from the provider; ``job`` may be a BatchJob, an id, or ids
        joined by commas."""
        job = self._job(job)
        parts = [self.provider.retrieve(self.client, batch_id) for batch_id in job.ids]
        return self._regroup(job, parts)

    def wait(self, job: BatchJob | str, *, timeout: float | None = 24 * 3600, interval: float = 5.0,
             factor: float = 1.5, max_interval: float = 60.0, progress: bool = False,
             callback: Callable[[BatchJob], Any] | None = None,
             sleep: Callable[[float], Any] | None = None) -> BatchJob:
        """Poll until the job is terminal, backing off from ``interval`` by ``factor`` up to
        ``max_interval``; raises BatchTimeoutError after ``timeout`` seconds. A poll that meets a
        rate limit, a server error or a lost connection is retried at the next pause (five in a
        row are raised)."""
        sleep = sleep or self._sleep or time.sleep
        backoff = _Backoff(timeout, interval, factor, max_interval)
        job, hiccups = self._job(job), _Hiccups()
        with _Progress(progress) as bar:
            while True:
                try:
                    job = self.status(job)
                except ProviderError as error:
                    hiccups.tolerate(error)
                    sleep(backoff.pause(job))
                    continue
                hiccups.clear()
                bar.update(job)
                if callback is not None:
                    callback(job)
                if job.is_terminal:
                    return job
                sleep(backoff.pause(job))

    def results(self, job: BatchJob | str) -> BatchResults[T]:
        """Every result of the job, streamed (see BatchResults). A job that is not terminal
        is refreshed first; results of a running job raise ResultsNotReadyError."""
        job = self._job(job)
        if job.raw is None or not job.is_terminal:
            job = self.status(job)
        parts = self._results_parts(job)
        if job.custom_ids is None and job.status in _ROWS_GO_ABSENT:
            recovered = [self.provider.submitted_ids(self.client, part) for part in parts]
            job = self._with_submitted_ids(job, parts, recovered)
        client, provider, model, options = self.client, self.provider, self.response_model, self.options

        def source() -> Iterator[Any]:
            for part in parts:
                yield from provider.iter_results(client, part, model, options)

        return BatchResults(source, custom_ids=job.custom_ids, job=job, price=self._price)

    def retry_failed(self, failed: BatchResults[Any] | Iterable[BatchError], *, feedback: bool = True,
                     prompts: dict[str, Any] | None = None,
                     kinds: Iterable[ErrorKind | str] | None = None) -> BatchRequests:
        """New requests for the failed items of a job (same custom_ids), ready to submit.

        ``failed`` is a job's results (its errors are taken) or BatchErrors. The original
        prompts come from the job this processor submitted, or ``prompts`` (custom_id ->
        prompt). With ``feedback``, the error of a validation_error, invalid_json or truncated
        answer is added to the prompt so the model can correct itself; other kinds are resent
        unchanged. ``kinds`` limits which errors are retried.
        """
        if isinstance(failed, BatchResults):
            prompts = prompts if prompts is not None or failed.job is None else failed.job.prompts
            failed = failed.errors()
        return self._retry(failed, prompts, feedback, kinds)

    def list(self, limit: int = 20) -> list[BatchJob]:
        """The provider's most recent batches, newest first."""
        return self.provider.list(self.client, limit)

    def cancel(self, job: BatchJob | str) -> BatchJob:
        """Ask the provider to cancel; the job is "cancelling" until the provider confirms.

        For a split job every part is asked, and parts that already ended are left as they are.
        """
        job = self._job(job)
        parts, failures = [], _PartFailures("cancel", job)
        for batch_id in job.ids:
            with failures.collect(batch_id):
                try:
                    parts.append(self.provider.cancel(self.client, batch_id))
                except ProviderError:
                    if not failures.split:
                        raise
                    part = self.provider.retrieve(self.client, batch_id)  # a part that already ended is fine
                    if not part.is_terminal:
                        raise
                    parts.append(part)
        failures.raise_any()
        return self._regroup(job, parts)

    def delete(self, job: BatchJob | str) -> None:
        """Delete the batch (Anthropic: only once ended; OpenAI: not possible, raises); for a
        split job, every part is tried before an error is raised."""
        job = self._job(job)
        failures = _PartFailures("delete", job)
        for batch_id in job.ids:
            with failures.collect(batch_id):
                self.provider.delete(self.client, batch_id)
        failures.raise_any()


class AsyncBatchProcessor(_ProcessorBase[T]):
    """``BatchProcessor`` with awaitable methods, over the SDKs' async clients (google: client.aio).

    ``async with AsyncBatchProcessor(...) as bp:`` closes the client it made on the way out.
    """

    _async = True

    async def aclose(self) -> None:
        """Close the SDK client this processor made from the environment (not an injected one)."""
        if (client := self._release_client()) is not None:
            await self.provider.aclose_client(client)

    async def __aenter__(self) -> AsyncBatchProcessor[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def submit(self, source: Source) -> BatchJob:
        """See ``BatchProcessor.submit``."""
        requests = self._requests(source)
        parts: list[BatchJob] = []
        for lines, data, ids in self._chunks(requests):
            with _naming_submitted(parts):
                part = await self.provider.asubmit(self.client, lines, data, self.model, self._submit_options())
            part.custom_ids = ids
            parts.append(part)
        return BatchJob.group(parts, custom_ids=requests.custom_ids, prompts=requests.prompts)

    async def status(self, job: BatchJob | str) -> BatchJob:
        """See ``BatchProcessor.status``."""
        job = self._job(job)
        parts = [await self.provider.aretrieve(self.client, batch_id) for batch_id in job.ids]
        return self._regroup(job, parts)

    async def wait(self, job: BatchJob | str, *, timeout: float | None = 24 * 3600, interval: float = 5.0,
                   factor: float = 1.5, max_interval: float = 60.0, progress: bool = False,
                   callback: Callable[[BatchJob], Any] | None = None,
                   sleep: Callable[[float], Awaitable[Any]] | None = None) -> BatchJob:
        """See ``BatchProcessor.wait``; ``callback`` may be a coroutine function."""
        import asyncio

        sleep = sleep or self._sleep or asyncio.sleep
        backoff = _Backoff(timeout, interval, factor, max_interval)
        job, hiccups = self._job(job), _Hiccups()
        with _Progress(progress) as bar:
            while True:
                try:
                    job = await self.status(job)
                except ProviderError as error:
                    hiccups.tolerate(error)
                    await sleep(backoff.pause(job))
                    continue
                hiccups.clear()
                bar.update(job)
                if callback is not None and asyncio.iscoroutine(outcome := callback(job)):
                    await outcome
                if job.is_terminal:
                    return job
                await sleep(backoff.pause(job))

    async def results(self, job: BatchJob | str) -> AsyncBatchResults[T]:
        """See ``BatchProcessor.results``; iterate with ``async for``."""
        job = self._job(job)
        if job.raw is None or not job.is_terminal:
            job = await self.status(job)
        parts = self._results_parts(job)
        if job.custom_ids is None and job.status in _ROWS_GO_ABSENT:
            recovered = [await self.provider.asubmitted_ids(self.client, part) for part in parts]
            job = self._with_submitted_ids(job, parts, recovered)
        client, provider, model, options = self.client, self.provider, self.response_model, self.options

        async def source() -> Any:
            for part in parts:
                async for item in provider.aiter_results(client, part, model, options):
                    yield item

        return AsyncBatchResults(source, custom_ids=job.custom_ids, job=job, price=self._price)

    async def retry_failed(self, failed: AsyncBatchResults[Any] | Iterable[BatchError], *, feedback: bool = True,
                           prompts: dict[str, Any] | None = None,
                           kinds: Iterable[ErrorKind | str] | None = None) -> BatchRequests:
        """See ``BatchProcessor.retry_failed``; takes the async results (or BatchErrors)."""
        if isinstance(failed, AsyncBatchResults):
            prompts = prompts if prompts is not None or failed.job is None else failed.job.prompts
            failed = [error async for error in failed.errors()]
        return self._retry(failed, prompts, feedback, kinds)

    async def list(self, limit: int = 20) -> list[BatchJob]:
        """See ``BatchProcessor.list``."""
        return await self.provider.alist(self.client, limit)

    async def cancel(self, job: BatchJob | str) -> BatchJob:
        """See ``BatchProcessor.cancel``."""
        job = self._job(job)
        parts, failures = [], _PartFailures("cancel", job)
        for batch_id in job.ids:
            with failures.collect(batch_id):
                try:
                    parts.append(await self.provider.acancel(self.client, batch_id))
                except ProviderError:
                    if not failures.split:
                        raise
                    part = await self.provider.aretrieve(self.client, batch_id)  # a part that already ended is fine
                    if not part.is_terminal:
                        raise
                    parts.append(part)
        failures.raise_any()
        return self._regroup(job, parts)

    async def delete(self, job: BatchJob | str) -> None:
        """See ``BatchProcessor.delete``."""
        job = self._job(job)
        failures = _PartFailures("delete", job)
        for batch_id in job.ids:
            with failures.collect(batch_id):
                await self.provider.adelete(self.client, batch_id)
        failures.raise_any()


class _Progress:
    """A rich progress bar over the job's finished requests, when asked for."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.progress import Progress

            self._bar = Progress()
            self._bar.start()

    def update(self, job: BatchJob) -> None:
        if self._bar is None:
            return
        done = job.counts.succeeded + job.counts.errored
        description = f"{job.id[:40]} {job.status.value}"
        if self._task is None:
            self._task = self._bar.add_task(description, total=job.counts.total or None)
        self._bar.update(self._task, completed=done, total=job.counts.total or None, description=description)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
