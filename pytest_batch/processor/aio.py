"""AsyncBatchProcessor: the processor for async SDK clients, awaitable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel

from ..errors import (
    ProviderError,
)
from ..models import AsyncBatchResults, BatchError, BatchJob, ErrorKind
from .base import _ROWS_GO_ABSENT, ProcessorBase
from .polling import _Backoff, _Hiccups, _naming_submitted, _PartFailures, _Progress
from .requests import BatchRequests, Source

T = TypeVar("T", bound=BaseModel)


class AsyncBatchProcessor(ProcessorBase[T]):
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
        job = BatchJob.group(parts, custom_ids=requests.custom_ids, prompts=requests.prompts)
        self._remember(job)
        return job

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
        backoff = _Backoff(timeout, interval, factor, max_interval, clock=self._clock)
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

    @overload
    async def retry_failed(self, failed: AsyncBatchResults[Any] | Iterable[BatchError | str], *,
                           feedback: bool = ..., prompts: Mapping[str, Any] | None = ...,
                           kinds: Iterable[ErrorKind | str] | None = ..., job: BatchJob | str | None = ...,
                           submit: Literal[False] = ...) -> BatchRequests: ...

    @overload
    async def retry_failed(self, failed: AsyncBatchResults[Any] | Iterable[BatchError | str], *,
                           feedback: bool = ..., prompts: Mapping[str, Any] | None = ...,
                           kinds: Iterable[ErrorKind | str] | None = ..., job: BatchJob | str | None = ...,
                           submit: Literal[True]) -> BatchJob: ...

    async def retry_failed(self, failed: AsyncBatchResults[Any] | Iterable[BatchError | str], *,
                           feedback: bool = True, prompts: Mapping[str, Any] | None = None,
                           kinds: Iterable[ErrorKind | str] | None = None, job: BatchJob | str | None = None,
                           submit: bool = False) -> BatchRequests | BatchJob:
        """See ``BatchProcessor.retry_failed``; takes the async results (or BatchErrors, or custom_ids)."""
        errors = [error async for error in failed.errors()] if isinstance(failed, AsyncBatchResults) else None
        plan = self._retry_plan(failed, prompts=prompts, job=job, kinds=kinds, errors=errors)
        for job_id in plan.unresolved:
            known = plan.jobs.get(job_id) or await self.status(job_id)
            self._read_back(plan, job_id, await self._submitted_prompts(known))
        requests = self._retry_requests(plan, feedback)
        return await self.submit(requests) if submit else requests

    async def _submitted_prompts(self, job: BatchJob) -> dict[str, Any] | None:
        if job.raw is None:
            job = await self.status(job)
        prompts: dict[str, Any] = {}
        for part in job.parts or [job]:
            found = await self.provider.asubmitted_prompts(self.client, part)
            if found is None:
                return None
            prompts.update(found)
        return prompts

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
