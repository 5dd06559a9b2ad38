"""Google Gemini batch mode through google-genai (wire-formats.md part C, D.3).

Request lines are the file-input form ``{"key", "request": GenerateContentRequest}`` with
``generationConfig.responseJsonSchema`` (plain JSON Schema) and ``responseMimeType``
application/json. Small batches are sent inline (converted to the SDK's InlinedRequest,
``metadata.key`` carrying the custom_id); larger ones are uploaded as a JSONL file.
Results are the job's inline responses, or the responses file streamed to an anonymous
temporary file and read line by line.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel

from .. import model_catalog
from ..errors import BatchNotFoundError, ProviderError, with_cause
from ..models import BatchCounts, BatchError, BatchItem, BatchJob, BatchStatus, ErrorKind, Usage
from . import (
    LineBuilder,
    Limits,
    Message,
    Provider,
    api_key,
    parse_text,
    sdk_version,
    split_system,
)

#: standard price per million tokens (input, output), US dollars: the catalog's; the batch discount is applied on top.
PRICES: dict[str, tuple[float, float]] = model_catalog.prices("google")

#: the SDK's JobState (it maps the wire's BATCH_STATE_* to JOB_STATE_*, C.3) -> normalized.
_STATES = {
    "JOB_STATE_UNSPECIFIED": BatchStatus.VALIDATING, "JOB_STATE_QUEUED": BatchStatus.VALIDATING,
    "JOB_STATE_PENDING": BatchStatus.VALIDATING, "JOB_STATE_RUNNING": BatchStatus.IN_PROGRESS,
    "JOB_STATE_PAUSED": BatchStatus.IN_PROGRESS, "JOB_STATE_UPDATING": BatchStatus.IN_PROGRESS,
    "JOB_STATE_SUCCEEDED": BatchStatus.COMPLETED, "JOB_STATE_PARTIALLY_SUCCEEDED": BatchStatus.COMPLETED,
    "JOB_STATE_FAILED": BatchStatus.FAILED, "JOB_STATE_CANCELLING": BatchStatus.CANCELLING,
    "JOB_STATE_CANCELLED": BatchStatus.CANCELLED, "JOB_STATE_EXPIRED": BatchStatus.EXPIRED,
}
#: google.rpc codes in per-request errors (the langchain4j recording uses 4 for a deadline).
_RPC_CANCELLED, _RPC_DEADLINE = 1, 4
_RPC_HTTP = {3: 400, 5: 404, 7: 403, 8: 429, 9: 400, 13: 500, 14: 503, 16: 401}
#: google.rpc.Code names, so a batch error reads "INTERNAL (13): ..." rather than a bare number
_RPC_NAMES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
              7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED",
              13: "INTERNAL", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED"}
_REFUSALS = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY")


#: google-genai retries nothing unless asked (its ``retry_args``: no options, one attempt); the
#: clients the processor makes retry 408/429/5xx twice, as the openai and anthropic SDKs do by
#: default (max_retries=2). An injected client keeps its own settings.
RETRY_OPTIONS = {"attempts": 3, "initial_delay": 0.5, "max_delay": 8.0}


class GoogleProvider(Provider):
    name = "google"
    env_keys = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    #: inline requests: the whole create call under 20 MB (C.6); file input up to 2 GB.
    limits = Limits(max_requests=10**9, max_bytes=2 * 1024**3, inline_bytes=20 * 1024 * 1024)
    id_field = "key"
    line_keys = ("key", "request")
    prices = PRICES
    client_names = ("google.genai.Client", "google.genai.Client (its .aio is used)")

    def async_view(self, client: Any) -> Any:
        return _aio(client)

    def close_client(self, client: Any) -> None:
        if hasattr(client, "close"):
            client.close()
        elif (http := getattr(client._api_client, "_httpx_client", None)) is not None:
            http.close()  # google-genai < 1.39 has no Client.close: close the httpx client it made

    async def aclose_client(self, client: Any) -> None:
        if hasattr(_aio(client), "aclose") or hasattr(_aio(client), "close"):
            await super().aclose_client(client)
        elif (http := getattr(client._api_client, "_async_httpx_client", None)) is not None:
            await http.aclose()

    def line_builder(self, model: str, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> LineBuilder:
        config: dict[str, Any] = {}
        if response_model is not None:
            config["responseMimeType"] = "application/json"
            config["responseJsonSchema"] = response_model.model_json_schema()
        if options.get("max_tokens"):
            config["maxOutputTokens"] = options["max_tokens"]
        config.update(options.get("params") or {})

        def line(custom_id: str, messages: list[Message]) -> dict[str, Any]:
            request: dict[str, Any]
            if len(messages) == 1 and messages[0]["role"] == "user":  # the common case, without the general walk
                request = {"contents": [{"role": "user", "parts": [{"text": messages[0]["content"]}]}]}
            else:
                system, chat = split_system(messages)
                request = {"contents": [{"role": "model" if m["role"] == "assistant" else "user",
                                         "parts": [{"text": m["content"]}]} for m in chat]}
                if system:
                    request["systemInstruction"] = {"parts": [{"text": system}]}
            if config:
                request["generationConfig"] = config  # the same for every line: shared, like the schema
            return {"key": custom_id, "request": request}

        return line

    def line_messages(self, line: dict[str, Any]) -> list[Message] | None:
        request = line.get("request")
        if not isinstance(request, dict):
            return None
        messages = []
        system = request.get("systemInstruction") or request.get("system_instruction")
        if system is not None:
            text = _text(system)
            if text is None:
                return None
            messages.append({"role": "system", "content": text})
        contents = request.get("contents")
        if not isinstance(contents, list) or not contents:
            return None
        for content in contents:
            text = _text(content)
            if text is None:
                return None
            messages.append({"role": "assistant" if content.get("role") == "model" else "user", "content": text})
        return messages

    def new_client(self, key: str | None, base_url: str | None, *, async_client: bool = False) -> Any:
        from google import genai

        http_options: dict[str, Any] = {"retry_options": RETRY_OPTIONS}
        if base_url:
            http_options["base_url"] = base_url.rstrip("/") + "/"
        return genai.Client(api_key=key, http_options=http_options)  # one Client: async calls use client.aio

    def make_client(self, *, async_client: bool) -> Any:
        return self.new_client(api_key(*self.env_keys), os.environ.get("GOOGLE_GEMINI_BASE_URL"))

    # ------------------------------------------------------------------ sync
    def submit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
               options: dict[str, Any]) -> BatchJob:
        config = _create_config(options)
        if (inlined := _inline_requests(lines, data, options)) is not None:
            with _errors("create the batch"):
                job = client.batches.create(model=model, src=inlined, config=config)
        else:
            import io

            with _errors("upload the batch input"):
                uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl",
                                                                              "display_name": "batch-input"})
            with _errors("create the batch"):
                job = client.batches.create(model=model, src=uploaded.name, config=config)
        return to_job(job, len(lines))

    def retrieve(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("retrieve", batch_id):
            return _from_operation(client._api_client.request("get", _name(batch_id), {}).body)

    def list(self, client: Any, limit: int) -> list[BatchJob]:
        jobs: list[BatchJob] = []
        token: str | None = None
        with _errors("list batches"):
            while len(jobs) < limit:  # the Operations as sent: the SDK's pager drops batchStats too
                page, token = _operations_page(client._api_client.request("get", _list_path(limit - len(jobs), token),
                                                                          {}).body)
                jobs += page
                if not token:
                    break
        return jobs[:limit]

    def cancel(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("cancel", batch_id):
            client.batches.cancel(name=_name(batch_id))
        return self.retrieve(client, batch_id)

    def delete(self, client: Any, batch_id: str) -> None:
        with _errors("delete", batch_id):
            if _sdk_deletes(client):
                client.batches.delete(name=_name(batch_id))
            else:
                client._api_client.request("delete", _name(batch_id), {})

    def iter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> Iterator[BatchItem]:
        dest = job.raw.dest if job.raw is not None else None
        if dest is None or dest.inlined_responses is not None:
            yield from _inline_items(job, response_model)
        elif dest.file_name:
            with tempfile.TemporaryFile() as spool:
                with _errors("download the results of", job.id):
                    _download(client.files.download, dest.file_name, spool)
                yield from _file_items(spool, job, response_model)

    # ------------------------------------------------------------------ async (client.aio)
    async def asubmit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
                      options: dict[str, Any]) -> BatchJob:
        aio = _aio(client)
        config = _create_config(options)
        if (inlined := _inline_requests(lines, data, options)) is not None:
            with _errors("create the batch"):
                job = await aio.batches.create(model=model, src=inlined, config=config)
        else:
            import io

            with _errors("upload the batch input"):
                uploaded = await aio.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl",
                                                                                 "display_name": "batch-input"})
            with _errors("create the batch"):
                job = await aio.batches.create(model=model, src=uploaded.name, config=config)
        return to_job(job, len(lines))

    async def aretrieve(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("retrieve", batch_id):
            return _from_operation((await _aio(client)._api_client.async_request("get", _name(batch_id), {})).body)

    async def alist(self, client: Any, limit: int) -> list[BatchJob]:
        jobs: list[BatchJob] = []
        token: str | None = None
        with _errors("list batches"):
            while len(jobs) < limit:
                response = await _aio(client)._api_client.async_request("get", _list_path(limit - len(jobs), token), {})
                page, token = _operations_page(response.body)
                jobs += page
                if not token:
                    break
        return jobs[:limit]

    async def acancel(self, client: Any, batch_id: str) -> BatchJob:
        with _errors("cancel", batch_id):
            await _aio(client).batches.cancel(name=_name(batch_id))
        return await self.aretrieve(client, batch_id)

    async def adelete(self, client: Any, batch_id: str) -> None:
        with _errors("delete", batch_id):
            if _sdk_deletes(client):
                await _aio(client).batches.delete(name=_name(batch_id))
            else:
                await _aio(client)._api_client.async_request("delete", _name(batch_id), {})

    async def aiter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                            options: dict[str, Any]) -> AsyncIterator[BatchItem]:
        dest = job.raw.dest if job.raw is not None else None
        if dest is None or dest.inlined_responses is not None:
            for item in _inline_items(job, response_model):
                yield item
        elif dest.file_name:
            with tempfile.TemporaryFile() as spool:
                with _errors("download the results of", job.id):
                    await _adownload(_aio(client).files.download, dest.file_name, spool)
                for item in _file_items(spool, job, response_model):
                    yield item


# ---------------------------------------------------------------------- result rows
def parse_row(row: dict[str, Any], fallback_key: str | None, response_model: type[BaseModel] | None) -> BatchItem:
    """One inline response or responses-file line (REST camelCase, C.4/C.5)."""
    custom_id = row.get("key") or (row.get("metadata") or {}).get("key") or fallback_key or "?"
    error = row.get("error")
    if error is not None:
        code = error.get("code") or 0
        message = error.get("message") or "the request failed"
        if code == _RPC_CANCELLED:
            return BatchError(custom_id, ErrorKind.CANCELED, message, None, row)
        if code == _RPC_DEADLINE:
            return BatchError(custom_id, ErrorKind.EXPIRED, message, None, row)
        status = code if code >= 100 else _RPC_HTTP.get(code, 500)
        return BatchError(custom_id, ErrorKind.HTTP_ERROR, message, status, row)
    response = row.get("response") or {}
    meta = response.get("usageMetadata") or {}
    usage = Usage(meta.get("promptTokenCount") or 0,
                  (meta.get("candidatesTokenCount") or 0) + (meta.get("thoughtsTokenCount") or 0))
    block = (response.get("promptFeedback") or {}).get("blockReason")
    if block:
        return BatchError(custom_id, ErrorKind.REFUSAL, f"the prompt was blocked ({block})", 200, row, usage)
    candidates = response.get("candidates") or []
    if not candidates:
        return BatchError(custom_id, ErrorKind.REFUSAL, "no candidates in the answer", 200, row, usage)
    candidate = candidates[0]
    finish = candidate.get("finishReason")
    if finish in _REFUSALS:
        return BatchError(custom_id, ErrorKind.REFUSAL, f"the answer was blocked (finishReason {finish})", 200, row,
                          usage)
    if finish == "MAX_TOKENS":
        return BatchError(custom_id, ErrorKind.TRUNCATED, "the answer was cut off (finishReason MAX_TOKENS)", 200,
                          row, usage)
    texts = [part["text"] for part in (candidate.get("content") or {}).get("parts") or ()
             if "text" in part and not part.get("thought")]
    return parse_text(custom_id, "".join(texts) if texts else None, response_model, usage, row)


def _inline_items(job: BatchJob, response_model: type[BaseModel] | None) -> Iterator[BatchItem]:
    dest = job.raw.dest if job.raw is not None else None
    for index, row in enumerate((dest.inlined_responses if dest is not None else None) or ()):
        yield parse_row(row.model_dump(mode="json", by_alias=True, exclude_none=True), _key_at(job, index),
                        response_model)


def _file_items(spool: Any, job: BatchJob, response_model: type[BaseModel] | None) -> Iterator[BatchItem]:
    """The responses file, downloaded to ``spool``, read back one line at a time."""
    spool.seek(0)
    for index, line in enumerate(spool):
        if line.strip():
            yield parse_row(json.loads(line), _key_at(job, index), response_model)


def _download(download: Any, file_name: str, spool: Any) -> None:
    """Stream the responses file into ``spool``; google-genai 1.x's ``files.download`` has no
    ``destination`` and returns the bytes, which are written there instead."""
    if "destination" in inspect.signature(download).parameters:
        download(file=file_name, destination=spool)
    else:
        spool.write(download(file=file_name))


async def _adownload(download: Any, file_name: str, spool: Any) -> None:
    if "destination" in inspect.signature(download).parameters:
        await download(file=file_name, destination=spool)
    else:
        spool.write(await download(file=file_name))


def _key_at(job: BatchJob, index: int) -> str | None:
    # Without metadata.key, inline responses match requests by position (C.2).
    ids = job.custom_ids
    return ids[index] if ids is not None and index < len(ids) else None


def _list_path(wanted: int, token: str | None) -> str:
    """``GET batches`` for the next ``wanted`` batches (pageSize at most 100: wire-formats.md C)."""
    query = {"pageSize": min(wanted, 100), **({"pageToken": token} if token else {})}
    return f"batches?{urlencode(query)}"


def _operations_page(body: str) -> tuple[list[BatchJob], str | None]:
    """One page of ``GET batches``: its Operations as BatchJobs, and the next page's token."""
    page = json.loads(body) if body else {}
    return [_job_of_operation(operation) for operation in page.get("operations") or []], page.get("nextPageToken")


