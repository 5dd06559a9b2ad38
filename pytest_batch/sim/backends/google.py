"""Google Gemini batch mode (Developer API): the state (GoogleBackend): files, batches and their lifecycle.

The HTTP side (parsing requests, rendering JSON) is routes/google.py.

Shapes follow ../shared/docs/wire-formats.md part C and D.3, the langchain4j recording
(realdata/langchain4j/gemini_batch_operations_inline.json) and the live-capture notes
(realdata/openrouter_notes, Google section). Every route is served under /v1 (google-genai
3.x) and /v1beta (<= 2.x). Output is proto3 JSON: lowerCamel keys, int64 as strings, zero,
false and empty fields omitted.

How each responder outcome is rendered (inline item / responses-file line):

- ok: ``response.candidates[0].content.parts[0].text`` (JSON text for structured answers),
  ``finishReason: STOP``, ``usageMetadata``, ``modelVersion``, ``responseId``;
- truncated: the text cut in half, ``finishReason: MAX_TOKENS``;
- malformed_json / schema_violation: ``STOP`` with text that does not parse / fit the schema;
- refusal: a blocked candidate, ``finishReason: SAFETY`` with ``safetyRatings`` and no
  ``content`` at all, so ``response.text`` is None;
- http_error: ``{"error": {"code": <HTTP status>, "message", "status": <rpc name>}}``;
- expired: ``{"error": {"code": 4, "message": "Deadline expired before operation could
  complete."}}`` as in the langchain4j recording; canceled: ``{"error": {"code": 1, ...}}``.

Per-request errors leave the batch SUCCEEDED and count in ``failedRequestCount``. What the API
refuses, and how, is in rules/google.py.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..clock import rfc3339
from ..http import HTTPError, jsonl_stream
from ..responders import Answer, BatchItem
from ..rules import google as rules
from .base import BackendBase, BatchRecord, EmulatorState, SharedValues, approx_tokens, jsonl_objects, malform, truncate

HOURS_48 = 48 * 3600
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
TERMINAL = ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED")

#: HTTP status -> google.rpc status name, for the error envelope {"error": {code, message, status}}.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED", 529: "UNAVAILABLE",
}

#: google.rpc.Code numbers: an Operation's top-level ``error`` and the recording's per-request
#: error items carry these, not HTTP statuses (langchain4j recording: code 4 for a deadline).
RPC_CANCELLED = 1
RPC_INVALID_ARGUMENT = 3
RPC_DEADLINE_EXCEEDED = 4
RPC_INTERNAL = 13

NO_KEY_MESSAGE = ("Method doesn't allow unregistered callers (callers without established identity). "
                  "Please use API Key or other form of API consumer identity to call this API.")


def _get(obj: Any, camel: str, default: Any = None) -> Any:
    """Read a proto-JSON field in lowerCamel or snake_case: the API accepts both (C.2)."""
    if not isinstance(obj, dict):
        return default
    if camel in obj:
        return obj[camel]
    return obj.get(rules.snake(camel), default)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, dict):
        return []
    parts = content.get("parts") or []
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


def _share_config(shared: SharedValues, request: dict[str, Any]) -> None:
    for key in ("generationConfig", "generation_config", "systemInstruction", "system_instruction", "tools"):
        shared.share(request, key)


def _item(index: int, key: str | None, model: str, request: dict[str, Any]) -> BatchItem:
    """Describe one GenerateContentRequest to the responder: prompt = system + contents text."""
    texts = _texts(_get(request, "systemInstruction"))
    contents = _get(request, "contents") or []
    if isinstance(contents, dict | str):
        contents = [contents]
    for content in contents:
        texts.extend(_texts(content))
    config = _get(request, "generationConfig") or {}
    schema = _get(config, "responseJsonSchema")
    if schema is None:
        schema = _get(config, "responseSchema")
    # a schema that is no object stays: the responder fails this request alone (INVALID_ARGUMENT)
    name = schema.get("title") if isinstance(schema, dict) else None
    custom_id = key if key else f"request-{index + 1}"
    return BatchItem("google", custom_id, index, model, "\n".join(t for t in texts if t), schema, name, request)


def _thoughts(model: str, request: dict[str, Any], output_tokens: int) -> int:
    """Thinking tokens: gemini-2.5 and later think unless thinkingBudget is 0; 2.5-flash-lite
    only when given a budget (ai.google.dev/gemini-api/docs/thinking). A stable stand-in amount."""
    budget = _get(_get(_get(request, "generationConfig") or {}, "thinkingConfig") or {}, "thinkingBudget")
    thinks = model.startswith(("gemini-2.5", "gemini-3")) and budget != 0
    if model.startswith("gemini-2.5-flash-lite") and budget in (None, 0):
        thinks = False
    amount = 16 + 4 * output_tokens
    return 0 if not thinks else min(amount, budget) if isinstance(budget, int) and budget > 0 else amount


# ---------------------------------------------------------------------------- files

@dataclass
class GoogleFile:
    id: str
    content: bytes
    create_time: float
    base_url: str
    version: str
    mime_type: str = "application/octet-stream"
    display_name: str | None = None
    source: str = "UPLOADED"

    @property
    def name(self) -> str:
        return f"files/{self.id}"

    def to_json(self) -> dict[str, Any]:
        created = rfc3339(self.create_time, digits=9)
        body: dict[str, Any] = {"name": self.name}
        if self.display_name:
            body["displayName"] = self.display_name
        body.update({
            "mimeType": self.mime_type, "sizeBytes": str(len(self.content)),
            "createTime": created, "updateTime": created,
            "expirationTime": rfc3339(self.create_time + HOURS_48, digits=9),
            "sha256Hash": base64.b64encode(hashlib.sha256(self.content).hexdigest().encode()).decode(),
            "uri": f"{self.base_url}/{self.version}/{self.name}",
        })
        if self.source == "GENERATED":
            body["downloadUri"] = f"{self.base_url}/download/{self.version}/{self.name}:download?alt=media"
        body.update({"state": "ACTIVE", "source": self.source})
        return body


@dataclass
class UploadSession:
    upload_id: str
    file: GoogleFile
    declared_size: int | None
    #: the bytes received so far, as they came: joined once at finalize, outside the state lock
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


# ---------------------------------------------------------------------------- backend

class GoogleBackend(BackendBase):
    """Gemini batches (Operations wrapping GenerateContentBatch) and the Files API."""

    provider = "google"
    #: limits from wire-formats.md C.5/C.6; attributes so a test can lower them.
    max_inline_bytes = 20 * 1024 * 1024
    max_file_bytes = 2 * 1024 * 1024 * 1024
    default_page_size = 50
    max_page_size = 1000

    def __init__(self, emulator: EmulatorState) -> None:
        super().__init__(emulator)
        self.files: dict[str, GoogleFile] = {}
        self.uploads: dict[str, UploadSession] = {}
        #: file ids deleted by the user: a second delete answers 403 (live-capture notes).
        self.deleted_files: set[str] = set()

    # ------------------------------------------------------------------ files
    def start_upload(self, body: dict[str, Any], declared_size: int | None, header_mime: str | None,
                     base_url: str, version: str) -> UploadSession:
        rules.check_body("CreateFileRequest", body)
        meta = _get(body, "file") or {}
        size = _get(meta, "sizeBytes", declared_size)
        try:
            size = int(size) if size is not None else None
        except (TypeError, ValueError):
            raise HTTPError(400, f"Invalid value at 'file.size_bytes' ({size!r}): expected an integer.") from None
        if size is not None and size > self.max_file_bytes:
            raise HTTPError(400, f"File size {size} bytes exceeds the {self.max_file_bytes} byte limit.")
        name = _get(meta, "name")
        if name:
            rules.check_file_id(name.removeprefix("files/"), "CreateFileRequest", creating=True)
        mime = _get(meta, "mimeType") or header_mime or "application/octet-stream"
        with self.lock:
            file_id = name.removeprefix("files/") if isinstance(name, str) and name else self.ids.google_file()
            if file_id in self.files:
                raise HTTPError(409, f"File files/{file_id} already exists.", code="ALREADY_EXISTS")
            record = GoogleFile(file_id, b"", self.now, base_url, version, mime, _get(meta, "displayName"))
            session = UploadSession(self.ids.google_upload(), record, size)
            self.uploads[session.upload_id] = session
        return session

    def upload_chunk(self, upload_id: str, commands: set[str], offset: int | None, data: bytes) -> UploadSession:
        with self.lock:
            session = self.uploads.get(upload_id)
            if session is None:
                raise HTTPError(404, f"No upload session {upload_id!r}: start one with X-Goog-Upload-Command: start.")
            if "upload" in commands:
                if offset is not None and offset != session.size:
                    raise HTTPError(400, f"X-Goog-Upload-Offset is {offset} but the server holds "
                                    f"{session.size} bytes; resume from there.")
                session.chunks.append(data)
                session.size += len(data)
            if "finalize" not in commands:
                return session
            if session.declared_size is not None and session.declared_size != session.size:
                raise HTTPError(400, f"The upload declared {session.declared_size} bytes but "
                                f"{session.size} arrived.")
            del self.uploads[upload_id]
            chunks = session.chunks
        content = b"".join(chunks)  # outside the lock; no copy at all for a one-chunk upload (the SDKs')
        with self.lock:
            session.chunks = []
            session.file.content = content
            session.file.create_time = self.now
            self.files[session.file.id] = session.file
        return session

    def get_file(self, name: str, method: str = "GetFileRequest") -> GoogleFile:
        """The file (its content never changes once written: read it without the lock)."""
        rules.check_file_id(name.removeprefix("files/"), method)
        with self.lock:
            return self._file(name)

    def _file(self, name: str) -> GoogleFile:
        file_id = name.removeprefix("files/")
        record = self.files.get(file_id)
        if record is not None and self.now >= record.create_time + HOURS_48:
            del self.files[file_id]
            record = None
        if record is None:
            if file_id.startswith("batch-"):
                raise HTTPError(404, f"Requested entity was not found: files/{file_id}.")
            # Gemini answers 403, not 404, for an uploaded file it does not hold (live-capture notes).
            raise HTTPError(403, f"You do not have permission to access the File {file_id} or it may not exist.")
        return record

    def delete_file(self, name: str) -> None:
        file_id = name.removeprefix("files/")
        # A generated files/batch-<40 chars> cannot be deleted directly (live-capture notes).
        rules.check_file_id(file_id, "DeleteFileRequest")
        with self.lock:
            self._file(file_id)
            del self.files[file_id]
            self.deleted_files.add(file_id)

    def list_files(self, page_size: int | None, token: str | None) -> dict[str, Any]:
        with self.lock:
            files = list(self.files.values())[::-1]  # ties (same instant) newest first, as for batches
        files.sort(key=lambda f: f.create_time, reverse=True)
        # files.list: "If unspecified, defaults to 10. Maximum pageSize is 100." (ai.google.dev/api/files)
        page, next_token = self._page(files, page_size, token, 10, 100)
        body: dict[str, Any] = {}
        if page:
            body["files"] = [f.to_json() for f in page]
        if next_token:
            body["nextPageToken"] = next_token
        return body

    # ------------------------------------------------------------------ batches
    def create_batch(self, model: str, body: dict[str, Any], size: int, base_url: str,
                     version: str) -> dict[str, Any]:
        rules.check_body("BatchGenerateContentRequest", body)
        batch = _get(body, "batch")
        if not isinstance(batch, dict):
            raise HTTPError(400, "Invalid JSON payload: the body needs a 'batch' object "
                            "(e.g. {\"batch\": {\"inputConfig\": {\"fileName\": \"files/...\"}}}).")
        model = model.removeprefix("models/")
        if not model:
            raise HTTPError(400, "The model name in the URL is empty; use models/{model}:batchGenerateContent.")
        input_config = _get(batch, "inputConfig")
        if not isinstance(input_config, dict):
            raise HTTPError(400, "* BatchGenerateContentRequest.batch.input_config: input_config is required.")
        file_name = _get(input_config, "fileName")
        requests = _get(input_config, "requests")
        if (file_name is None) == (requests is None):
            raise HTTPError(400, "* BatchGenerateContentRequest.batch.input_config: set exactly one of "
                            "'requests' or 'file_name'.")
        # the requests are read outside the state lock
        if requests is not None:
            if size > self.max_inline_bytes:
                raise HTTPError(413, f"Request payload size exceeds the limit: {self.max_inline_bytes} bytes. "
                                "Use a JSONL input file (inputConfig.fileName) for large batches.")
            items, keyed, row_errors = self._inline_items(model, requests)
        else:
            items, keyed, row_errors = self._file_items(model, file_name)
        with self.lock:
            batch_id = self.ids.google_batch()
            record = self.new_record(batch_id, items)
            record.extra.update(model=f"models/{model}", display_name=_get(batch, "displayName"),
                                file_name=f"files/{file_name.removeprefix('files/')}" if file_name else None,
                                keyed=keyed, state="BATCH_STATE_PENDING", update_time=self.now, end_time=None,
                                done_count=0, error=None, output=None, base_url=base_url, version=version,
                                row_errors=row_errors)
            return self._operation(record)

    def _inline_items(self, model: str, requests: Any) -> tuple[list[BatchItem], list[Any], dict[int, str]]:
        rows = _get(requests, "requests") if isinstance(requests, dict) else None
        if not isinstance(rows, list) or not rows:
            raise HTTPError(400, "* BatchGenerateContentRequest.batch.input_config.requests.requests: "
                            "at least one request is required.")
        items, keyed, row_errors = [], [], {}
        shared = SharedValues()
        pace = self.emulator.bulk_lane.pace
        for index, row in enumerate(rows):
            pace()
            request = _get(row, "request")
            if not isinstance(request, dict):
                raise HTTPError(400, f"* BatchGenerateContentRequest.batch.input_config.requests.requests[{index}]"
                                ".request: a GenerateContentRequest object is required.")
            metadata = _get(row, "metadata")
            key = _get(metadata, "key")
            _share_config(shared, request)
            items.append(_item(index, str(key) if key is not None else None, model, request))
            keyed.append(metadata)
            problem = rules.request_problem(request, model)
            if problem:
                row_errors[index] = problem
        return items, keyed, row_errors

    def _file_items(self, model: str, file_name: Any) -> tuple[list[BatchItem], list[bool], dict[int, str]]:
        if not isinstance(file_name, str) or not file_name:
            raise HTTPError(400, "* BatchGenerateContentRequest.batch.input_config.file_name: must be 'files/<id>'.")
        source = self.get_file(file_name)
        items, keyed, row_errors, unreadable = [], [], {}, []
        shared = SharedValues()
        raw_lines: list[bytes] = []
        pace = self.emulator.bulk_lane.pace
        for number, line in jsonl_objects(source.content):
            pace()
            request = _get(line, "request")
            if line is None or not isinstance(request, dict) or not rules.readable("BatchInputLine", line):
                # A file with a malformed row is rejected at create, no batch made (live-capture notes).
                raw_lines = raw_lines or source.content.splitlines()
                unreadable.append((number, rules.line_problem(raw_lines[number - 1].decode("utf-8", "replace"),
                                                              line)))
                continue
            key = _get(line, "key")
            _share_config(shared, request)
            refused = rules.request_problem(request, model)
            if refused:
                row_errors[len(items)] = refused
            items.append(_item(len(items), str(key) if key is not None else None, model, request))
            keyed.append(key is not None)
        if unreadable:
            raise rules.file_lines_error(source.name, unreadable)
        if not items:
            raise HTTPError(400, f"{source.name} contains no requests.")
        return items, keyed, row_errors

    def record(self, name: str) -> BatchRecord:
        batch_id = name.removeprefix("batches/")
        record = self.batches.get(batch_id)
        if record is None:
            raise HTTPError(404, f"Requested entity was not found: batches/{batch_id}.")
        return record

    def get_batch(self, name: str) -> dict[str, Any]:
        return self.status_read(lambda: self.record(name), self._operation)

    def list_batches(self, page_size: int | None, token: str | None) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            records = list(self.batches.values())[::-1]
            records.sort(key=lambda r: r.created_at, reverse=True)
            page, next_token = self._page(records, page_size, token, self.default_page_size, self.max_page_size)
            operations = []
            for record in page:
                if not self.busy(record):
                    self._step(record)
                operations.append(self._operation(record))
            body: dict[str, Any] = {}
            if operations:
                body["operations"] = operations
            if next_token:
                body["nextPageToken"] = next_token
            return body

        return self.locked(step)

    def cancel_batch(self, name: str) -> None:
        def step() -> None:
            record = self.record(name)
            self._step(record)
            extra = record.extra
            if extra["state"] in TERMINAL:
                return
            # Live capture: the cancelled job polls as CANCELLED, done, with error code 13 (notes).
            done = extra["done_count"]
            self._end(record, "BATCH_STATE_CANCELLED", done, output=True,
                      error={"code": RPC_INTERNAL, "message": "The batch was cancelled."})
            record.cancel_requested_at = self.now
            record.progress_at_cancel = done / len(record)

        self.locked(step)

    def delete_batch(self, name: str) -> None:
        with self.lock:
            record = self.record(name)
            del self.batches[record.id]
            # After the batch is deleted its output file is gone too (live-capture notes).
            self.files.pop(f"batch-{record.id}", None)

    # ------------------------------------------------------------------ lifecycle
    def _share(self, record: BatchRecord) -> float:
        return min(1.0, max(0.0, self.progress(record)))

    def _step(self, record: BatchRecord) -> None:
        extra = record.extra
        if extra["state"] in TERMINAL:
            return
        fault = self.fault(record)
        progress = self._share(record)
        expires = record.created_at + HOURS_48  # still running then: expired then, no results (wire-formats.md C)
        if self.now >= expires and (at_expiry := self.progress_at(record, expires)) < 1.0:
            self._end(record, "BATCH_STATE_EXPIRED", int(len(record) * at_expiry), output=False, at=expires)
            return
        if progress <= 0:
            return
        if fault is not None and fault.kind == "validation_failure":
            self._end(record, "BATCH_STATE_FAILED", 0, output=False,
                      error={"code": RPC_INVALID_ARGUMENT,
                             "message": fault.message or "The batch failed validation (injected by pytest-batch)."})
            return
        if progress >= 1.0:
            if fault is not None and fault.kind == "expire":
                self._end(record, "BATCH_STATE_EXPIRED", int(len(record) * fault.completed_fraction), output=False)
            else:
                self._end(record, "BATCH_STATE_SUCCEEDED", len(record), output=True, at=self.reached_at(record, 1.0))
            return
        done = int(len(record) * progress)
        if done:
            self.answers(record)  # the counts show how many failed: answered before any count shows
        if extra["state"] != "BATCH_STATE_RUNNING" or done != extra["done_count"]:
            extra.update(state="BATCH_STATE_RUNNING", done_count=done, update_time=self.now)

    def _end(self, record: BatchRecord, state: str, done: int, *, output: bool,
             error: dict[str, Any] | None = None, at: float | None = None) -> None:
        """End the batch in ``state`` at clock time ``at`` (now by default); its ``done`` results are
        rendered outside the state lock (``prepare``) and published here."""
        extra = record.extra
        answers = self._answers(record) if done else []  # the counts show how many failed
        if output and done:
            rendered = self.prepare(record, ("output", done), lambda: self._render_output(record, answers, done))
            extra["output"] = self._publish_output(record, rendered)
            self.published(record)
        at = self.now if at is None else at
        extra.update(state=state, done_count=done, update_time=at, end_time=at, error=error)

    def _answers(self, record: BatchRecord) -> list[Answer]:
        """The answers, with each request generateContent refuses failed alone, whatever the
        responder said: the batch still succeeds and counts it in failedRequestCount (langchain4j
        recording, ERROR_RESPONSE); its error is a google.rpc status (wire-formats.md C.5)."""
        answers = self.answers(record)
        refused = record.extra.get("row_errors")  # absent in a state saved before rules existed
        if not refused:
            return answers
        return [Answer(None, "http_error", 400, refused[i]) if i in refused else a for i, a in enumerate(answers)]

    def _stats(self, record: BatchRecord) -> dict[str, str]:
        total = len(record)
        done = record.extra["done_count"]
        failed = 0
        if done:  # every poll, under the state lock: counted in place, the refused rows (_answers) included
            answers, refused = self.answers(record), record.extra.get("row_errors") or {}
            failed = sum(1 for index in range(done)
                         if index in refused or answers[index].outcome in ("http_error", "expired", "canceled"))
        stats = {"requestCount": total, "pendingRequestCount": total - done,
                 "successfulRequestCount": done - failed, "failedRequestCount": failed}
        if record.extra["state"] == "BATCH_STATE_SUCCEEDED":
            stats["pendingRequestCount"] = 0
        # proto3 JSON: int64 as strings, zero counters omitted (C.3, langchain4j recording).
        return {k: str(v) for k, v in stats.items() if v}

    def _operation(self, record: BatchRecord) -> dict[str, Any]:
        extra = record.extra
        name = f"batches/{record.id}"
        metadata: dict[str, Any] = {"@type": BATCH_TYPE, "model": extra["model"]}
        if extra["display_name"]:
            metadata["displayName"] = extra["display_name"]
        if extra["file_name"]:
            metadata["inputConfig"] = {"fileName": extra["file_name"]}
        if extra["output"]:
            metadata["output"] = extra["output"]
        metadata["createTime"] = rfc3339(record.created_at, digits=9)
        if extra["end_time"] is not None:
            metadata["endTime"] = rfc3339(extra["end_time"], digits=9)
        metadata["updateTime"] = rfc3339(extra["update_time"], digits=9)
        stats = self._stats(record)
        if stats:
            metadata["batchStats"] = stats
        metadata.update(state=extra["state"], name=name)
        operation: dict[str, Any] = {"name": name, "metadata": metadata}
        if extra["state"] in TERMINAL:
            operation["done"] = True
        if extra["error"]:
            operation["error"] = extra["error"]
        if extra["output"]:
            operation["response"] = {"@type": OUTPUT_TYPE, **extra["output"]}
        return operation

    # ------------------------------------------------------------------ results
    def _publish_output(self, record: BatchRecord, rendered: dict[str, Any] | bytes) -> dict[str, Any]:
        """The operation's ``output``: the inlined responses, or the responses file, stored now."""
        if isinstance(rendered, dict):
            return rendered
        file_id = f"batch-{record.id}"
        self.files[file_id] = GoogleFile(file_id, rendered, self.now, record.extra["base_url"],
                                         record.extra["version"], "application/jsonl", source="GENERATED")
        return {"responsesFile": f"files/{file_id}"}

    def _render_output(self, record: BatchRecord, answers: list[Answer], done: int) -> dict[str, Any] | bytes:
        """The first ``done`` results, in input order (Gemini keeps input order: F.5), outside the
        state lock: the inlined responses, or the responses file's content."""
        model_version = record.extra["model"].removeprefix("models/")
        keyed = record.extra["keyed"]
        pace = self.emulator.bulk_lane.pace
        if record.extra["file_name"] is None:
            inlined = []
            for index in range(done):
                pace()
                item = record.items[index]
                row = self._render(item, answers[index], model_version)
                if keyed[index]:
                    row["metadata"] = keyed[index]
                inlined.append(row)
            # Note the double nesting inlinedResponses.inlinedResponses (C.3, recording).
            return {"inlinedResponses": {"inlinedResponses": inlined}}
        rows = []
        for index in range(done):
            pace()
            item = record.items[index]
            row: dict[str, Any] = {"key": item.custom_id} if keyed[index] else {}
            row.update(self._render(item, answers[index], model_version))
            rows.append(row)
        return b"".join(jsonl_stream(rows))

    def _render(self, item: BatchItem, answer: Answer, model_version: str) -> dict[str, Any]:
        outcome = answer.outcome
        if outcome == "http_error":
            status = answer.status if answer.status >= 400 else 500
            return {"error": {"code": status, "message": answer.message or
                              "Internal error encountered (injected by pytest-batch).",
                              "status": STATUS_NAMES.get(status, "UNKNOWN")}}
        if outcome == "expired":
            # The recording's per-request deadline error: google.rpc code 4, this message.
            return {"error": {"code": RPC_DEADLINE_EXCEEDED,
                              "message": answer.message or "Deadline expired before operation could complete."}}
        if outcome == "canceled":
            return {"error": {"code": RPC_CANCELLED,
                              "message": answer.message or "The request was cancelled before it was processed."}}
        prompt_tokens = approx_tokens(item.prompt)
        usage: dict[str, Any] = {"promptTokenCount": prompt_tokens}
        # by modality, and the thinking tokens of a thinking model: C.4's gemini-2.5-flash capture
        details = [{"modality": "TEXT", "tokenCount": prompt_tokens}]
        if outcome == "refusal":
            # A blocked answer: finishReason SAFETY and no content at all (no parts, no text).
            candidate: dict[str, Any] = {"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}
            usage.update(totalTokenCount=prompt_tokens, promptTokensDetails=details)
        else:
            text = answer.text
            finish = "STOP"
            if outcome == "truncated":
                text, finish = truncate(text), "MAX_TOKENS"
            elif outcome == "malformed_json":
                text = malform(text)
            output_tokens = approx_tokens(text)
            # "index": 0 is kept although proto3 would omit it: the recording shows it.
            candidate = {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": finish, "index": 0}
            thoughts = _thoughts(model_version, item.body, output_tokens)
            usage.update(candidatesTokenCount=output_tokens, totalTokenCount=prompt_tokens + output_tokens + thoughts,
                         promptTokensDetails=details)
            if thoughts:
                usage["thoughtsTokenCount"] = thoughts
        return {"response": {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model_version,
                             "responseId": self.ids.google_response()}}

    # ------------------------------------------------------------------ paging
    def _page(self, rows: list[Any], page_size: int | None, token: str | None,
              default: int, most: int) -> tuple[list[Any], str | None]:
        size = default if not page_size else min(page_size, most)
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
            except ValueError:
                raise HTTPError(400, f"Invalid page token {token!r}: pass the nextPageToken of the previous "
                                "page unchanged.") from None
        page = rows[start:start + size]
        end = start + size
        next_token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(rows) else None
        return page, next_token
