"""What the sync and async processors share: building requests, splitting jobs, pricing results, retries."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ..errors import (
    ConfigurationError,
    InputFileError,
    ResultsNotReadyError,
)
from ..models import BatchError, BatchJob, BatchStatus, ErrorKind, Usage
from ..providers import Limits, Prompt, get_provider, normalize_prompt
from .pricing import BATCH_DISCOUNT, price_of
from .requests import BatchRequests, Source

T = TypeVar("T", bound=BaseModel)

#: the endings after which a batch may hold back rows (OpenAI drops even the finished ones on
#: cancel; a failed batch has none): for a job known only by id, the submitted custom_ids are
#: fetched so those requests are reported rather than silently absent.
_ROWS_GO_ABSENT = frozenset({BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})
#: errors in the model's own answer, which retry_failed(feedback=True) tells the model about;
#: the others (HTTP errors, expiry, cancellation) are retried with the prompt unchanged.
_FEEDBACK_KINDS = frozenset({ErrorKind.VALIDATION_ERROR, ErrorKind.INVALID_JSON, ErrorKind.TRUNCATED})


class ProcessorBase(Generic[T]):
    _async = False

    def __init__(self, model: str, response_model: type[T] | None = None, *, client: Any = None,
                 mode: str = "structured", endpoint: str | None = None, max_tokens: int | None = None,
                 params: dict[str, Any] | None = None, metadata: dict[str, str] | None = None,
                 limits: Limits | dict[str, int] | None = None, display_name: str | None = None,
                 sleep: Callable[[float], Any] | None = None, clock: Callable[[], float] | None = None) -> None:
        """``model`` is ``provider/model-name``; ``response_model`` a pydantic model, or None for
        plain text. ``mode="tools"`` (Anthropic) forces tool use instead of structured outputs;
        ``endpoint="/v1/responses"`` (OpenAI) builds Responses API lines; ``params`` are merged
        into every request body; ``limits`` overrides the provider's split limits
        (``max_requests``, ``max_bytes``, ``inline_bytes``); ``sleep`` replaces the pause between
        polls and ``clock`` the time source of ``wait``'s timeout (``time.monotonic``): tests pass a
        fake clock whose sleep advances it, and assert what happened instead of how long it took."""
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
        self._clock = clock

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
        line = self.provider.line_builder(self.model, self.response_model, self.options)  # the schema, once
        lines = [line(cid, msgs) for cid, msgs in zip(ids, messages, strict=True)]
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
        data = b"\n".join(requests.encoded_lines()[start:end]) + b"\n"
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
