"""BatchProcessor: the synchronous processor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel

from ..errors import (
    ProviderError,
)
from ..models import BatchError, BatchJob, BatchResults, ErrorKind
from .base import _ROWS_GO_ABSENT, ProcessorBase
from .polling import _Backoff, _Hiccups, _naming_submitted, _PartFailures, _Progress
from .requests import BatchRequests, Source

T = TypeVar("T", bound=BaseModel)


class BatchProcessor(ProcessorBase[T]):
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
        job = BatchJob.group(parts, custom_ids=requests.custom_ids, prompts=requests.prompts)
        self._remember(job)
        return job

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
        backoff = _Backoff(timeout, interval, factor, max_interval, clock=self._clock)
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

    @overload
    def retry_failed(self, failed: BatchResults[Any] | Iterable[BatchError | str], *, feedback: bool = ...,
                     prompts: Mapping[str, Any] | None = ..., kinds: Iterable[ErrorKind | str] | None = ...,
                     job: BatchJob | str | None = ..., submit: Literal[False] = ...) -> BatchRequests: ...

    @overload
    def retry_failed(self, failed: BatchResults[Any] | Iterable[BatchError | str], *, feedback: bool = ...,
                     prompts: Mapping[str, Any] | None = ..., kinds: Iterable[ErrorKind | str] | None = ...,
                     job: BatchJob | str | None = ..., submit: Literal[True]) -> BatchJob: ...

    def retry_failed(self, failed: BatchResults[Any] | Iterable[BatchError | str], *, feedback: bool = True,
                     prompts: Mapping[str, Any] | None = None, kinds: Iterable[ErrorKind | str] | None = None,
                     job: BatchJob | str | None = None, submit: bool = False) -> BatchRequests | BatchJob:
        """New requests for the failed items of a job (same custom_ids); with ``submit=True``,
        submitted, and the new job returned.

        ``failed`` is a job's results (its errors are taken), a list of BatchErrors, or a list
        of custom_ids. The original prompts come from ``prompts`` (custom_id -> prompt), else
        from the job: the one the results or errors came from (``job=`` names it for custom_ids),
        whose prompts this processor remembers when it submitted it, or, for a job known only by
        its id, read back from the provider where it keeps the batch's input (OpenAI). With
        ``feedback``, the error of a validation_error, invalid_json or truncated answer is added
        to the prompt so the model can correct itself; other kinds, and custom_ids, are resent
        unchanged. ``kinds`` limits which errors are retried.
        """
        errors = list(failed.errors()) if isinstance(failed, BatchResults) else None
        plan = self._retry_plan(failed, prompts=prompts, job=job, kinds=kinds, errors=errors)
        for job_id in plan.unresolved:
            self._read_back(plan, job_id, self._submitted_prompts(plan.jobs.get(job_id) or self.status(job_id)))
        requests = self._retry_requests(plan, feedback)
        return self.submit(requests) if submit else requests

    def _submitted_prompts(self, job: BatchJob) -> dict[str, Any] | None:
        if job.raw is None:
            job = self.status(job)
        prompts: dict[str, Any] = {}
        for part in job.parts or [job]:
            found = self.provider.submitted_prompts(self.client, part)
            if found is None:
                return None
            prompts.update(found)
        return prompts

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