def _from_operation(body: str) -> BatchJob:
    """A ``GET batches/{id}`` Operation as a BatchJob.

    The SDK's ``batches.get`` drops ``metadata.batchStats`` and the Operation's ``error``
    (C.3), which leaves a finished file-output batch with no counts and a failed one with no
    reason. So the processor sends the same GET through the SDK's own client, builds the
    SDK's ``BatchJob`` from it the way ``batches.get`` does, and keeps both fields.
    """
    return _job_of_operation(json.loads(body) if body else {})


def _job_of_operation(operation: dict[str, Any]) -> BatchJob:
    """An Operation (of ``GET batches/{id}`` or of a ``GET batches`` page) as a BatchJob."""
    from google.genai import types
    from google.genai.batches import _BatchJob_from_mldev

    metadata = operation.setdefault("metadata", {})
    if "output" not in metadata and isinstance(operation.get("response"), dict):
        # the langchain4j recording's succeeded Operation has the output only in ``response``
        metadata["output"] = {k: v for k, v in operation["response"].items() if k != "@type"}
    job = types.BatchJob._from_response(response=_BatchJob_from_mldev(operation), kwargs={})
    return to_job(job, stats=metadata.get("batchStats"), error=operation.get("error"))


def to_job(job: Any, total: int | None = None, *, stats: dict[str, str] | None = None,
           error: dict[str, Any] | None = None) -> BatchJob:
    """A google-genai ``BatchJob`` as a BatchJob.

    ``stats`` is the wire's ``batchStats`` (int64 strings, zero counters omitted, C.3); without
    it (create, list) counts are the submitted ``total``, or counted from inline responses.
    Once the batch has ended, requests that never ran count as errored (they come back as
    expired or canceled items).
    """
    state = getattr(job.state, "value", job.state) or "JOB_STATE_UNSPECIFIED"
    # older google-genai (1.22-1.4x) maps only PENDING, SUCCEEDED, FAILED and CANCELLED to
    # JOB_STATE_* (t_job_state); RUNNING and EXPIRED arrive as the wire's BATCH_STATE_* string
    state = str(state).replace("BATCH_STATE_", "JOB_STATE_", 1)
    status = _STATES.get(str(state), BatchStatus.IN_PROGRESS)
    inlined = job.dest.inlined_responses if job.dest is not None else None
    if stats:
        total, succeeded, failed, pending = (int(stats.get(name) or 0) for name in (
            "requestCount", "successfulRequestCount", "failedRequestCount", "pendingRequestCount"))
    elif inlined is not None:
        failed = sum(1 for row in inlined if row.error is not None)
        total = max(total or 0, len(inlined))
        succeeded, pending = len(inlined) - failed, total - len(inlined)
    else:
        total, succeeded, failed, pending = total or 0, 0, 0, total or 0
    if status in (BatchStatus.EXPIRED, BatchStatus.FAILED):
        succeeded = 0  # an expired or failed batch has no results to retrieve (wire-formats.md C.3)
    if status.is_terminal:
        failed, pending = max(failed, total - succeeded), 0
    errors = []
    if error:
        errors.append(f"{_rpc(error.get('code'))}: {error.get('message') or 'the batch failed'}")
    elif job.error is not None:
        errors.append(f"{_rpc(job.error.code)}: {job.error.message}")
    model = (job.model or "").removeprefix("models/") or None
    return BatchJob("google", job.name, status, model, BatchCounts(total, succeeded, failed, pending),
                    job.create_time, job.end_time, errors, job)


