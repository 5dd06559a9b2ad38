"""OpenAI: Files + /v1/batches (wire-formats.md part A).

Request lines are chat completions with a strict ``json_schema`` response_format (the
openai SDK's own conversion), or ``/v1/responses`` lines with ``text.format``. Results are
the output file *and* the error file, streamed line by line.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from .. import model_catalog
from ..errors import (
    BatchNotFoundError,
    BatchProcessorError,
    ConfigurationError,
    ProviderError,
    UnsupportedOperationError,
    with_cause,
)
from ..models import BatchCounts, BatchError, BatchItem, BatchJob, BatchStatus, ErrorKind, Usage
from . import (
    LineBuilder,
    Limits,
    Message,
    Provider,
    afirst_jobs,
    api_key,
    first_jobs,
    parse_text,
    plain_messages,
)

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"

#: standard price per million tokens (input, output), US dollars: the catalog's; the batch discount is applied on top.
PRICES: dict[str, tuple[float, float]] = model_catalog.prices("openai")

#: OpenAI's not-run error rows (A.5): the code says why the request never ran.
_NOT_RUN = {"batch_expired": ErrorKind.EXPIRED, "batch_cancelled": ErrorKind.CANCELED}


class OpenAIProvider(Provider):
    name = "openai"
    #: how messages name the service (AzureProvider: "Azure OpenAI")
    label = "OpenAI"
    env_keys = ("OPENAI_API_KEY",)
    limits = Limits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
    line_keys = ("custom_id", "method", "url", "body")
    prices = PRICES
    client_names = ("openai.OpenAI", "openai.AsyncOpenAI")
    #: the batch endpoints (and request-line urls) endpoint= takes; the first is the default
    endpoints: tuple[str, ...] = (CHAT, RESPONSES)

    @property
    def default_endpoint(self) -> str:
        return self.endpoints[0]

    # ------------------------------------------------------------------ pure
    def check_mode_and_endpoint(self, mode: str, endpoint: str | None) -> None:
        super().check_mode_and_endpoint(mode, None)
        if endpoint is not None and endpoint not in self.endpoints:
            others = " or ".join(repr(e) for e in self.endpoints[1:])
            raise ConfigurationError(f"endpoint must be {self.default_endpoint!r} (the default) or {others}, "
                                     f"got {endpoint!r}")

    def line_builder(self, model: str, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> LineBuilder:
        endpoint = options.get("endpoint") or self.default_endpoint
        responses = _is_responses(endpoint)
        prompt_key = "input" if responses else "messages"
        # what every line's body repeats after its prompt, in the order the keys are written
        tail: dict[str, Any] = {}
        if response_model is not None:
            if responses:
                tail["text"] = {"format": text_format(response_model)}
            else:
                from openai.lib._parsing._completions import type_to_response_format_param

                tail["response_format"] = type_to_response_format_param(response_model)
        if options.get("max_tokens"):
            tail["max_output_tokens" if responses else "max_completion_tokens"] = options["max_tokens"]
        tail.update(options.get("params") or {})

        def line(custom_id: str, messages: list[Message]) -> dict[str, Any]:
            body = {"model": model, prompt_key: messages}
            body.update(tail)
            return {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}

        return line

    def line_messages(self, line: dict[str, Any]) -> list[Message] | None:
        return line_messages(line)

    def new_client(self, key: str | None, base_url: str | None, *, async_client: bool = False) -> Any:
        import openai

        return (openai.AsyncOpenAI if async_client else openai.OpenAI)(api_key=key, base_url=base_url)

    def make_client(self, *, async_client: bool) -> Any:
        # base_url and the rest come from the environment the way the SDK does (OPENAI_BASE_URL).
        return self.new_client(api_key(*self.env_keys), None, async_client=async_client)

    # ------------------------------------------------------------------ sync
    def submit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
               options: dict[str, Any]) -> BatchJob:
        endpoint = lines[0].get("url") or self.default_endpoint
        with self._errors("upload the batch input"):
            uploaded = client.files.create(file=("batch_input.jsonl", data, "application/jsonl"), purpose="batch")
        with self._errors("create the batch"):
            batch = client.batches.create(input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h",
                                          **_metadata(options))
        return self.to_job(batch)

    def retrieve(self, client: Any, batch_id: str) -> BatchJob:
        with self._errors("retrieve", batch_id):
            return self.to_job(client.batches.retrieve(batch_id))

    def list(self, client: Any, limit: int) -> list[BatchJob]:
        with self._errors("list batches"):
            return first_jobs(client.batches.list(limit=min(limit, 100)), limit, self.to_job)

    def cancel(self, client: Any, batch_id: str) -> BatchJob:
        with self._errors("cancel", batch_id):
            return self.to_job(client.batches.cancel(batch_id))

    def delete(self, client: Any, batch_id: str) -> None:
        raise self._no_delete(batch_id)

    def submitted_ids(self, client: Any, job: BatchJob) -> list[str] | None:
        # the input file still holds every custom_id; a line that does not parse is skipped
        # (a batch that failed validation may have some)
        found = self._read_input(client, job, _custom_id)
        return None if found is None else list(found)

    def submitted_prompts(self, client: Any, job: BatchJob) -> dict[str, list[Message]] | None:
        found = self._read_input(client, job, _prompt)
        return None if found is None else dict(found)

    def _read_input(self, client: Any, job: BatchJob, pick: Callable[[str], Any]) -> list[Any] | None:
        """``pick`` of each line of the batch's input file (lines it returns None for are left out);
        None when the file is gone. Streamed: only what ``pick`` keeps is held."""
        file_id = getattr(job.raw, "input_file_id", None)
        if not file_id:
            return None
        with contextlib.suppress(BatchProcessorError), self._errors("download the input file", file_id, what="file"), \
                client.files.with_streaming_response.content(file_id) as response:
            return [picked for line in response.iter_lines() if (picked := pick(line)) is not None]
        return None

    def iter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> Iterator[BatchItem]:
        batch = job.raw
        endpoint = getattr(batch, "endpoint", None) or self.default_endpoint
        loads = json.loads
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            with self._errors("download the results file", file_id, what="file"), \
                    client.files.with_streaming_response.content(file_id) as response:
                for line in response.iter_lines():
                    if line:
                        yield self.parse_row(loads(line), response_model, endpoint)

    # ------------------------------------------------------------------ async
    async def asubmit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
                      options: dict[str, Any]) -> BatchJob:
        endpoint = lines[0].get("url") or self.default_endpoint
        with self._errors("upload the batch input"):
            uploaded = await client.files.create(file=("batch_input.jsonl", data, "application/jsonl"),
                                                 purpose="batch")
        with self._errors("create the batch"):
            batch = await client.batches.create(input_file_id=uploaded.id, endpoint=endpoint,
                                                completion_window="24h", **_metadata(options))
        return self.to_job(batch)

    async def aretrieve(self, client: Any, batch_id: str) -> BatchJob:
        with self._errors("retrieve", batch_id):
            return self.to_job(await client.batches.retrieve(batch_id))

    async def alist(self, client: Any, limit: int) -> list[BatchJob]:
        with self._errors("list batches"):
            return await afirst_jobs(client.batches.list(limit=min(limit, 100)), limit, self.to_job)

    async def acancel(self, client: Any, batch_id: str) -> BatchJob:
        with self._errors("cancel", batch_id):
            return self.to_job(await client.batches.cancel(batch_id))

    async def adelete(self, client: Any, batch_id: str) -> None:
        raise self._no_delete(batch_id)

    async def asubmitted_ids(self, client: Any, job: BatchJob) -> list[str] | None:
        found = await self._aread_input(client, job, _custom_id)
        return None if found is None else list(found)

    async def asubmitted_prompts(self, client: Any, job: BatchJob) -> dict[str, list[Message]] | None:
        found = await self._aread_input(client, job, _prompt)
        return None if found is None else dict(found)

    async def _aread_input(self, client: Any, job: BatchJob, pick: Callable[[str], Any]) -> list[Any] | None:
        file_id = getattr(job.raw, "input_file_id", None)
        if not file_id:
            return None
        with contextlib.suppress(BatchProcessorError), self._errors("download the input file", file_id, what="file"):
            async with client.files.with_streaming_response.content(file_id) as response:
                return [picked async for line in response.iter_lines() if (picked := pick(line)) is not None]
        return None

    async def aiter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                            options: dict[str, Any]) -> AsyncIterator[BatchItem]:
        batch = job.raw
        endpoint = getattr(batch, "endpoint", None) or self.default_endpoint
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            with self._errors("download the results file", file_id, what="file"):
                async with client.files.with_streaming_response.content(file_id) as response:
                    async for line in response.iter_lines():
                        if line:
                            yield self.parse_row(json.loads(line), response_model, endpoint)

    # ------------------------------------------------------------------ what Azure varies
    def parse_row(self, row: dict[str, Any], response_model: type[BaseModel] | None, endpoint: str) -> BatchItem:
        return parse_row(row, response_model, endpoint)

    def to_job(self, batch: Any) -> BatchJob:
        return to_job(batch, self.name, self.label)

    def _errors(self, action: str, batch_id: str | None = None, *, what: str = "batch"
                ) -> contextlib.AbstractContextManager[None]:
        return _errors(action, batch_id, what=what, label=self.label)

    def _no_delete(self, batch_id: str) -> UnsupportedOperationError:
        return UnsupportedOperationError(
            f"{self.label} batches cannot be deleted ({batch_id}); cancel it with bp.cancel(), or delete its files "
            "with client.files.delete(<input_file_id / output_file_id / error_file_id>)")


def text_format(response_model: type[BaseModel]) -> dict[str, Any]:
    """The Responses API ``text.format`` for ``response_model``: the SDK's own conversion
    (``type_to_text_format_param``, openai >= 1.66), or on older releases the same dict made
    from the chat helper's strict schema, which is what that function does."""
    try:
        from openai.lib._parsing._responses import type_to_text_format_param
    except ImportError:  # openai 1.55-1.65: no Responses helpers yet
        from openai.lib._parsing._completions import type_to_response_format_param

        schema = type_to_response_format_param(response_model)["json_schema"]
        return {"type": "json_schema", "strict": True, "name": schema["name"], "schema": schema["schema"]}
    return dict(type_to_text_format_param(response_model))


