"""Anthropic: Message Batches (wire-formats.md part B).

Request lines use native structured outputs (``params.output_config.format``, the SDK's
``to_json_output_format``) by default, or forced tool use with ``mode="tools"``. Results
come from ``client.messages.batches.results(id)``, the SDK's streaming JSONL decoder; every
row type (succeeded, errored, canceled, expired) becomes an item.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pydantic import BaseModel

from .. import model_catalog
from ..errors import BatchNotFoundError, ProviderError, with_cause
from ..models import BatchCounts, BatchError, BatchItem, BatchJob, BatchStatus, ErrorKind, Usage
from . import (
    LineBuilder,
    Limits,
    Message,
    Provider,
    afirst_jobs,
    api_key,
    first_jobs,
    parse_object,
    parse_text,
    plain_messages,
    split_system,
)

DEFAULT_MAX_TOKENS = 1024

#: standard price per million tokens (input, output), US dollars: the catalog's; the batch discount is applied on top.
PRICES: dict[str, tuple[float, float]] = model_catalog.prices("anthropic")

#: the HTTP status of each error type in an ``errored`` row's envelope (wire-formats.md 0.1).
_ERROR_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "timeout_error": 504, "gateway_timeout": 504, "overloaded_error": 529,
}


class AnthropicProvider(Provider):
    name = "anthropic"
    env_keys = ("ANTHROPIC_API_KEY",)
    limits = Limits(max_requests=100_000, max_bytes=256 * 1024 * 1024)
    line_keys = ("custom_id", "params")
    custom_id_pattern = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # B.3
    prices = PRICES
    client_names = ("anthropic.Anthropic", "anthropic.AsyncAnthropic")
    client_probe = ("beta", "messages", "batches", "create")  # in every release with batches (0.36+)

    def check_mode_and_endpoint(self, mode: str, endpoint: str | None) -> None:
        super().check_mode_and_endpoint("structured" if mode == "tools" else mode, endpoint)

    def line_builder(self, model: str, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> LineBuilder:
        max_tokens = options.get("max_tokens") or DEFAULT_MAX_TOKENS
        # what every line's params repeat after the prompt, in the order the keys are written
        tail: dict[str, Any] = {}
        if response_model is not None:
            output_format = None if options.get("mode") == "tools" else json_output_format(response_model)
            if output_format is not None:
                tail["output_config"] = {"format": output_format}
            else:  # tools mode, or an anthropic SDK too old to convert a schema for structured outputs
                tail["tools"] = [{"name": response_model.__name__,
                                  "description": (response_model.__doc__ or "").strip()
                                  or f"Record the extracted {response_model.__name__}.",
                                  "input_schema": _tool_schema(response_model)}]
                tail["tool_choice"] = {"type": "tool", "name": response_model.__name__}
        tail.update(options.get("params") or {})

        def line(custom_id: str, messages: list[Message]) -> dict[str, Any]:
            system, chat = split_system(messages)
            params: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": chat}
            if system:
                params["system"] = system
            params.update(tail)
            return {"custom_id": custom_id, "params": params}

        return line

    def line_messages(self, line: dict[str, Any]) -> list[Message] | None:
        params = line.get("params")
        if not isinstance(params, dict):
            return None
        messages = plain_messages(params.get("messages"))
        system = params.get("system")
        if messages is None or (system is not None and not isinstance(system, str)):
            return None
        return [{"role": "system", "content": system}, *messages] if system else messages

    def new_client(self, key: str | None, base_url: str | None, *, async_client: bool = False) -> Any:
        import anthropic

        return (anthropic.AsyncAnthropic if async_client else anthropic.Anthropic)(api_key=key, base_url=base_url)

    def make_client(self, *, async_client: bool) -> Any:
        # ANTHROPIC_BASE_URL is read by the SDK itself; so is ANTHROPIC_AUTH_TOKEN, which it sends
        # as a bearer token when there is no API key.
        if os.environ.get("ANTHROPIC_AUTH_TOKEN") and not os.environ.get("ANTHROPIC_API_KEY"):
            return self.new_client(None, None, async_client=async_client)
        return self.new_client(api_key(*self.env_keys), None, async_client=async_client)

    # ------------------------------------------------------------------ sync
    def submit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
               options: dict[str, Any]) -> BatchJob:
        with _errors("create the batch"):
            return to_job(_batches(client).create(requests=lines))

    def retrieve(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("retrieve", batch_id):
            return to_job(_batches(client).retrieve(batch_id))

    def list(self, client: Any, limit: int) -> list[BatchJob]:
        with _errors("list batches"):
            return first_jobs(_batches(client).list(limit=min(limit, 1000)), limit, to_job)

    def cancel(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("cancel", batch_id):
            return to_job(_batches(client).cancel(batch_id))

    def delete(self, client: Any, batch_id: str) -> None:
        with _errors("delete", batch_id):
            batches = _batches(client)
            if hasattr(batches, "delete"):
                batches.delete(batch_id)
            else:  # anthropic < 0.43: the same request through the SDK's own client
                client.delete(f"/v1/messages/batches/{batch_id}", cast_to=object)

    def iter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> Iterator[BatchItem]:
        tools = options.get("mode") == "tools"
        with _errors("read the results of", job.id):
            for row in _batches(client).results(job.id):
                yield parse_row(row, response_model, tools)

    # ------------------------------------------------------------------ async
    async def asubmit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
                      options: dict[str, Any]) -> BatchJob:
        with _errors("create the batch"):
            return to_job(await _batches(client).create(requests=lines))

    async def aretrieve(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("retrieve", batch_id):
            return to_job(await _batches(client).retrieve(batch_id))

    async def alist(self, client: Any, limit: int) -> list[BatchJob]:
        with _errors("list batches"):
            return await afirst_jobs(_batches(client).list(limit=min(limit, 1000)), limit, to_job)

    async def acancel(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("cancel", batch_id):
            return to_job(await _batches(client).cancel(batch_id))

    async def adelete(self, client: Any, batch_id: str) -> None:
        with _errors("delete", batch_id):
            batches = _batches(client)
            if hasattr(batches, "delete"):
                await batches.delete(batch_id)
            else:
                await client.delete(f"/v1/messages/batches/{batch_id}", cast_to=object)

    async def aiter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                            options: dict[str, Any]) -> AsyncIterator[BatchItem]:
        tools = options.get("mode") == "tools"
        with _errors("read the results of", job.id):
            async for row in await _batches(client).results(job.id):
                yield parse_row(row, response_model, tools)


# ---------------------------------------------------------------------- SDK generations
def _batches(client: Any) -> Any:
    """The SDK's Message Batches resource: ``client.messages.batches`` (anthropic >= 0.41), or
    ``client.beta.messages.batches`` (0.36-0.40, which sends the ``message-batches-2024-09-24``
    beta header itself); the requests are the same."""
    batches = getattr(client.messages, "batches", None)
    return batches if batches is not None else client.beta.messages.batches


#: the anthropic release whose schema helper structured outputs need
_TRANSFORM_SCHEMA_SINCE = "0.73"


def json_output_format(response_model: type[BaseModel]) -> dict[str, Any] | None:
    """``output_config.format`` for ``response_model`` as the SDK converts it: its
    ``to_json_output_format`` (anthropic >= 2.5), else ``{"type": "json_schema", "schema":
    transform_schema(model)}``, which is what that function returns (transform_schema since
    0.73). None, with a warning, on an SDK older than that: the caller forces tool use instead,
    which every release of the Message Batches API takes."""
    try:
        from anthropic.lib._parse._transform import to_json_output_format
    except ImportError:
        pass
    else:
        return dict(to_json_output_format(response_model))
    try:
        from anthropic import transform_schema
    except ImportError:
        import anthropic

        warnings.warn(f"anthropic {anthropic.__version__} cannot convert {response_model.__name__} for structured "
                      f"outputs (output_config needs anthropic >= {_TRANSFORM_SCHEMA_SINCE}); pytest-batch sends "
                      "forced tool use instead (mode='tools'), which reads back the same. Upgrade anthropic for "
                      "output_config, or pass mode='tools' to say so.", stacklevel=4)
        return None
    return {"type": "json_schema", "schema": transform_schema(response_model)}


def _tool_schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """A forced tool's ``input_schema``: the SDK's ``transform_schema`` where it has one (0.73+),
    else the model's plain JSON schema (tool input schemas take any JSON schema)."""
    try:
        from anthropic import transform_schema
    except ImportError:
        return response_model.model_json_schema()
    return transform_schema(response_model)