def _text(content: Any) -> str | None:
    """The text of a Content made only of text parts, or None."""
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts or not all(
            isinstance(part, dict) and set(part) == {"text"} and isinstance(part["text"], str) for part in parts):
        return None
    return "".join(part["text"] for part in parts)


def _name(batch_id: str) -> str:
    return batch_id if batch_id.startswith("batches/") else f"batches/{batch_id}"


def _rpc(code: Any) -> str:
    name = _RPC_NAMES.get(code) if isinstance(code, int) else None
    return f"{name} ({code})" if name else str(code)


def _sdk_deletes(client: Any) -> bool:
    """Whether ``batches.delete`` reaches the Gemini Developer API: google-genai before 1.24 kept
    it for Vertex AI ("This method is only supported in the Vertex AI client"), so the processor
    sends the same ``DELETE batches/{id}`` through the SDK's own client instead."""
    return bool(client._api_client.vertexai) or sdk_version("google-genai") >= (1, 24)


def _aio(client: Any) -> Any:
    return getattr(client, "aio", client)


#: room for the create call's wrapper around the requests (batch, displayName, inputConfig)
_INLINE_MARGIN = 64 * 1024


def _inline_requests(lines: list[dict[str, Any]], data: bytes, options: dict[str, Any]) -> list[Any] | None:
    """The requests as the SDK's inlined requests when they fit in one inline create call (C.6:
    the whole call under 20 MB); None when they must be uploaded as a file.

    ``data`` is compact UTF-8, but google-genai sends ``json.dumps`` output: non-ASCII as
    ``\\uXXXX`` escapes and a space after every separator, up to 3x larger (a Japanese
    prompt doubles). When 3x could overrun the limit, measure what the SDK will send.
    """
    limit = options.get("inline_bytes")
    if limit is not None and len(data) > limit:
        return None
    inlined = [_inlined(line) for line in lines]
    if not _sdk_takes_inline(inlined):
        return None
    if limit is None or 3 * len(data) + _INLINE_MARGIN <= limit:
        return inlined
    return inlined if len(json.dumps(inlined)) + _INLINE_MARGIN <= limit else None