def _input_row(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line) if line else None
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def _custom_id(line: str) -> str | None:
    custom_id = (_input_row(line) or {}).get("custom_id")
    return custom_id if isinstance(custom_id, str) and custom_id else None


def line_messages(line: dict[str, Any]) -> list[Message] | None:
    """A line's chat ``messages``, or its Responses ``input`` (a string or messages)."""
    body = line.get("body")
    messages = body.get("messages", body.get("input")) if isinstance(body, dict) else None
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return plain_messages(messages)


def _prompt(line: str) -> tuple[str, list[Message]] | None:
    """(custom_id, messages) of an input-file line, or None (see Provider.line_messages)."""
    row = _input_row(line) or {}
    custom_id, messages = row.get("custom_id"), line_messages(row)
    return (custom_id, messages) if isinstance(custom_id, str) and messages is not None else None


# ---------------------------------------------------------------------- result rows
def parse_row(row: dict[str, Any], response_model: type[BaseModel] | None, endpoint: str = CHAT) -> BatchItem:
    """One output- or error-file line (A.5) as a success or an error."""
    custom_id = row["custom_id"]
    response = row.get("response")
    if response is None:  # not run: expired or cancelled (top-level error, response null)
        error = row.get("error") or {}
        code = error.get("code") or "error"
        return BatchError(custom_id, _NOT_RUN.get(code, ErrorKind.HTTP_ERROR),
                          f"{code}: {error.get('message') or 'the request did not run'}", None, row)
    status = response.get("status_code")
    body = response.get("body") or {}
    if status != 200:  # the request reached the endpoint and got an HTTP error; row.error is null
        error = body.get("error") or {}
        return BatchError(custom_id, ErrorKind.HTTP_ERROR, error.get("message") or f"HTTP {status}", status, row)
    if _is_responses(endpoint) or body.get("object") == "response":
        return _parse_response(custom_id, body, response_model, row)
    usage = body.get("usage")
    usage = Usage(usage["prompt_tokens"], usage["completion_tokens"]) if usage else Usage()
    choice = body["choices"][0]
    message = choice["message"]
    if message.get("refusal"):
        return BatchError(custom_id, ErrorKind.REFUSAL, message["refusal"], status, row, usage)
    if choice.get("finish_reason") == "content_filter":  # the answer was withheld by the content filter
        return BatchError(custom_id, ErrorKind.REFUSAL, "the answer was withheld by the content filter "
                          "(finish_reason 'content_filter')", status, row, usage)
    if choice.get("finish_reason") == "length":
        return BatchError(custom_id, ErrorKind.TRUNCATED, "the answer was cut off at the token limit "
                          "(finish_reason 'length')", status, row, usage)
    return parse_text(custom_id, message.get("content"), response_model, usage, row)