# ---------------------------------------------------------------------- result rows
def parse_row(row: Any, response_model: type[BaseModel] | None, tools: bool = False) -> BatchItem:
    """One ``MessageBatchIndividualResponse`` (B.5) as a success or an error."""
    custom_id = row.custom_id
    result = row.result
    kind = result.type
    if kind == "errored":
        # result.error is the whole envelope: {"type": "error", "error": {"type", "message"}}
        envelope = result.error
        inner = getattr(envelope, "error", None)
        error_type = getattr(inner, "type", None) or "error"
        message = getattr(inner, "message", None) or "the request failed"
        return BatchError(custom_id, ErrorKind.HTTP_ERROR, f"{error_type}: {message}",
                          _ERROR_STATUS.get(error_type), row)
    if kind == "canceled":
        return BatchError(custom_id, ErrorKind.CANCELED, "the batch was cancelled before this request ran",
                          None, row)
    if kind == "expired":
        return BatchError(custom_id, ErrorKind.EXPIRED, "the batch expired before this request ran", None, row)
    message = result.message
    usage = Usage(message.usage.input_tokens, message.usage.output_tokens) if message.usage else Usage()
    if message.stop_reason == "refusal":
        text = "".join(getattr(b, "text", "") for b in message.content if b.type == "text")
        return BatchError(custom_id, ErrorKind.REFUSAL, text or "the model refused (stop_reason 'refusal')", 200,
                          row, usage)
    if message.stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return BatchError(custom_id, ErrorKind.TRUNCATED, f"the answer was cut off (stop_reason "
                          f"{message.stop_reason!r})", 200, row, usage)
    # a tool_use block answers forced tool use: mode="tools", or structured mode on an SDK too old
    # for output_config (see json_output_format), whose lines force the tool instead
    if response_model is not None and (tools or any(block.type == "tool_use" for block in message.content)):
        for block in message.content:
            if block.type == "tool_use":
                return parse_object(custom_id, block.input, response_model, usage, row)
        text = "".join(getattr(b, "text", "") for b in message.content if b.type == "text")
        if text:  # no tool call: the model answered in text; it may still be the JSON
            return parse_text(custom_id, text, response_model, usage, row)
        return BatchError(custom_id, ErrorKind.INVALID_JSON, "no tool_use block in the answer", 200, row, usage)
    texts = [b.text for b in message.content if b.type == "text"]
    return parse_text(custom_id, "".join(texts) if texts else None, response_model, usage, row)


