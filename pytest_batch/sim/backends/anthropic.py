"""Anthropic Message Batches: the state (AnthropicBackend): files, batches and their lifecycle.

The HTTP side (parsing requests, rendering JSON) is routes/anthropic.py.

Shapes follow ../shared/docs/wire-formats.md part B and the curator recordings
(realdata/decoded/anthropic_*.json: timestamps with microseconds and ``+00:00``, the
``content-disposition`` of results); error messages, errored rows and cancel counts follow
the OpenRouter live-capture notes (realdata/openrouter_notes). The GA namespace
(``client.messages.batches``) and the beta one (``client.beta.messages.batches``,
``anthropic-beta`` header, ``?beta=true`` on 1.x) share the same paths and state.

Answers in forced-tool mode (``tool_choice: {"type": "tool"}``), where the wire cannot carry
broken JSON because ``tool_use.input`` is always an object: ``truncated`` gives a tool_use
block with ``input: {}`` and stop_reason ``max_tokens``; ``malformed_json`` gives a text
block with the broken JSON and no tool_use block; an answer that is not an object gives a
text block with stop_reason ``end_turn``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ..clock import rfc3339
from ..faults import BatchFault
from ..http import HTTPError
from ..responders import Answer, BatchItem, compact_json
from ..rules import anthropic as rules
from .base import REFUSAL_TEXT, BackendBase, BatchRecord, EmulatorState, SharedValues, approx_tokens, malform, truncate

DAY = 86400
#: results stay downloadable for 29 days after creation (wire-formats.md B.2).
ARCHIVE_AFTER = 29 * DAY

#: error ``type`` by HTTP status (wire-formats.md 0.1, "Error envelopes").
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error",
}
#: every response carries it (openrouter notes); a fixed, obviously fake organization.
ORGANIZATION_ID = "00000000-0000-4000-8000-000000000000"


def error_type(status: int) -> str:
    """The Anthropic error ``type`` for an HTTP status: 4xx default to invalid_request_error, 5xx to api_error."""
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


class AnthropicBackend(BackendBase):
    provider = "anthropic"
    #: limits from wire-formats.md B.3; attributes so a test can lower them.
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, emulator: EmulatorState) -> None:
        super().__init__(emulator)
        #: every id ever created, oldest first, and its position: cursors stay valid after a delete.
        self.order: list[str] = []
        self.positions: dict[str, int] = {}
        self.deleted: set[str] = set()

    # ------------------------------------------------------------------ create
    def create_batch(self, raw: bytes, base_url: str, *, beta: bool = False) -> dict[str, Any]:
        """Check the envelope synchronously (wire-formats.md B.3, F.10) and open the batch;
        each request's ``params`` is only checked when the batch runs (``beta``: the call came
        through the beta namespace, whose params take more fields). The body is parsed and
        checked outside the state lock."""
        items, invalid = self._parse(raw, beta)
        with self.lock:
            record = self.new_record(self.ids.anthropic_batch(), items)
            record.extra.update(status="in_progress", invalid=invalid, counts=None, types=None, ids=None,
                                position=len(self.order))
            self.positions[record.id] = len(self.order)
            self.order.append(record.id)
            return self.to_json(record, base_url)

    def _parse(self, raw: bytes, beta: bool) -> tuple[list[BatchItem], dict[int, str]]:
        """The requests of a create body, and the problem of each one the batch will fail
        (the rules and their sources: rules/anthropic.py)."""
        entries = rules.batch_requests(raw, max_bytes=self.max_bytes, max_requests=self.max_requests)
        items: list[BatchItem] = []
        shared = SharedValues()
        invalid: dict[int, str] = {}
        pace = self.emulator.bulk_lane.pace
        for index, (custom_id, params) in enumerate(entries):
            pace()
            problem = rules.params_problem(params, beta=beta)
            if problem is not None:
                invalid[index] = problem
            for key in ("output_config", "output_format", "tools", "tool_choice", "system"):
                shared.share(params, key)
            items.append(_item(index, custom_id, params))
        return items, invalid

    # ------------------------------------------------------------------ read, list, cancel, delete
    def record(self, batch_id: str) -> BatchRecord:
        record = self.batches.get(batch_id)
        if record is None:
            raise HTTPError(404, f"Message Batch {batch_id} not found.")
        return record

    def retrieve(self, batch_id: str, base_url: str) -> dict[str, Any]:
        return self.status_read(lambda: self.record(batch_id), lambda record: self.to_json(record, base_url))

    def _advance(self, record: BatchRecord, *, read: bool) -> None:
        self._step(record, read=read)  # a read counts only where the batch still moves (_step)

    def list(self, before_id: str | None, after_id: str | None, limit: int,
             base_url: str) -> tuple[list[dict[str, Any]], bool]:
        """A page of batches, newest first; ``after_id`` pages to older, ``before_id`` to newer
        ones (wire-formats.md B.4). Returns the page and has_more. The query's rules: rules/anthropic.py."""

        def step() -> tuple[list[dict[str, Any]], bool]:
            page, has_more = self._page(before_id, after_id, limit)
            return [self.to_json(record, base_url) for record in page], has_more

        return self.locked(step)

    def _page(self, before_id: str | None, after_id: str | None, limit: int) -> tuple[list[BatchRecord], bool]:
        newest_first = [self.batches[i] for i in reversed(self.order) if i not in self.deleted]
        for record in newest_first:
            if not self.busy(record):
                self._step(record)
        if after_id:
            cut = self._cursor(after_id, "after_id")
            older = [r for r in newest_first if r.extra["position"] < cut]
            return older[:limit], len(older) > limit
        if before_id:
            cut = self._cursor(before_id, "before_id")
            newer = [r for r in newest_first if r.extra["position"] > cut]
            return newer[-limit:], len(newer) > limit
        return newest_first[:limit], len(newest_first) > limit

    def _cursor(self, batch_id: str, param: str) -> int:
        if batch_id not in self.positions:
            # Unverified for api.anthropic.com: an id that never existed cannot be a cursor.
            raise HTTPError(400, f"{param}: no Message Batch {batch_id} exists in this workspace.")
        return self.positions[batch_id]

    def cancel(self, batch_id: str, base_url: str) -> dict[str, Any]:
        """in_progress -> canceling; the batch ends (unfinished requests canceled) on the next read,
        or on an explicit advance under the manual lifecycle. Ended batches come back unchanged
        (the real behaviour is unverified, wire-formats.md B.2)."""
        def step() -> dict[str, Any]:
            record = self.record(batch_id)
            self._step(record)
            if record.extra["status"] == "in_progress":
                record.cancel_requested_at = self.now
                record.progress_at_cancel = self.progress(record)
                record.reads = 0
                record.extra["status"] = "canceling"
            return self.to_json(record, base_url)

        return self.locked(step)

    def delete(self, batch_id: str) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            record = self.record(batch_id)
            self._step(record)
            if record.extra["status"] != "ended":
                # Message from the OpenRouter live captures.
                raise HTTPError(400, "In progress batches cannot be deleted. Consider canceling the batch instead.")
            del self.batches[batch_id]
            self.deleted.add(batch_id)
            return {"id": batch_id, "type": "message_batch_deleted"}

        return self.locked(step)

    # ------------------------------------------------------------------ lifecycle
    def _step(self, record: BatchRecord, *, read: bool = False) -> None:
        extra = record.extra
        status = extra["status"]
        if status == "ended":
            return
        if status == "canceling":
            if read:
                record.reads += 1
            if record.forced or (self.emulator.lifecycle_for(record.id).kind != "manual" and record.reads >= 1):
                self._end(record, "canceled", record.progress_at_cancel)
            return
        expires_at = record.created_at + DAY
        if self.now >= expires_at and (at_expiry := self.progress_at(record, expires_at)) < 1.0:
            # The 24 h window closed while it ran: what was done by then succeeded (or errored),
            # the rest expired, ended then; a batch whose lifecycle ended before then is not expired.
            self._end(record, "expired", at_expiry, at=expires_at)
            return
        if read:
            record.reads += 1
        if self.progress(record) >= 1.0:
            fault = self.fault(record)
            if fault is not None and fault.kind == "expire":
                self._end(record, "expired", fault.completed_fraction)
            elif any(answer.outcome == "canceled" for answer in self.answers(record)):
                # Anthropic cancels batches, not requests: ``canceled`` results come only from a
                # batch that went through ``canceling`` (wire-formats.md B.2). So a request with
                # the canceled fault cancels the batch once every other request has run, as a
                # user's cancel at that moment would: cancel_initiated_at set, ended on the next read.
                record.cancel_requested_at = self.now
                record.progress_at_cancel = 1.0
                record.reads = 0
                extra["status"] = "canceling"
            else:
                # share 1: nothing is left to expire; ended when its lifecycle ended
                self._end(record, "expired", 1.0, at=self.reached_at(record, 1.0))

    def _end(self, record: BatchRecord, unfinished: str, share: float, *, at: float | None = None) -> None:
        """Decide every request's result type and flip the counts all at once (wire-formats.md B.2):
        decided outside the state lock (``prepare``), published here; ended at ``at`` (now by default)."""
        answers = self.answers(record)
        failed_validation = (fault := self.fault(record)) is not None and fault.kind == "validation_failure"
        decision = (unfinished, int(len(record) * share), failed_validation)
        ending = self.prepare(record, decision, lambda: self._result_types(record, answers, *decision))
        record.extra.update(status="ended", **ending)
        record.ended_at = self.now if at is None else at
        self.published(record)

    def _result_types(self, record: BatchRecord, answers: list[Answer], unfinished: str, done: int,
                      failed_validation: bool) -> dict[str, Any]:
        """Each request's result type and id, and the counts (outside the state lock)."""
        invalid = record.extra["invalid"]
        types: list[str] = []
        ids: list[str | None] = []
        #: drawn now, not while streaming: stable across downloads.
        tool_ids: dict[int, str] = {}
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for index, answer in enumerate(answers):
            if failed_validation or index in invalid:
                kind = "errored"
            elif index >= done:
                kind = unfinished
            else:
                kind = _RESULT_TYPES[answer.outcome]
            types.append(kind)
            counts[kind] += 1
            if kind == "succeeded":
                ids.append(self.ids.anthropic_message())
                if _forced_tool(record.items[index].body) is not None:
                    tool_ids[index] = self.ids.anthropic_tool_use()
            elif kind == "errored":
                ids.append(self.ids.anthropic_request())
            else:
                ids.append(None)
        return {"counts": counts, "types": types, "ids": ids, "tool_ids": tool_ids}

    # ------------------------------------------------------------------ results
    def results(self, batch_id: str) -> Iterator[dict[str, Any]]:
        """The result rows in result order; 404 until the batch has ended or once it is archived."""
        def step() -> Iterator[dict[str, Any]]:
            record = self.record(batch_id)
            self._step(record)
            if record.extra["status"] != "ended" or self.now >= record.created_at + ARCHIVE_AFTER:
                raise HTTPError(404, f"Message Batch {batch_id} has no available results.")
            # Everything the rows need is fixed now: the generator runs outside the emulator's lock.
            return self._rows(record, self.answers(record), self.result_order(record), self.fault(record))

        return self.locked(step)

    def _rows(self, record: BatchRecord, answers: list[Answer], order: list[int],
              fault: BatchFault | None) -> Iterator[dict[str, Any]]:
        items = record.items
        types, ids, invalid = record.extra["types"], record.extra["ids"], record.extra["invalid"]
        tool_ids = record.extra["tool_ids"]
        fault_message = (fault.message if fault is not None and fault.message else
                         "The Message Batch failed validation (injected by pytest-batch).")
        pace = self.emulator.bulk_lane.pace
        for index in order:
            pace()
            kind = types[index]
            item = items[index]
            if kind == "succeeded":
                result = {"type": "succeeded", "message": self._message(item, answers[index], ids[index],
                                                                            tool_ids.get(index))}
            elif kind == "errored":
                answer = answers[index]
                request_id = ids[index]
                if index in invalid:
                    # A request the API refused before running it has no request id: the captures'
                    # ``bad-model`` row carries ``"request_id":null``.
                    status, message, request_id = 400, invalid[index], None
                elif fault is not None and fault.kind == "validation_failure":
                    status, message = 400, fault_message
                else:
                    status = answer.status if answer.status >= 400 else 500
                    message = answer.message or _DEFAULT_ERRORS.get(status, "Internal server error (injected by "
                                                                    "pytest-batch).")
                result = {"type": "errored", "error": {
                    "type": "error",
                    "error": {"details": {"error_visibility": "user_facing"}, "type": error_type(status),
                              "message": message},
                    "request_id": request_id}}
            else:
                result = {"type": kind}
            yield {"custom_id": item.custom_id, "result": result}

    def _message(self, item: BatchItem, answer: Answer, message_id: str, tool_use_id: str | None) -> dict[str, Any]:
        """A Message for a succeeded request: text, structured JSON text, or a forced tool call."""
        outcome = answer.outcome
        params = item.body
        tool = _forced_tool(params) if tool_use_id else None
        stop_reason = "end_turn"
        extra: dict[str, Any] = {}
        if outcome == "refusal":
            text = REFUSAL_TEXT
            content: list[dict[str, Any]] = [{"type": "text", "text": text}]
            stop_reason = "refusal"
            extra["stop_details"] = {"type": "refusal", "category": None, "explanation": None}
        elif tool is not None and outcome != "malformed_json":
            value = answer.value
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            if outcome == "truncated":
                # A tool call cut off by max_tokens arrives with an empty input.
                value, stop_reason = {}, "max_tokens"
            elif isinstance(value, dict):
                stop_reason = "tool_use"
            if isinstance(value, dict):
                text = compact_json(value)
                # ``caller`` is a required field of the tool_use block (anthropic-sdk-ruby
                # Anthropic::Models::ToolUseBlock: ``required :caller_``): the model called it directly.
                content = [{"type": "tool_use", "id": tool_use_id, "name": tool, "input": value,
                            "caller": {"type": "direct"}}]
            else:
                # The answer is not an object: the model "answered in prose" instead of calling the tool.
                text = answer.text
                content = [{"type": "text", "text": text}]
        else:
            # malformed_json in tool mode also lands here: a tool input is always an object on the wire,
            # so the broken JSON comes back as text and no tool_use block (the caller must notice).
            text = answer.text
            if outcome == "truncated":
                text, stop_reason = truncate(text), "max_tokens"
            elif outcome == "malformed_json":
                text = malform(text)
            content = [{"type": "text", "text": text}]
        output_tokens = approx_tokens(text)
        if rules.thinking_enabled(params):
            thinking = _thinking_block(item, message_id)
            content = [thinking, *content]
            output_tokens += approx_tokens(thinking["thinking"])
        max_tokens = params.get("max_tokens")
        if stop_reason == "max_tokens" and isinstance(max_tokens, int):
            output_tokens = max_tokens
        return {
            "id": message_id, "type": "message", "role": "assistant", "model": item.model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": None, **extra,
            "usage": {"input_tokens": approx_tokens(item.prompt), "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0,
                      "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                      "output_tokens": output_tokens, "service_tier": "batch", "inference_geo": "not_available"},
        }

    # ------------------------------------------------------------------ rendering the batch
    def to_json(self, record: BatchRecord, base_url: str) -> dict[str, Any]:
        """The MessageBatch object (wire-formats.md B.2; timestamps as recorded: ``+00:00``)."""
        extra = record.extra
        status = extra["status"]
        ended = status == "ended"
        counts = extra["counts"] if ended else {"processing": len(record), "succeeded": 0, "errored": 0,
                                                "canceled": 0, "expired": 0}
        archived = self.now >= record.created_at + ARCHIVE_AFTER
        return {
            "id": record.id, "type": "message_batch", "processing_status": status,
            "request_counts": dict(counts),
            "ended_at": rfc3339(record.ended_at, zulu=False) if ended and record.ended_at is not None else None,
            "created_at": rfc3339(record.created_at, zulu=False),
            "expires_at": rfc3339(record.created_at + DAY, zulu=False),
            "archived_at": rfc3339(record.created_at + ARCHIVE_AFTER, zulu=False) if ended and archived else None,
            "cancel_initiated_at": (rfc3339(record.cancel_requested_at, zulu=False)
                                    if record.cancel_requested_at is not None else None),
            "results_url": f"{base_url}/v1/messages/batches/{record.id}/results" if ended else None,
        }


_RESULT_TYPES = {
    "ok": "succeeded", "http_error": "errored", "expired": "expired", "canceled": "canceled",
    "malformed_json": "succeeded", "refusal": "succeeded", "truncated": "succeeded", "schema_violation": "succeeded",
}
_DEFAULT_ERRORS = {
    400: "Invalid request (injected by pytest-batch).",
    429: "Number of request tokens has exceeded your rate limit (injected by pytest-batch).",
    529: "Overloaded (injected by pytest-batch).",
}


def _thinking_block(item: BatchItem, message_id: str) -> dict[str, Any]:
    """The ``thinking`` block an extended-thinking request's answer opens with, before the text or
    tool call (realdata curator anthropic_basic_batch_reasoning_completion: ``type``, ``thinking``,
    ``signature``). The reasoning restates the request; the signature is opaque base64, as on the
    wire, and stable for one message."""
    prompt = " ".join(item.prompt.split())
    if len(prompt) > 200:
        prompt = prompt[:200].rstrip() + "…"
    goal = "a direct answer"
    if item.schema is not None:
        goal = f"an object matching the {item.schema_name or 'requested'} schema"
    thinking = f"The request asks: {prompt}\nI will work out {goal} and then give it."
    digest = hashlib.sha256(f"{message_id}:{thinking}".encode()).digest()
    return {"type": "thinking", "thinking": thinking, "signature": base64.b64encode(digest * 8).decode()}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(block.get("text") or "" for block in content
                         if isinstance(block, dict) and block.get("type", "text") == "text")
    return ""


def _forced_tool(params: dict[str, Any]) -> str | None:
    """The tool ``tool_choice`` forces, if it is one of ``tools`` with an input_schema (wire-formats.md D.2)."""
    choice = params.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    name = choice.get("name")
    for tool in params.get("tools") or ():
        if isinstance(tool, dict) and tool.get("name") == name and isinstance(tool.get("input_schema"), dict):
            return name
    return None


def _item(index: int, custom_id: str, params: dict[str, Any]) -> BatchItem:
    texts = [_text_of(params.get("system"))]
    messages = params.get("messages")
    if isinstance(messages, list):
        texts.extend(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
    schema = name = None
    fmt = (params.get("output_config") or {}).get("format") or params.get("output_format") or {}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and fmt.get("schema") is not None:
        schema = fmt["schema"]  # no object: the responder fails this request alone (invalid_request_error)
        name = schema.get("title") if isinstance(schema, dict) else None
    else:
        tool = _forced_tool(params)
        if tool is not None:
            schema = next(t["input_schema"] for t in params["tools"] if isinstance(t, dict) and t.get("name") == tool)
            name = tool
    model = params.get("model")
    return BatchItem("anthropic", custom_id, index, model if isinstance(model, str) else "",
                     "\n".join(t for t in texts if t), schema, name, params)
