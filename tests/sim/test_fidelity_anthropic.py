"""The Anthropic emulator against the live API (issue 12, items 1 and 2).

Validation: each rule of pytest_batch/sim/rules/anthropic.py, with the status code, the error
envelope ``{"type":"error","error":{"type","message"},"request_id"}`` and the message the live
API answers (the sources are cited beside each rule); and each per-request rule as the
``errored`` row the batch reports, the batch still ending.

Shapes: every object the anthropic SDK parses from the emulator carries each field its types
declare, unless the live API leaves that field out for the call at hand; those are listed
below with the reason and the source, and ``sdk_fields.unexplained`` keeps the list honest both
ways, so an SDK upgrade that declares a new field fails here until it is emulated or explained.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from pytest_batch.seed import SEED_PROMPTS
from pytest_batch.sim import Emulator
from pytest_batch.sim.rules import anthropic as rules

from .sdk_fields import unexplained

MODEL = "claude-haiku-4-5"
HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
URL = "https://api.anthropic.com"


def params(prompt: str = SEED_PROMPTS[0], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": prompt}]}
    body.update(extra)
    return body


def create_body(*requests: dict[str, Any], **top: Any) -> bytes:
    entries = list(requests) or [{"custom_id": "a", "params": params()}]
    return json.dumps({"requests": entries, **top}).encode()


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx2.Client]:
    """Plain HTTP into the emulator, as a hand-written client or a gateway would call the API."""
    with httpx2.Client(transport=emulator.transport(), base_url=URL) as client:
        yield client


def assert_error(response: httpx2.Response, status: int, error_type: str, message: str) -> None:
    """The live API's error envelope, and the request id repeated in the ``request-id`` header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"type": "error", "error": {"type": error_type, "message": message},
                    "request_id": response.headers["request-id"]}
    assert body["request_id"].startswith("req_")


# --------------------------------------------------------------------------- headers
ENDPOINTS = [("POST", "/v1/messages/batches"), ("GET", "/v1/messages/batches"),
             ("GET", "/v1/messages/batches/{id}"), ("POST", "/v1/messages/batches/{id}/cancel"),
             ("DELETE", "/v1/messages/batches/{id}"), ("GET", "/v1/messages/batches/{id}/results")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(("version", "message"), [
    (None, "anthropic-version: header is required"),
    ("", "anthropic-version: header is required"),
    ("2023-06-01, 2023-06-01", 'anthropic-version: "2023-06-01, 2023-06-01" is not a valid version'),
])
def test_every_call_needs_an_anthropic_version(http: httpx2.Client, method: str, path: str, version: str | None,
                                               message: str) -> None:
    batch_id = http.post("/v1/messages/batches", headers=HEADERS, content=create_body()).json()["id"]
    headers = {"x-api-key": "k"} if version is None else {"x-api-key": "k", "anthropic-version": version}
    response = http.request(method, path.format(id=batch_id), headers=headers,
                            content=create_body() if method == "POST" and "{id}" not in path else None)
    assert_error(response, 400, "invalid_request_error", message)


def test_the_sdks_version_headers_are_accepted(emulator: Emulator) -> None:
    """anthropic 2.x sends 2026-10-21, 1.x and older 2023-06-01 (wire-formats.md B.6)."""
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=[{"custom_id": "a", "params": params()}])
    for version in ("2023-06-01", "2026-10-21"):
        response = client.messages.batches.with_raw_response.retrieve(
            batch.id, extra_headers={"anthropic-version": version})
        assert response.http_response.status_code == 200