def _sdk_takes_inline(inlined: list[dict[str, Any]]) -> bool:
    """Whether this google-genai can send these requests inline without losing anything: before
    1.50 its InlinedRequest has no ``metadata`` (the custom_id, C.2), and a GenerateContentConfig
    refuses fields newer than itself (a ``params=`` key). Otherwise the requests go as an uploaded
    file, whose lines the SDK passes on as they are."""
    from google.genai import types

    if "metadata" not in types.InlinedRequest.model_fields:
        return False
    known = types.GenerateContentConfig.model_fields
    return all(key in known for request in inlined for key in request.get("config") or ())


def _create_config(options: dict[str, Any]) -> dict[str, Any]:
    return {"display_name": options["display_name"]} if options.get("display_name") else {}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _inlined(line: dict[str, Any]) -> dict[str, Any]:
    """A file-input line as the SDK's InlinedRequest: generationConfig and systemInstruction
    both go into ``config`` (the SDK hoists system_instruction back out, C.2)."""
    request = line["request"]
    config = {_snake(k): v for k, v in (request.get("generationConfig") or request.get("generation_config")
                                        or {}).items()}
    system = request.get("systemInstruction") or request.get("system_instruction")
    if system:
        config["system_instruction"] = system
    inlined: dict[str, Any] = {"contents": request["contents"], "metadata": {"key": line["key"]}}
    if config:
        inlined["config"] = config
    return inlined


@contextlib.contextmanager
def _errors(action: str, batch_id: str | None = None) -> Iterator[None]:
    from google.genai import errors

    target = f" {batch_id}" if batch_id else ""
    try:
        yield
    except errors.APIError as error:
        if error.code == 404 and batch_id is not None:
            raise BatchNotFoundError(f"Google has no batch {batch_id!r} ({error.message})") from None
        raise ProviderError(f"Google could not {action}{target}: HTTP {error.code} {error.status}: "
                            f"{error.message}", status=error.code) from None
    except ValueError as error:  # the SDK checks names before sending: "Invalid batch job name: ..."
        if batch_id is not None:
            raise BatchNotFoundError(f"Google has no batch {batch_id!r}: {error} Google batch ids look like "
                                     "'batches/<id>'") from None
        raise
    except _transport_errors() as error:  # google-genai lets the HTTP library's errors through
        raise ProviderError(f"Google could not {action}{target}: {type(error).__name__}: {with_cause(error)}") \
            from None


def _transport_errors() -> tuple[type[Exception], ...]:
    """The connection errors of whichever of httpx2 / httpx google-genai may be using."""
    found = []
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(module).TransportError)
    return tuple(found)