def _parse_response(custom_id: str, body: dict[str, Any], response_model: type[BaseModel] | None,
                    row: dict[str, Any]) -> BatchItem:
    usage = body.get("usage")
    usage = Usage(usage["input_tokens"], usage["output_tokens"]) if usage else Usage()
    texts = []
    for output in body.get("output") or ():
        if output.get("type") != "message":
            continue
        for part in output.get("content") or ():
            if part.get("type") == "refusal":
                return BatchError(custom_id, ErrorKind.REFUSAL, part.get("refusal") or "refused", 200, row, usage)
            if part.get("type") == "output_text":
                texts.append(part.get("text") or "")
    if body.get("status") == "incomplete":
        reason = (body.get("incomplete_details") or {}).get("reason") or "incomplete"
        return BatchError(custom_id, ErrorKind.TRUNCATED, f"the answer was cut off ({reason})", 200, row, usage)
    return parse_text(custom_id, "".join(texts) if texts else None, response_model, usage, row)


# ---------------------------------------------------------------------- batch objects
_ENDED_AT = ("completed_at", "failed_at", "expired_at", "cancelled_at")


def to_job(batch: Any, provider: str = "openai", label: str = "OpenAI") -> BatchJob:
    """An openai ``Batch`` as a BatchJob (OpenAI's statuses are the normalized words).

    Azure's first batch API versions (2024-07-01-preview) answered ``"status": "Validating"``,
    ISO-8601 timestamps and ``null`` counts (Azure OpenAI batch REST guide; docs/azure-batch.md):
    statuses are compared lower-cased, counts default to 0 and timestamps may be either."""
    counts = batch.request_counts
    total, done, failed = (counts.total or 0, counts.completed or 0, counts.failed or 0) if counts else (0, 0, 0)
    try:
        status = BatchStatus(str(batch.status).lower())
    except ValueError:
        raise ProviderError(f"{label} reports batch {batch.id} as {batch.status!r}, a status this version of "
                            "pytest-batch does not know; upgrade pytest-batch (or report it)") from None
    errors = []
    if batch.errors is not None and batch.errors.data:  # errors is {"object": "list", "data": [...]} (A.3)
        for error in batch.errors.data:
            line = f" (line {error.line})" if error.line is not None else ""
            errors.append(f"{error.code}: {error.message}{line}")
    ended = next((getattr(batch, name) for name in _ENDED_AT if getattr(batch, name, None)), None)
    # once ended, whatever did not succeed failed: a cancelled batch reports {total, 0, 0} (A.3)
    failed, pending = (total - done, 0) if status.is_terminal else (failed, max(0, total - done - failed))
    model = getattr(batch, "model", None)  # openai 1.x's Batch has no model field (2.0 added it)
    return BatchJob(provider, batch.id, status, model, BatchCounts(total, done, failed, pending),
                    _time(batch.created_at), _time(ended) if status.is_terminal else None, errors, batch)


