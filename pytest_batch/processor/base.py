"""What the sync and async processors share: building requests, splitting jobs, pricing results, retries."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from . import retry
from .pricing import BATCH_DISCOUNT, price_of
from .requests import BatchRequests, Source
from .retry import RetryPlan

T = TypeVar("T", bound=BaseModel)

#: the endings after which a batch may hold back rows (OpenAI drops even the finished ones on
#: cancel; a failed batch has none): for a job known only by id, the submitted custom_ids are
#: fetched so those requests are reported rather than silently absent.
_ROWS_GO_ABSENT = frozenset({BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})


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
        #: job id -> a job this processor submitted or read the prompts of: its prompts and
        #: custom_ids, for retry_failed and for the job named by its id alone
        self._submitted: dict[str, BatchJob] = {}

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
        # the prompts, for retry_failed; a line whose messages are not plain text has none
        messages = self.provider.line_messages
        prompts = {custom_id: found for custom_id, line in zip(ids, lines, strict=True)
                   if (found := messages(line)) is not None}
        return BatchRequests(self.provider.name, self.model, lines, ids, prompts)

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
        elif isinstance(job, str) and job.strip():
            text = job.strip()
            job = BatchJob.from_json(text) if text.startswith("{") else BatchJob.from_id(self.provider.name, text,
                                                                                          self.model)
        else:
            raise ConfigurationError(f"expected a BatchJob or a batch id, got {job!r}")
        known = self._submitted.get(job.id)
        if known is not None and job.prompts is None:  # a job this processor submitted, named by its id
            job.custom_ids, job.prompts = known.custom_ids or job.custom_ids, known.prompts
            part_ids = {part.id: part.custom_ids for part in known.parts}
            for part in job.parts:
                part.custom_ids = part_ids.get(part.id, part.custom_ids)
        elif known is None and job.prompts is not None:  # e.g. restored with BatchJob.from_json
            self._remember(job)
        return job

    @staticmethod
    def _regroup(job: BatchJob, parts: list[BatchJob]) -> BatchJob:
        for old, new in zip(job.parts or [job], parts, strict=True):
            new.custom_ids = old.custom_ids
        regrouped = BatchJob.group(parts, custom_ids=job.custom_ids, prompts=job.prompts)
        if job.counts.from_results and job.is_terminal and regrouped.status is job.status:
            regrouped.counts = job.counts  # an ended batch's results do not change: keep their counts
        return regrouped

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

    # ------------------------------------------------------------------ retry_failed
    def _retry_plan(self, failed: Any, *, prompts: Mapping[str, Any] | None, job: BatchJob | str | None,
                    kinds: Iterable[ErrorKind | str] | None, errors: Iterable[BatchError] | None = None) -> RetryPlan:
        """Which requests to retry and where their prompts come from; ``errors`` are the errors
        of ``failed`` when it is a job's results (already read)."""
        given = self._job(job) if job is not None else None
        of_results = retry.results_job(failed)
        failures = retry.failures_of(errors if errors is not None else failed, kinds, given or of_results)
        return retry.plan(failures, prompts=prompts, job=given, results_job=of_results, submitted=self._submitted)

    def _read_back(self, plan: RetryPlan, job_id: str, found: dict[str, Any] | None) -> None:
        """Keep the prompts read back from the provider's copy of the batch's input (None: there is none)."""
        if found is None:
            raise retry.cannot_read_back(self.provider.name, job_id)
        plan.prompts[job_id] = found
        self._remember(BatchJob.from_id(self.provider.name, job_id, self.model), prompts=found)

    def _retry_requests(self, plan: RetryPlan, feedback: bool) -> BatchRequests:
        ids, prompts, originals = retry.retry_prompts(plan, feedback, self.response_model)
        requests = self.build(prompts, custom_ids=ids)
        requests.prompts = originals  # a retry of the retry starts again from the original prompts
        return requests

    def _remember(self, job: BatchJob, *, prompts: dict[str, Any] | None = None) -> None:
        """Keep a job's prompts (and custom_ids) for retry_failed and for the job later named by
        its id (the whole job's id: results name it in each item's ``job_id``)."""
        if prompts is not None:
            job.prompts = prompts
        if job.prompts is not None:
            self._submitted[job.id] = job