# --------------------------------------------------------------------------- create: the envelope
LONG_ID = "x" * 65
CREATE_RULES = [
    (b"{not json", "The request body is not valid JSON: Expecting property name enclosed in double quotes: "
                   "line 1 column 2 (char 1)"),
    (b"[]", "Input should be a valid dictionary or object to extract fields from"),
    (b"{}", "requests: Field required"),
    (b'{"requests": {}}', "requests: Input should be a valid list"),
    (b'{"requests": []}', "requests: List should have at least 1 item after validation, not 0"),
    (b'{"requests": [1]}', "requests.0: Input should be a valid dictionary or object to extract fields from"),
    (create_body({"params": params()}), "requests.0.custom_id: Field required"),
    (create_body({"custom_id": 7, "params": params()}), "requests.0.custom_id: Input should be a valid string"),
    (create_body({"custom_id": "", "params": params()}),
     "requests.0.custom_id: String should have at least 1 character"),
    (create_body({"custom_id": LONG_ID, "params": params()}),
     "requests.0.custom_id: String should have at most 64 characters"),
    (create_body({"custom_id": "a b", "params": params()}),
     "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
    (create_body({"custom_id": "a", "params": params()}, {"custom_id": "b"}), "requests.1.params: Field required"),
    (create_body({"custom_id": "a", "params": []}),
     "requests.0.params: Input should be a valid dictionary or object to extract fields from"),
    (create_body({"custom_id": "dup", "params": params()}, {"custom_id": "dup", "params": params()}),
     "requests: custom_id's must be unique within a batch. Duplicate custom_id found: dup"),
    (create_body({"custom_id": "a", "params": params(), "method": "POST"}),
     "requests.0.method: Extra inputs are not permitted"),
    (create_body(completion_window="24h"), "completion_window: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("body", "message"), CREATE_RULES, ids=[m.split(":")[0] + f"-{i}"
                                                                  for i, (_, m) in enumerate(CREATE_RULES)])
def test_create_envelope_rules(http: httpx2.Client, emulator: Emulator, body: bytes, message: str) -> None:
    response = http.post("/v1/messages/batches", headers=HEADERS, content=body)
    assert_error(response, 400, "invalid_request_error", message)
    assert emulator.anthropic_client().messages.batches.list().data == [], "a refused create opens no batch"


def test_create_size_limits_are_413_request_too_large(http: httpx2.Client, emulator: Emulator) -> None:
    emulator.anthropic.max_requests = 2
    response = http.post("/v1/messages/batches", headers=HEADERS, content=create_body(
        *({"custom_id": f"r{i}", "params": params()} for i in range(3))))
    assert_error(response, 413, "request_too_large",
                 "A Message Batch holds at most 2 requests, got 3. Split it into several batches.")
    emulator.anthropic.max_bytes = 100
    response = http.post("/v1/messages/batches", headers=HEADERS, content=create_body())
    assert_error(response, 413, "request_too_large",
                 "Request exceeds the maximum size of 100 bytes for a Message Batch. Split it into several batches.")


# --------------------------------------------------------------------------- list
@pytest.mark.parametrize(("query", "message"), [
    ("limit=0", "limit: Input should be greater than or equal to 1"),
    ("limit=1001", "limit: Input should be less than or equal to 1000"),
    ("limit=ten", "limit: Input should be a valid integer, unable to parse string as an integer"),
    ("before_id=msgbatch_a&after_id=msgbatch_b", "Only one of before_id and after_id may be given."),
])
def test_list_query_rules(http: httpx2.Client, query: str, message: str) -> None:
    assert_error(http.get(f"/v1/messages/batches?{query}", headers=HEADERS), 400, "invalid_request_error", message)


def test_list_limit_bounds_are_inclusive(http: httpx2.Client) -> None:
    for limit in (1, 1000):
        assert http.get(f"/v1/messages/batches?limit={limit}", headers=HEADERS).status_code == 200


# --------------------------------------------------------------------------- each request's params: errored rows
LONG_THINKING_MESSAGE = ("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
                         "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                         "#max-tokens-and-context-window-size")


def _without(name: str) -> dict[str, Any]:
    body = params()
    del body[name]
    return body


ROW_RULES = [
    (_without("model"), "model: Field required"),
    (_without("messages"), "messages: Field required"),
    (_without("max_tokens"), "max_tokens: Field required"),
    (params(model=4), "model: Input should be a valid string"),
    (params(max_tokens="many"), "max_tokens: Input should be a valid integer"),
    (params(max_tokens=0), "max_tokens: must be greater than or equal to 1"),
    (params(max_tokens=9999999),
     "max_tokens: 9999999 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5"),
    (params(model="claude-opus-4-1-20250805", max_tokens=32001),
     "max_tokens: 32001 > 32000, which is the maximum allowed number of output tokens for claude-opus-4-1-20250805"),
    (params(messages="hi"), "messages: Input should be a valid list"),
    (params(response_format={"type": "json_object"}), "response_format: Extra inputs are not permitted"),
    (params(context_management={"edits": []}), "context_management: Extra inputs are not permitted"),
    (params(stream=True), '"stream=True" is not supported in the Message Batches API'),
    (params(messages=[]), "messages: at least one message is required"),
    (params(messages=["hi"]), "messages.0: Input should be a valid dictionary or object to extract fields from"),
    (params(messages=[{"content": "hi"}]), "messages.0.role: Field required"),
    (params(messages=[{"role": "user"}]), "messages.0.content: Field required"),
    (params(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]),
     'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" '
     "as an input message role."),
    (params(messages=[{"role": "ai", "content": "hi"}]),
     'messages: Unexpected role "ai". Allowed roles are "user" or "assistant"'),
    (params(messages=[{"role": "user", "content": 5}]), "messages.0.content: Input should be a valid list"),
    (params(messages=[{"role": "user", "content": ""}]),
     "messages.0: all messages must have non-empty content except for the optional final assistant message"),
    (params(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": []},
                      {"role": "user", "content": "go on"}]),
     "messages.1: all messages must have non-empty content except for the optional final assistant message"),
    (params(temperature=1.5), "temperature: range: 0..1"),
    (params(temperature=-1), "temperature: range: 0..1"),
    (params(temperature="warm"), "temperature: Input should be a valid number"),
    (params(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 512}),
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    (params(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 2048}), LONG_THINKING_MESSAGE),
    (params(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
            tools=[{"name": "User", "input_schema": {"type": "object"}}], tool_choice={"type": "tool", "name": "User"}),
     "Thinking may not be enabled when tool_choice forces tool use."),
    (params(thinking={"type": "adaptive"}, tools=[{"name": "User", "input_schema": {"type": "object"}}],
            tool_choice={"type": "any"}),
     "Thinking may not be enabled when tool_choice forces tool use."),
]