def _time(value: int | float | str | None) -> datetime | None:
    if isinstance(value, str):  # Azure 2024-07-01-preview: "2024-07-19T17:13:57.2491382+00:00"
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return datetime.fromtimestamp(value, UTC) if value else None


def _is_responses(endpoint: str) -> bool:
    """Responses API lines: ``/v1/responses`` on OpenAI, ``/responses`` on Azure's classic API."""
    return endpoint.endswith("/responses")


def _metadata(options: dict[str, Any]) -> dict[str, Any]:
    metadata = options.get("metadata")
    return {"metadata": metadata} if metadata else {}


@contextlib.contextmanager
def _errors(action: str, batch_id: str | None = None, *, what: str = "batch", label: str = "OpenAI") -> Iterator[None]:
    import openai

    target = f" {batch_id}" if batch_id else ""
    try:
        yield
    except openai.NotFoundError as error:
        if batch_id is None:
            raise ProviderError(f"{label} could not {action}: {_message(error)}", status=404) from None
        raise BatchNotFoundError(f"{label} has no {what} {batch_id!r} ({_message(error)})") from None
    except openai.APIStatusError as error:
        raise ProviderError(f"{label} could not {action}{target}: HTTP {error.status_code}: {_message(error)}",
                            status=error.status_code) from None
    except openai.OpenAIError as error:  # connection errors and timeouts, after the SDK's own retries
        # "Connection error." alone hides which host failed and why: the message carries the cause
        raise ProviderError(f"{label} could not {action}{target}: {with_cause(error)}") from None


def _message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(error, "message", error))