def to_job(batch: Any) -> BatchJob:
    """An anthropic ``MessageBatch`` as a BatchJob.

    ``processing_status`` is in_progress, canceling or ended (B.2); an ended batch is
    "cancelled" if cancel was asked for, "expired" if requests expired, else "completed".
    Counts stay all-``processing`` until the batch ends.
    """
    counts = batch.request_counts
    status = {"in_progress": BatchStatus.IN_PROGRESS, "canceling": BatchStatus.CANCELLING}.get(
        batch.processing_status)
    if status is None:
        if batch.cancel_initiated_at is not None:
            status = BatchStatus.CANCELLED
        elif counts.expired:
            status = BatchStatus.EXPIRED
        else:
            status = BatchStatus.COMPLETED
    total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
    return BatchJob("anthropic", batch.id, status, None,
                    BatchCounts(total, counts.succeeded, counts.errored + counts.canceled + counts.expired,
                                counts.processing),
                    batch.created_at, batch.ended_at, [], batch)


@contextlib.contextmanager
def _errors(action: str, batch_id: str | None = None) -> Iterator[None]:
    import anthropic

    try:
        yield
    except anthropic.NotFoundError as error:
        if batch_id is None:
            raise ProviderError(f"Anthropic could not {action}: {_message(error)}", status=404) from None
        raise BatchNotFoundError(f"Anthropic has no message batch {batch_id!r} ({_message(error)})") from None
    except anthropic.APIStatusError as error:
        target = f" {batch_id}" if batch_id else ""
        hint = ""
        if action == "delete" and error.status_code == 400:
            hint = " (a batch can be deleted only once it has ended: cancel it, wait, then delete)"
        raise ProviderError(f"Anthropic could not {action}{target}: HTTP {error.status_code}: "
                            f"{_message(error)}{hint}", status=error.status_code) from None
    except anthropic.AnthropicError as error:
        target = f" {batch_id}" if batch_id else ""
        # "Connection error." alone hides which host failed and why: the message carries the cause
        raise ProviderError(f"Anthropic could not {action}{target}: {with_cause(error)}") from None


def _message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return str(getattr(error, "message", error))