@pytest.mark.parametrize(("bad", "message"), ROW_RULES, ids=[f"{i}-{m[:40]}" for i, (_, m) in enumerate(ROW_RULES)])
def test_a_request_the_messages_api_refuses_is_an_errored_row(emulator: Emulator, bad: dict, message: str) -> None:
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=[{"custom_id": "good", "params": params()},
                                                     {"custom_id": "bad", "params": bad}])
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended", "a refused request does not hold the batch up"
    assert (done.request_counts.succeeded, done.request_counts.errored) == (1, 1)
    rows = {row.custom_id: row.result for row in client.messages.batches.results(batch.id)}
    assert rows["good"].type == "succeeded"
    assert rows["bad"].model_dump(mode="json", exclude_unset=True) == {"type": "errored", "error": {
        "type": "error", "error": {"details": {"error_visibility": "user_facing"}, "type": "invalid_request_error",
                                   "message": message},
        "request_id": None}}


@pytest.mark.parametrize("good", [
    params(temperature=0), params(temperature=1), params(top_p=0.9, top_k=40, stop_sequences=["END"]),
    params(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]),
    params(messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]),
    params(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024}),
    params(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
           tools=[{"name": "User", "input_schema": {"type": "object"}}], tool_choice={"type": "auto"}),
    params(system="Be brief.", metadata={"user_id": "u1"}, service_tier="auto"),
    params(max_tokens=64000), params(model="claude-opus-4-8", max_tokens=128000),
    params(model="claude-opus-4-9", max_tokens=100000),  # a model newer than the list is not limited
])
def test_requests_the_messages_api_takes_succeed(emulator: Emulator, good: dict) -> None:
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=[{"custom_id": "a", "params": good}])
    assert client.messages.batches.retrieve(batch.id).request_counts.succeeded == 1


