"""OpenAI Files + Batch API: the state (OpenAIBackend): files, batches and their lifecycle.

The HTTP side (parsing requests, rendering JSON) is routes/openai.py.

Shapes follow ../shared/docs/wire-formats.md part A and the curator recordings
(realdata/decoded/openai_*.json); whole-batch failure codes and cancel counts follow the
OpenRouter live-capture notes (realdata/openrouter_notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..http import HTTPError, jsonl_stream
from ..responders import Answer, BatchItem
from ..rules import openai as rules
from . import openai_bodies as bodies
from .base import (
    BackendBase,
    BatchRecord,
    EmulatorState,
    SharedValues,
    jsonl_objects,
    malform,
    truncate,
)

ENDPOINTS = (
    "/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
    "/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos",
)
SIMULATED_ENDPOINTS = ("/v1/chat/completions", "/v1/responses")
THIRTY_DAYS = 30 * 86400
DAY = 86400


@dataclass
class FileRecord:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int
    expires_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {"object": "file", "id": self.id, "purpose": self.purpose, "filename": self.filename,
                "bytes": len(self.content), "created_at": self.created_at, "expires_at": self.expires_at,
                "status": "processed", "status_details": None}


class ValidationFailure(Exception):
    def __init__(self, code: str, message: str, param: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.error = {"code": code, "message": message, "param": param, "line": line}


@dataclass
class Ending:
    """A batch's ending, rendered outside the state lock: its files' contents, counts and usage."""

    at: int
    output: bytes | None
    errors: bytes | None
    counts: dict[str, int]
    usage: dict[str, int]


class OpenAIBackend(BackendBase):
    provider = "openai"
    #: limits from wire-formats.md A.6; attributes so a test can lower them.
    max_requests = 50_000
    max_input_bytes = 200 * 1024 * 1024
    # What the Azure OpenAI backend (backends/azure.py) answers differently:
    #: a batch still running at expires_at expires (A.3)
    expires_on_clock = True
    #: a cancelled batch returns the answers that ran before the cancel
    keeps_rows_on_cancel = False
    #: result rows carry an ``id`` (``batch_req_...``)
    row_ids = True
    #: a batch writes its output/error file even when it has no rows for it
    empty_result_files = False

    def __init__(self, emulator: EmulatorState) -> None:
        super().__init__(emulator)
        self.files: dict[str, FileRecord] = {}
        self.batch_json: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ files
    def create_file(self, filename: str, purpose: str, content: bytes, expires_after: int | None) -> FileRecord:
        if purpose == "batch" and PurePosixPath(filename).suffix.lower() not in ("", ".jsonl"):
            # A name with another extension is refused (litellm PR #37527, wire-formats.md A.1), but
            # one with none is accepted: the openai SDK names raw bytes and BytesIO uploads "upload",
            # and the real API answered 200 with filename "upload" (realdata/curator/openai_*.yaml).
            raise HTTPError(400, "Invalid file format for Batch API. Must be .jsonl")
        with self.lock:
            created = int(self.now)
            expires = created + (expires_after or THIRTY_DAYS) if purpose == "batch" else None
            record = FileRecord(self.new_file_id(), filename, purpose, content, created, expires)
            self.files[record.id] = record
        return record

    def get_file(self, file_id: str) -> FileRecord:
        """The file (its content never changes once written: read it without the lock)."""
        with self.lock:
            try:
                return self.files[file_id]
            except KeyError:
                raise HTTPError(404, f"No such File object: {file_id}", param="id") from None

    def delete_file(self, file_id: str) -> dict[str, Any]:
        with self.lock:
            self.get_file(file_id)
            del self.files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    def list_files(self, purpose: str | None, descending: bool, after: str | None, limit: int) -> dict[str, Any]:
        with self.lock:
            files = [f for f in self.files.values() if purpose in (None, f.purpose)]
        # Oldest first by time, ties in creation (insertion) order; desc is that list reversed,
        # so files uploaded within the same second still come newest first.
        files.sort(key=lambda f: f.created_at)
        if descending:
            files.reverse()
        ids = [f.id for f in files]
        start = ids.index(after) + 1 if after in ids else 0
        page = files[start:start + limit]
        return {"object": "list", "data": [f.to_json() for f in page],
                "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                "has_more": start + limit < len(files)}

    # ------------------------------------------------------------------ batches
    def create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        rules.check_create_batch(body, ENDPOINTS)
        endpoint, metadata = body["endpoint"], body.get("metadata")
        output_expiry = (body.get("output_expires_after") or {}).get("seconds")
        with self.lock:
            batch_id = self.new_batch_id()
            created = int(self.now)
            record = self.new_record(batch_id, [])
            record.extra.update(endpoint=endpoint, input_file_id=body["input_file_id"], model=None, errors=None,
                                output_expiry=output_expiry)
            self.batch_json[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": endpoint, "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": "24h", "status": "validating",
                "output_file_id": None, "error_file_id": None, "created_at": created, "in_progress_at": None,
                "expires_at": created + DAY, "finalizing_at": None, "completed_at": None, "failed_at": None,
                "expired_at": None, "cancelling_at": None, "cancelled_at": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": metadata,
            }
            return dict(self.batch_json[batch_id])

    # ids and comparisons the Azure backend answers its own way
    def new_file_id(self) -> str:
        return self.ids.openai_file()

    def new_output_file_id(self) -> str:
        return self.ids.openai_file()

    def new_batch_id(self) -> str:
        return self.ids.openai_batch()

    def new_request_id(self) -> str:
        return self.ids.hex(32)

    def same_endpoint(self, url: Any, endpoint: str) -> bool:
        """Whether a request line's ``url`` is the batch's ``endpoint`` (OpenAI: exactly, A.4)."""
        return url == endpoint

    def record(self, batch_id: str) -> BatchRecord:
        if batch_id not in self.batches:
            raise HTTPError(404, f"No batch found with id '{batch_id}'.")
        return self.batches[batch_id]

    def retrieve_batch(self, batch_id: str, *, count_read: bool = True) -> dict[str, Any]:
        return self.status_read(lambda: self.record(batch_id), lambda record: _batch_view(self.batch_json[batch_id]),
                                count_read=count_read)

    def list_batches(self, after: str | None, limit: int) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            for record in self.batches.values():
                if not self.busy(record):
                    self._step(record)
            # Newest first (wire-formats.md A.2). Ids are random, so batches created within the same
            # second are ordered by creation: reverse insertion order, then a stable sort on the time.
            ordered = list(self.batch_json.values())[::-1]
            ordered.sort(key=lambda b: b["created_at"], reverse=True)
            ids = [b["id"] for b in ordered]
            start = ids.index(after) + 1 if after in ids else 0
            page = ordered[start:start + limit]
            return {"object": "list", "data": [_batch_view(b) for b in page],
                    "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None,
                    "has_more": start + limit < len(ordered)}

        return self.locked(step)

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            record = self.record(batch_id)
            self._step(record)
            batch = self.batch_json[batch_id]
            if batch["status"] in ("cancelling", "cancelled"):
                return _batch_view(batch)
            if batch["status"] in ("completed", "failed", "expired"):
                # Unverified for api.openai.com; the llama-stack reference answers 409 (wire-formats.md A.3).
                raise HTTPError(409, f"Cannot cancel a batch with status '{batch['status']}'.",
                                headers={"x-should-retry": "false"})
            record.cancel_requested_at = self.now
            record.progress_at_cancel = self._share_done(record) if batch["status"] != "validating" else 0.0
            record.reads = 0
            batch["status"] = "cancelling"
            batch["cancelling_at"] = int(self.now)
            return _batch_view(batch)

        return self.locked(step)

    # ------------------------------------------------------------------ lifecycle
    def _share_done(self, record: BatchRecord, progress: float | None = None) -> float:
        """Progress maps onto statuses: validating [0, .25), in_progress [.25, .75),
        finalizing [.75, 1), completed at 1; requests finish evenly across in_progress."""
        progress = self.progress(record) if progress is None else progress
        return min(1.0, max(0.0, (progress - 0.25) / 0.5))

    def _step(self, record: BatchRecord) -> None:
        batch = self.batch_json[record.id]
        status = batch["status"]
        if status in ("completed", "failed", "expired", "cancelled"):
            return
        now = int(self.now)
        if status == "cancelling":
            if record.forced or self.emulator.lifecycle_for(record.id).kind != "manual" and record.reads >= 1:
                self._end(record, "cancelled", record.progress_at_cancel)
            return
        progress = self.progress(record)
        expires_at = batch["expires_at"]
        if self.expires_on_clock and now >= expires_at and (at_expiry := self.progress_at(record, expires_at)) < 1.0:
            # still running when the 24 h window closed (A.3): what had run by then keeps its rows,
            # the rest are batch_expired rows; a batch whose lifecycle ended before then completed
            self._validate(record)
            if batch["status"] != "failed":
                self._end(record, "expired", self._share_done(record, at_expiry), at=expires_at)
            return
        if progress <= 0:
            return
        if status == "validating":
            if not self._validate(record):
                return
            batch["status"], batch["in_progress_at"] = "in_progress", int(self.reached_at(record, 0.25))
        fault = self.fault(record)
        if progress >= 1.0 and fault is not None and fault.kind == "expire":
            self._end(record, "expired", fault.completed_fraction)
            return
        if progress >= 0.75 and batch["status"] == "in_progress":
            if any(a.outcome == "canceled" for a in self.answers(record)):
                self._cancel_for_request_faults(record)
                return
            batch["status"], batch["finalizing_at"] = "finalizing", int(self.reached_at(record, 0.75))
        if progress >= 1.0:
            at = self.reached_at(record, 1.0)
            if any(a.outcome == "expired" for a in self.answers(record)):
                self._end(record, "expired", 1.0, at=at)
            else:
                self._end(record, "completed", 1.0, at=at)
            return
        batch["request_counts"] = self._counts(record, self._share_done(record))

    def _cancel_for_request_faults(self, record: BatchRecord) -> None:
        """A request with the ``canceled`` fault: OpenAI cancels batches, never single requests, and
        its ``batch_cancelled`` rows only come from a cancelled batch (OpenRouter live capture:
        cancelling -> cancelled, not-run rows ``response: null, error.code: batch_cancelled``). So
        the batch is cancelled as a user's cancel would, once every other request has run: through
        ``cancelling`` (cancelling_at) to ``cancelled`` (cancelled_at) on the next read; the
        requests that ran keep their rows (the guide's "partial results in the output file",
        wire-formats.md A.3) and the canceled ones get the not-run row."""
        batch = self.batch_json[record.id]
        batch["status"], batch["cancelling_at"] = "cancelling", int(self.now)
        batch["request_counts"] = self._counts(record, 1.0)
        record.progress_at_cancel = 1.0
        record.reads = 0

    def _counts(self, record: BatchRecord, share: float) -> dict[str, int]:
        done = int(len(record) * share)
        answers = self.answers(record)[:done]
        refused = record.extra.get("row_errors", {})
        failed = sum(1 for i, a in enumerate(answers) if a.outcome == "http_error" or i in refused)
        not_run = sum(1 for a in answers if a.outcome in ("canceled", "expired"))
        return {"total": len(record), "completed": done - failed - not_run, "failed": failed}

    def _validate(self, record: BatchRecord) -> bool:
        """Parse and check the input file; on the first problem the batch fails
        (asynchronously, never a 4xx at create: wire-formats.md A.2, F.9). The parse runs
        outside the state lock (``prepare``), once, and this step applies it."""
        batch = self.batch_json[record.id]
        if record.items:
            return True
        try:
            fault = self.fault(record)
            if fault is not None and fault.kind == "validation_failure":
                raise ValidationFailure("invalid_request", fault.message or "The batch failed validation "
                                        "(injected by pytest-batch).")
            source = self._input_file(record)
            parsed = self.prepare(record, ("input", source.id), lambda: self._parse_input(record, source))
            self.published(record)
            if isinstance(parsed, ValidationFailure):
                raise parsed
            record.items = parsed
        except ValidationFailure as failure:
            batch.update(status="failed", failed_at=int(self.now), errors={"object": "list", "data": [failure.error]})
            return False
        batch["model"] = bodies.snapshot(record.items[0].model)  # the snapshot, as the answers name it
        batch["request_counts"] = {"total": len(record), "completed": 0, "failed": 0}
        return True

    def _input_file(self, record: BatchRecord) -> FileRecord:
        source = self.files.get(record.extra["input_file_id"])
        if source is None:
            raise ValidationFailure("invalid_request", f"File {record.extra['input_file_id']} not found.", "file_id")
        if source.purpose != "batch":
            raise ValidationFailure("invalid_request", f"File {source.id} was not uploaded with purpose 'batch'.",
                                    "file_id")
        return source

    def _parse_input(self, record: BatchRecord, source: FileRecord) -> list[BatchItem] | ValidationFailure:
        """The items of ``source``, or the first problem with it (outside the state lock)."""
        try:
            return self._items(record, source)
        except ValidationFailure as failure:
            return failure

    def _items(self, record: BatchRecord, source: FileRecord) -> list[BatchItem]:
        """The requests of the batch's input file ``source``; a ValidationFailure names the first problem."""
        endpoint = record.extra["endpoint"]
        if len(source.content) > self.max_input_bytes:
            # Code unverified for api.openai.com; the 200 MB limit is documented (A.6).
            raise ValidationFailure("file_too_large", f"The input file is larger than the "
                                    f"{self.max_input_bytes // (1024 * 1024)} MB limit. Split it into several batches.")
        items: list[BatchItem] = []
        #: index -> the 400 the endpoint answers that line's body with (rules/openai.py row_violation)
        row_errors: dict[int, rules.RuleViolation] = {}
        shared = SharedValues()
        seen: set[str] = set()
        model = None
        pace = self.emulator.bulk_lane.pace
        for number, line in jsonl_objects(source.content):
            pace()
            if line is None:
                raise ValidationFailure("invalid_json_line", "This line is not parseable as valid JSON.",
                                        None, number)
            custom_id = line.get("custom_id")
            if not isinstance(custom_id, str) or not custom_id:
                raise ValidationFailure("missing_required_parameter", "Missing required parameter: 'custom_id'.",
                                        "custom_id", number)
            if custom_id in seen:
                raise ValidationFailure("duplicate_custom_id",
                                        f"The custom_id '{custom_id}' is duplicated in the input file; "
                                        "each custom_id must be unique.", "custom_id", number)
            seen.add(custom_id)
            if line.get("method", "POST") != "POST":
                raise ValidationFailure("invalid_request", "Only the POST method is supported.", "method", number)
            if not self.same_endpoint(line.get("url"), endpoint):
                raise ValidationFailure("invalid_url", f"The url '{line.get('url')}' does not match the batch "
                                        f"endpoint '{endpoint}'.", "url", number)
            body = line.get("body")
            if not isinstance(body, dict) or not body.get("model"):
                raise ValidationFailure("invalid_request", "Missing required parameter: 'body.model'.",
                                        "body.model", number)
            if model is None:
                model = body["model"]
            elif body["model"] != model:
                raise ValidationFailure("mismatched_model", "Each input file can only include requests to a "
                                        f"single model; found '{body['model']}' after '{model}'.",
                                        "body.model", number)
            if body.get("stream"):
                raise ValidationFailure("streaming_unsupported", "Streaming is not supported in the Batch API.",
                                        "body.stream", number)
            if len(items) >= self.max_requests:
                raise ValidationFailure("too_many_tasks", f"The input file contains more than {self.max_requests:,} "
                                        "requests. Split it into several batches.")
            violation = rules.row_violation(endpoint, body)
            if violation is not None:
                row_errors[len(items)] = violation
            shared.share(body, "text" if endpoint == "/v1/responses" else "response_format")
            items.append(_item(len(items), custom_id, endpoint, body, self.provider))
        if not items:
            raise ValidationFailure("empty_file", "The input file contains no requests.")
        record.extra["row_errors"] = row_errors
        return items

    def _end(self, record: BatchRecord, status: str, share: float, *, at: float | None = None) -> None:
        """Close the batch with ``status`` at clock time ``at`` (now by default): its output and
        error files are rendered outside the state lock (``prepare``), then published here."""
        answers = self.answers(record)
        done, now = int(len(record) * share), int(self.now if at is None else at)
        ending = self.prepare(record, (status, done), lambda: self._render_ending(record, answers, status, done, now))
        batch = self.batch_json[record.id]
        batch["output_file_id"] = self._output_file(record.id, "output", ending.output, ending.at)
        batch["error_file_id"] = self._output_file(record.id, "error", ending.errors, ending.at)
        batch["request_counts"] = ending.counts
        usage = ending.usage
        batch["usage"] = {"input_tokens": usage["input_tokens"], "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens": usage["output_tokens"],
                          "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
                          "total_tokens": usage["input_tokens"] + usage["output_tokens"]}
        batch["status"] = status
        if status == "completed":
            batch["finalizing_at"] = batch["finalizing_at"] or ending.at
            batch["completed_at"] = ending.at
        else:
            batch[f"{status}_at"] = ending.at
        self.published(record)

    def _render_ending(self, record: BatchRecord, answers: list[Answer], status: str, done: int,
                       now: int) -> Ending:
        """Every result row of a batch that ends with ``status``, ``done`` of its requests run
        (outside the state lock)."""
        endpoint = record.extra["endpoint"]
        output_rows: list[dict[str, Any]] = []
        error_rows: list[dict[str, Any]] = []
        not_run = {"expired": ("batch_expired", "This request could not be executed before the completion window "
                               "expired."),
                   "cancelled": ("batch_cancelled", "This request was not executed because the batch was cancelled.")}
        completed = failed = 0
        usage = {"input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}
        # A cancel the user asked for: what ran before it lands in neither file and the counts
        # drop to zero (OpenRouter live capture: cancelling {5, 1, 0} -> cancelled {5, 0, 0},
        # an error file and no output file; the doc's "partial results" was not what happened).
        lost_before_cancel = done if (status == "cancelled" and record.cancel_requested_at is not None
                                      and not self.keeps_rows_on_cancel) else 0
        refused = record.extra.get("row_errors", {})  # index -> the 400 that line's body gets (_items)
        pace = self.emulator.bulk_lane.pace
        for index in self.result_order(record):
            pace()
            item, answer = record.items[index], answers[index]
            if index < lost_before_cancel:
                continue
            row_id = self.ids.openai_batch_request() if self.row_ids else None
            skipped = None
            if index >= done and status in not_run:
                skipped = not_run[status]
            elif answer.outcome in ("expired", "canceled"):
                skipped = not_run["expired" if answer.outcome == "expired" else "cancelled"]
            if skipped:
                error_rows.append(_row(row_id, item.custom_id, None, {"code": skipped[0], "message": skipped[1]}))
                if status == "expired":
                    failed += 1
                continue
            violation = refused.get(index)
            status_code, body = (400, violation.body()) if violation else self._render(item, answer, endpoint, now)
            row = _row(row_id, item.custom_id,
                       {"status_code": status_code, "request_id": self.new_request_id(), "body": body}, None)
            if status_code == 200:
                completed += 1
                u = body.get("usage") or {}
                usage["input_tokens"] += u.get("prompt_tokens", u.get("input_tokens", 0))
                usage["output_tokens"] += u.get("completion_tokens", u.get("output_tokens", 0))
                details = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
                usage["reasoning_tokens"] += details.get("reasoning_tokens") or 0
                output_rows.append(row)
            else:
                failed += 1
                error_rows.append(row)
        # a file id is null when it would hold no row (kaapi-backend #723), unless empty_result_files
        keep = self.empty_result_files
        return Ending(now, b"".join(jsonl_stream(output_rows)) if output_rows or keep else None,
                      b"".join(jsonl_stream(error_rows)) if error_rows or keep else None,
                      {"total": len(record), "completed": completed, "failed": failed}, usage)

    def _output_file(self, batch_id: str, kind: str, content: bytes | None, created: int) -> str | None:
        if content is None:
            return None
        # output_expires_after: seconds after the file's creation ("the anchor is the file creation
        # time, not the time the batch is created": types/batch_create_params.py); else 30 days
        lifetime = self.batches[batch_id].extra.get("output_expiry") or THIRTY_DAYS
        record = FileRecord(self.new_output_file_id(), f"{batch_id}_{kind}.jsonl", "batch_output", content, created,
                            created + lifetime)
        self.files[record.id] = record
        return record.id

    # ------------------------------------------------------------------ rendering one answer
    def _render(self, item: BatchItem, answer: Answer, endpoint: str, created: int) -> tuple[int, dict[str, Any]]:
        if answer.outcome == "http_error":
            # An expectation's status defaults to 200; an error row needs an error status (a 2xx
            # row would be counted a success and land in the output file). As on Anthropic and Gemini.
            status = answer.status if answer.status >= 400 else 500
            return status, {"error": {"message": answer.message or "The server had an error processing "
                                      "your request (injected by pytest-batch).",
                                      "type": "invalid_request_error" if status < 500 else "server_error",
                                      "param": None, "code": None}}
        if endpoint not in SIMULATED_ENDPOINTS:
            return 400, {"error": {"message": f"The pytest-batch emulator does not simulate {endpoint}; "
                                   "it answers /v1/chat/completions and /v1/responses.",
                                   "type": "invalid_request_error", "param": None, "code": None}}
        text = answer.text
        if answer.outcome == "truncated":
            text = truncate(text)
        elif answer.outcome == "malformed_json":
            text = malform(text)
        if endpoint == "/v1/chat/completions":
            return 200, bodies.chat_completion(self.ids, item, text, answer.outcome, created)
        return 200, bodies.response(self.ids, item, text, answer.outcome, created)


def _batch_view(batch: dict[str, Any]) -> dict[str, Any]:
    view = dict(batch)
    view["request_counts"] = dict(batch["request_counts"])
    return view


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _row(row_id: str | None, custom_id: str, response: dict[str, Any] | None,
         error: dict[str, Any] | None) -> dict[str, Any]:
    """One output- or error-file line (A.5); Azure's carry no ``id``."""
    row = {"id": row_id} if row_id is not None else {}
    row.update(custom_id=custom_id, response=response, error=error)
    return row


def _item(index: int, custom_id: str, endpoint: str, body: dict[str, Any], provider: str = "openai") -> BatchItem:
    schema = name = None
    if endpoint == "/v1/responses":
        texts = [body.get("instructions") or ""]
        source = body.get("input")
        if isinstance(source, str):
            texts.append(source)
        elif isinstance(source, list):
            texts.extend(_text_of(m.get("content")) for m in source if isinstance(m, dict))
        fmt = (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            schema, name = fmt.get("schema"), fmt.get("name")
    else:
        messages = body.get("messages") or []
        texts = [_text_of(m.get("content")) for m in messages if isinstance(m, dict)]
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema") or {}
            schema, name = spec.get("schema"), spec.get("name")
    return BatchItem(provider, custom_id, index, body["model"], "\n".join(t for t in texts if t), schema, name, body)