def test_beta_namespace_params_are_taken_only_through_the_beta_namespace(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    request = {"custom_id": "a", "params": params(context_management={"edits": []})}
    beta = client.beta.messages.batches.create(requests=[request], betas=["context-management-2025-06-27"])
    assert client.beta.messages.batches.retrieve(beta.id).request_counts.succeeded == 1
    ga = client.messages.batches.create(requests=[request])
    assert client.messages.batches.retrieve(ga.id).request_counts.errored == 1


def test_the_known_params_cover_every_field_the_sdk_declares() -> None:
    """A field the newest SDK can send must not be refused as an extra input."""
    from anthropic.types import message_create_params as ga
    from anthropic.types.beta import message_create_params as beta
    from anthropic.types.messages import batch_create_params

    assert set(typing.get_type_hints(ga.MessageCreateParamsBase)) <= rules.PARAMS_FIELDS
    assert set(typing.get_type_hints(beta.MessageCreateParamsBase)) - {"betas"} <= rules.BETA_PARAMS_FIELDS
    assert set(typing.get_type_hints(batch_create_params.Request)) == set(rules.REQUEST_FIELDS)
    # workspace_id and user_profile_id are sent as headers (anthropic-workspace-id, anthropic-user-profile-id)
    assert set(typing.get_type_hints(batch_create_params.BatchCreateParams)) - {"workspace_id", "user_profile_id"} \
        == set(rules.CREATE_FIELDS)


# --------------------------------------------------------------------------- shapes against the SDK's types
#: Declared by anthropic's Message types, not sent by the live API for a plain batch request: the
#: OpenRouter live captures of 2026-09 (claude-haiku-4-5, realdata/openrouter_notes) show a
#: succeeded row's message with exactly id, type, role, model, content, stop_reason,
#: stop_sequence and usage {input_tokens, cache_creation_input_tokens, cache_read_input_tokens,
#: cache_creation, output_tokens, service_tier, inference_geo}, and text blocks of type and text.
NOT_SENT_FOR_A_PLAIN_MESSAGE = {
    "result.message.container": "set only when a container tool (code execution) ran (Message.container doc)",
    "result.message.diagnostics": "only when the request asked for diagnostics (Message.diagnostics doc)",
    "result.message.stop_details": "null-valued details are left out for end_turn/max_tokens/tool_use "
                                   "(not in the 2026-09 captures); sent with stop_reason refusal",
    "result.message.content[].citations": "only when citations are enabled on a document (not in the captures)",
    "result.message.usage.server_tool_use": "only when a server tool ran (openrouter notes)",
    "result.message.usage.output_tokens_details": "not in the 2026-09 captures",
    "result.message.usage.speed": "only for the fast mode, which batches refuse (wire-formats.md B.3)",
}


def _rows(client: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    return {row.custom_id: row for row in client.messages.batches.results(batch_id)}


def test_message_batch_in_each_state_carries_every_declared_field(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    requests = [{"custom_id": "a", "params": params()}]
    in_progress = client.messages.batches.create(requests=requests)
    canceling = client.messages.batches.cancel(client.messages.batches.create(requests=requests).id)
    ended = client.messages.batches.retrieve(in_progress.id)
    assert (in_progress.processing_status, canceling.processing_status, ended.processing_status) == (
        "in_progress", "canceling", "ended")
    for batch in (in_progress, canceling, ended):
        assert unexplained(batch, {}) == []
    page = client.messages.batches.list()
    assert [unexplained(batch, {}) for batch in page.data] == [[], []]
    deleted = client.messages.batches.delete(ended.id)
    assert unexplained(deleted, {}) == []


def test_succeeded_rows_carry_every_field_the_live_api_sends(emulator: Emulator) -> None:
    emulator.faults.request("refused", "refusal")
    client = emulator.anthropic_client()
    thinking = params(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})
    tool = params(tools=[{"name": "User", "description": "Record the user.",
                          "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}}}],
                  tool_choice={"type": "tool", "name": "User"})
    batch = client.messages.batches.create(requests=[
        {"custom_id": "text", "params": params()}, {"custom_id": "thinking", "params": thinking},
        {"custom_id": "tool", "params": tool}, {"custom_id": "refused", "params": params()}])
    client.messages.batches.retrieve(batch.id)
    rows = _rows(client, batch.id)
    assert unexplained(rows["text"], NOT_SENT_FOR_A_PLAIN_MESSAGE) == []
    assert unexplained(rows["thinking"], NOT_SENT_FOR_A_PLAIN_MESSAGE) == []
    # a tool call has no text block, so no citations to leave out; toolset_name only names the
    # toolset family of a toolset member tool (ToolUseBlock.toolset_name doc)
    tool_explained = {k: v for k, v in NOT_SENT_FOR_A_PLAIN_MESSAGE.items() if not k.endswith("citations")}
    tool_explained["result.message.content[].toolset_name"] = "only for a toolset member tool"
    assert unexplained(rows["tool"], tool_explained) == []
    refusal_explained = {k: v for k, v in NOT_SENT_FOR_A_PLAIN_MESSAGE.items() if not k.endswith("stop_details")}
    assert unexplained(rows["refused"], refusal_explained) == []
    assert rows["refused"].result.message.stop_details.type == "refusal"
    assert rows["text"].result.message.usage.service_tier == "batch"


def test_extended_thinking_answers_open_with_a_signed_thinking_block(emulator: Emulator) -> None:
    """As in the curator reasoning recording (claude-3-7-sonnet, thinking enabled): a thinking block
    with its signature, then the text; the thinking counts toward output_tokens."""
    client = emulator.anthropic_client()
    plain, thinking = params(max_tokens=4096), params(max_tokens=4096, thinking={"type": "enabled",
                                                                                 "budget_tokens": 2048})
    batch = client.messages.batches.create(requests=[{"custom_id": "plain", "params": plain},
                                                     {"custom_id": "thinking", "params": thinking}])
    client.messages.batches.retrieve(batch.id)
    rows = _rows(client, batch.id)
    message, reference = rows["thinking"].result.message, rows["plain"].result.message
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking and message.content[0].signature
    assert message.content[1].text == reference.content[0].text
    assert message.usage.output_tokens > reference.usage.output_tokens
    assert [block.type for block in reference.content] == ["text"], "no thinking unless asked for"


def test_errored_canceled_and_expired_rows_carry_every_declared_field(emulator: Emulator) -> None:
    emulator.faults.request("failed", "http_error", status=500, message="Internal server error")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=[{"custom_id": "invalid", "params": params(max_tokens=0)},
                                                     {"custom_id": "failed", "params": params()}])
    client.messages.batches.retrieve(batch.id)
    canceled = client.messages.batches.create(requests=[{"custom_id": "c", "params": params()}])
    client.messages.batches.cancel(canceled.id)
    client.messages.batches.retrieve(canceled.id)
    emulator.faults.batch("expire", completed_fraction=0.0)
    expired = client.messages.batches.create(requests=[{"custom_id": "e", "params": params()}])
    client.messages.batches.retrieve(expired.id)
    rows = {**_rows(client, batch.id), **_rows(client, canceled.id), **_rows(client, expired.id)}
    assert {name: row.result.type for name, row in rows.items()} == {
        "invalid": "errored", "failed": "errored", "c": "canceled", "e": "expired"}
    for row in rows.values():
        assert unexplained(row, {}) == []
    assert rows["failed"].result.error.request_id is not None, "a request that ran has a request id"
