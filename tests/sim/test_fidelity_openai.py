"""Fidelity of the OpenAI (and Azure OpenAI) emulator to the live API, driven by the real openai SDK.

1. Validation: each rule of sim/rules/openai.py answers with the live status, envelope and
   message (sources in that module); a bad request line's body becomes a 400 row of the error
   file, with the live row shape, while the batch completes.
2. Shapes: every field the installed SDK's types declare is sent, or listed below with the
   reason the live API leaves it out for that request (tests/sim/sdk_fields.py), so an SDK
   upgrade that adds a field fails here until the emulator sends it or a reason is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import Batch
from openai.types.chat import ChatCompletion

from pytest_batch.seed import SEED_PROMPTS, seed_expectations
from pytest_batch.sim import Emulator

from .conftest import openai_chat_lines
from .sdk_fields import unexplained

GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}


def upload(client: Any, content: bytes) -> Any:
    return client.files.create(file=("in.jsonl", content), purpose="batch")


def submit(client: Any, content: bytes, endpoint: str = "/v1/chat/completions", **kwargs: Any) -> Any:
    return client.batches.create(input_file_id=upload(client, content).id, endpoint=endpoint,
                                 completion_window="24h", **kwargs)


def rows(client: Any, file_id: str | None) -> list[dict]:
    return [] if not file_id else [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def lines(bodies: list[dict], url: str = "/v1/chat/completions") -> bytes:
    return "".join(json.dumps({"custom_id": f"request-{i}", "method": "POST", "url": url, "body": body}) + "\n"
                   for i, body in enumerate(bodies, 1)).encode()


def envelope(error: openai.APIStatusError) -> dict:
    return error.response.json()


# ============================================================================ 1. validation
# (status 400, the envelope {"error": {message, type, param, code}}, the live message)
BATCH_CREATE_RULES = [
    ({"foo": 1}, None, None, "Unrecognized request argument supplied: foo"),
    ({"input_file_id": 5}, "input_file_id", "invalid_type",
     "Invalid type for 'input_file_id': expected a string, but got an integer instead."),
    ({"input_file_id": None}, "input_file_id", "missing_required_parameter",
     "Missing required parameter: 'input_file_id'."),
    ({"endpoint": 3}, "endpoint", "invalid_type",
     "Invalid type for 'endpoint': expected one of '/v1/responses', '/v1/chat/completions', '/v1/embeddings', "
     "'/v1/completions', '/v1/moderations', '/v1/images/generations', '/v1/images/edits', or '/v1/videos', "
     "but got an integer instead."),
    ({"endpoint": "/v1/nope"}, "endpoint", "invalid_value",
     "Invalid value: '/v1/nope'. Supported values are: '/v1/responses', '/v1/chat/completions', '/v1/embeddings', "
     "'/v1/completions', '/v1/moderations', '/v1/images/generations', '/v1/images/edits', and '/v1/videos'."),
    ({"completion_window": "48h"}, "completion_window", "invalid_value",
     "Invalid value: '48h'. Supported values are: '24h'."),
    ({"metadata": "x"}, "metadata", "invalid_type", "Invalid type for 'metadata': expected an object, but got a "
     "string instead."),
    ({"metadata": {"k": 1}}, "metadata.k", "invalid_type",
     "Invalid type for 'metadata.k': expected a string, but got an integer instead."),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "object_above_max_properties",
     "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object "
     "with 17 properties instead."),
    ({"metadata": {"k" * 65: "v"}}, "metadata." + "k" * 65, "string_above_max_length",
     f"Invalid property name in 'metadata': '{'k' * 65}' is too long. Expected a string with maximum length 64, "
     "but got a string with length 65 instead."),
    ({"metadata": {"k": "v" * 513}}, "metadata.k", "string_above_max_length",
     "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but got a string with "
     "length 513 instead."),
    ({"output_expires_after": {"anchor": "created_at", "seconds": -5}}, "output_expires_after.seconds",
     "integer_below_min_value", "Invalid 'output_expires_after.seconds': integer below minimum value. Expected a "
     "value >= 3600, but got -5 instead."),
    ({"output_expires_after": {"anchor": "created_at", "seconds": 2592001}}, "output_expires_after.seconds",
     "integer_above_max_value", "Invalid 'output_expires_after.seconds': integer above maximum value. Expected a "
     "value <= 2592000, but got 2592001 instead."),
    ({"output_expires_after": {"anchor": "updated_at", "seconds": 3600}}, "output_expires_after.anchor",
     "invalid_value", "Invalid value: 'updated_at'. Supported values are: 'created_at'."),
    ({"output_expires_after": {"seconds": 3600}}, "output_expires_after.anchor", "missing_required_parameter",
     "Missing required parameter: 'output_expires_after.anchor'."),
]


@pytest.mark.parametrize(("change", "param", "code", "message"), BATCH_CREATE_RULES,
                         ids=[m[:60] for *_, m in BATCH_CREATE_RULES])
def test_batch_create_rules_answer_as_the_live_api(change: dict, param: str | None, code: str | None,
                                                   message: str) -> None:
    client = Emulator().openai_client()
    body = {"input_file_id": upload(client, lines([GOOD])).id, "endpoint": "/v1/chat/completions",
            "completion_window": "24h", **change}
    with pytest.raises(openai.BadRequestError) as error:
        client.post("/batches", body=body, cast_to=Batch)
    assert error.value.status_code == 400
    assert envelope(error.value) == {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                               "code": code}}
    assert client.batches.list().data == []  # nothing was created


def test_a_valid_output_expiry_sets_the_result_files_expiry() -> None:
    client = Emulator(expectations=seed_expectations()).openai_client()
    batch = client.batches.retrieve(submit(client, lines([GOOD]), metadata={"k" * 64: "v" * 512},
                                           output_expires_after={"anchor": "created_at", "seconds": 7200}).id)
    output = client.files.retrieve(batch.output_file_id)
    assert output.expires_at == output.created_at + 7200


UPLOAD_RULES = [
    ({"purpose": "nope"}, "purpose", "invalid_value",
     "'nope' is not one of ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] - 'purpose'"),
    ({"expires_after[anchor]": "updated_at", "expires_after[seconds]": "3600"}, "expires_after.anchor",
     "invalid_value", "Invalid value: 'updated_at'. Supported values are: 'created_at'."),
    ({"expires_after[seconds]": "3600"}, "expires_after.anchor", "missing_required_parameter",
     "Missing required parameter: 'expires_after.anchor'."),
    ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "-5"}, "expires_after.seconds",
     "integer_below_min_value",
     "Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= 3600, but got -5 instead."),
    ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "2592001"}, "expires_after.seconds",
     "integer_above_max_value", "Invalid 'expires_after.seconds': integer above maximum value. Expected a value "
     "<= 2592000, but got 2592001 instead."),
]


@pytest.mark.parametrize(("fields", "param", "code", "message"), UPLOAD_RULES,
                         ids=[f"{param}:{code}" for _, param, code, _ in UPLOAD_RULES])
def test_upload_rules_answer_as_the_live_api(fields: dict, param: str, code: str, message: str) -> None:
    client = Emulator().openai_client()
    form = {"purpose": "batch", **fields}
    with pytest.raises(openai.BadRequestError) as error:
        client.post("/files", body=form, files=[("file", ("in.jsonl", lines([GOOD])))], cast_to=object,
                    options={"headers": {"Content-Type": "multipart/form-data"}})
    assert envelope(error.value) == {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                               "code": code}}


@pytest.mark.parametrize(("path", "query", "code", "message"), [
    ("/batches", {"limit": "0"}, "integer_below_min_value",
     "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    ("/batches", {"limit": "101"}, "integer_above_max_value",
     "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead."),
    ("/batches", {"limit": "ten"}, "invalid_type", "Invalid type for 'limit': expected an integer, but got a string "
     "instead."),
    ("/files", {"limit": "10001"}, "integer_above_max_value",
     "Invalid 'limit': integer above maximum value. Expected a value <= 10000, but got 10001 instead."),
    ("/files", {"order": "sideways"}, "invalid_value", "Invalid value: 'sideways'. Supported values are: 'asc', and "
     "'desc'."),
], ids=["batches limit 0", "batches limit 101", "batches limit ten", "files limit 10001", "files order"])
def test_list_query_rules_answer_as_the_live_api(path: str, query: dict, code: str, message: str) -> None:
    client = Emulator().openai_client()
    with pytest.raises(openai.BadRequestError) as error:
        client.get(path, options={"params": query}, cast_to=object)
    param = next(iter(query))
    assert envelope(error.value) == {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                               "code": code}}


# ---------------------------------------------------------------------------- per-row errors
CHAT_ROW_RULES = [
    ({"messages": "hi"}, "messages", "invalid_type",
     "Invalid type for 'messages': expected an array of objects, but got a string instead."),
    ({"messages": [1, None]}, "messages[0]", "invalid_type",
     "Invalid type for 'messages[0]': expected an object, but got an integer instead."),
    ({"messages": []}, "messages", "empty_array",
     "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."),
    ({"messages": None}, "messages", "missing_required_parameter", "Missing required parameter: 'messages'."),
    ({"messages": [{"content": "hi"}]}, "messages[0].role", "missing_required_parameter",
     "Missing required parameter: 'messages[0].role'."),
    ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role", "invalid_value",
     "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and "
     "'developer'."),
    ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content", "invalid_type",
     "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer "
     "instead."),
    ({"prompt_typo": 1}, None, None, "Unrecognized request argument supplied: prompt_typo"),
    ({"max_tokens": "10"}, "max_tokens", "invalid_type",
     "Invalid type for 'max_tokens': expected an integer, but got a string instead."),
    ({"temperature": 5}, "temperature", "decimal_above_max_value",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5.0 instead."),
    ({"n": 0}, "n", "integer_below_min_value",
     "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."),
]


def _bad_body(change: dict) -> dict:
    body = {**GOOD, **change}
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(("change", "param", "code", "message"), CHAT_ROW_RULES,
                         ids=[m[:60] for *_, m in CHAT_ROW_RULES])
def test_a_bad_chat_line_is_a_400_row_and_the_batch_completes(change: dict, param: str | None, code: str | None,
                                                               message: str) -> None:
    client = Emulator(expectations=seed_expectations()).openai_client()
    batch = client.batches.retrieve(submit(client, lines([GOOD, _bad_body(change), GOOD])).id)
    assert batch.status == "completed"
    assert batch.request_counts.model_dump() == {"total": 3, "completed": 2, "failed": 1}
    assert sorted(row["custom_id"] for row in rows(client, batch.output_file_id)) == ["request-1", "request-3"]
    [row] = rows(client, batch.error_file_id)
    # the live row: {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}
    # (wire-formats.md A.5 shape 1; OpenRouter live captures)
    assert set(row) == {"id", "custom_id", "response", "error"} and row["error"] is None
    assert row["id"].startswith("batch_req_") and row["custom_id"] == "request-2"
    assert set(row["response"]) == {"status_code", "request_id", "body"} and row["response"]["status_code"] == 400
    assert row["response"]["body"] == {"error": {"message": message, "type": "invalid_request_error",
                                                 "param": param, "code": code}}


@pytest.mark.parametrize(("change", "param", "code", "message"), [
    ({"temprature": 1}, "temprature", "unknown_parameter", "Unknown parameter: 'temprature'."),
    ({"max_output_tokens": 8}, "max_output_tokens", "integer_below_min_value",
     "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 8 instead."),
])
def test_a_bad_responses_line_is_a_400_row(change: dict, param: str, code: str, message: str) -> None:
    client = Emulator(expectations=seed_expectations()).openai_client()
    good = {"model": "gpt-4o-mini", "input": SEED_PROMPTS[0]}
    batch = client.batches.retrieve(submit(client, lines([good, {**good, **change}], "/v1/responses"),
                                           endpoint="/v1/responses").id)
    assert batch.status == "completed" and batch.request_counts.failed == 1
    [row] = rows(client, batch.error_file_id)
    assert row["custom_id"] == "request-2" and row["response"]["status_code"] == 400
    assert row["response"]["body"]["error"] == {"message": message, "type": "invalid_request_error", "param": param,
                                                "code": code}


def test_azure_applies_the_same_rules_in_its_envelope() -> None:
    # Azure OpenAI fronts the same validator: its answers quote the same sentences ("AzureException -
    # Unrecognized request argument supplied: output_config", litellm; LibreChat#3111 "Invalid type
    # for 'messages[0].content': ..."), in Azure's {"error": {"code", "message", "param"}} envelope.
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.azure_client()
    file_id = client.files.create(file=("b.jsonl", lines([GOOD], "/chat/completions")), purpose="batch").id
    with pytest.raises(openai.BadRequestError) as error:
        client.batches.create(input_file_id=file_id, endpoint="/chat/completions", completion_window="24h",
                              extra_body={"foo": 1})
    assert envelope(error.value)["error"]["message"] == "Unrecognized request argument supplied: foo"
    content = lines([GOOD, {**GOOD, "messages": "hi"}], "/chat/completions")
    batch = client.batches.create(input_file_id=client.files.create(file=("b.jsonl", content), purpose="batch").id,
                                  endpoint="/chat/completions", completion_window="24h")
    emulator.advance(batch_id=batch.id)
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts.failed == 1
    [row] = [r for r in rows(client, batch.error_file_id) if r]
    assert "id" not in row and row["custom_id"] == "request-2"  # Azure rows carry no id (docs/azure-batch.md)
    assert row["response"]["body"]["error"]["code"] == "invalid_type"


# ============================================================================ 2. shapes
#: Batch fields the live API leaves out, per state
NOT_YET_VALIDATED = {"model": "filled in after validation (wire-formats.md A.3)"}
NO_USAGE_YET = {"usage": "the sum of the successful rows, reported once the batch ends (OpenRouter live "
                         "captures: 'usage ... = sum of successful rows') [UNVERIFIED while running]"}


def _batch_states() -> dict[str, tuple[Batch, dict[str, str]]]:
    states: dict[str, tuple[Batch, dict[str, str]]] = {}
    emulator = Emulator(expectations=seed_expectations(), lifecycle="polls:4")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:2]))
    states["validating"] = batch, {**NOT_YET_VALIDATED, **NO_USAGE_YET}
    states["in_progress"] = client.batches.retrieve(batch.id), NO_USAGE_YET
    client.batches.retrieve(batch.id)
    states["finalizing"] = client.batches.retrieve(batch.id), NO_USAGE_YET
    states["completed"] = client.batches.retrieve(batch.id), {}
    cancelled = submit(client, openai_chat_lines(SEED_PROMPTS[:2]))
    states["cancelling"] = client.batches.cancel(cancelled.id), {**NOT_YET_VALIDATED, **NO_USAGE_YET}
    states["cancelled"] = client.batches.retrieve(cancelled.id), NOT_YET_VALIDATED
    emulator = Emulator(expectations=seed_expectations())
    emulator.faults.batch("validation_failure", message="Enqueued token limit reached.")
    client = emulator.openai_client()
    states["failed"] = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:2])).id), {
        **NOT_YET_VALIDATED, "usage": "a batch that failed validation ran no request [UNVERIFIED]"}
    emulator = Emulator(expectations=seed_expectations())
    emulator.faults.batch("expire", completed_fraction=0.5)
    client = emulator.openai_client()
    states["expired"] = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:4])).id), {}
    return states


def test_batch_objects_carry_every_declared_field_in_each_state() -> None:
    states = _batch_states()
    assert {name: batch.status for name, (batch, _) in states.items()} == {name: name for name in states}
    problems = {name: unexplained(batch, reasons) for name, (batch, reasons) in states.items()}
    assert problems == {name: [] for name in states}


def test_file_objects_carry_every_declared_field() -> None:
    client = Emulator().openai_client()
    uploaded = upload(client, lines([GOOD]))
    assert unexplained(uploaded, {}) == []
    assert unexplained(client.files.retrieve(uploaded.id), {}) == []
    assert unexplained(client.files.list().data[0], {}) == []
    assert unexplained(client.files.delete(uploaded.id), {}) == []


#: ChatCompletion fields the live API leaves out of a plain text answer
CHAT_NOT_SENT = {
    "choices[].message.audio": "only with audio output (modalities ['audio']): chat_completion_message.py",
    "choices[].message.function_call": "deprecated; only when the model calls a legacy function",
    "choices[].message.tool_calls": "only when the model calls a tool",
    "moderation": "only 'if moderated completions were requested' (chat_completion.py)",
    "metadata": "only when the request set metadata (sent in test_chat_completion_echoes_metadata)",
}


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o4-mini", "gpt-5-mini"])
def test_chat_completion_rows_carry_every_declared_field(model: str) -> None:
    client = Emulator(expectations=seed_expectations()).openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:1], model=model)).id)
    [row] = rows(client, batch.output_file_id)
    completion = ChatCompletion.model_validate(row["response"]["body"])
    assert unexplained(completion, CHAT_NOT_SENT) == []
    assert completion.model.startswith(model + "-20")  # the dated snapshot, as the live answers name it
    assert batch.model == completion.model
    reasoning = completion.usage.completion_tokens_details.reasoning_tokens
    assert (reasoning > 0) == (model != "gpt-4o-mini")
    assert completion.usage.completion_tokens == completion.usage.completion_tokens_details.text_tokens + reasoning
    assert batch.usage.output_tokens_details.reasoning_tokens == reasoning
    assert completion.service_tier == "default" and completion.system_fingerprint
    assert completion.choices[0].message.refusal is None and completion.choices[0].message.annotations == []


def test_chat_completion_echoes_metadata() -> None:
    client = Emulator(expectations=seed_expectations()).openai_client()
    batch = client.batches.retrieve(submit(client, lines([{**GOOD, "metadata": {"run": "7"}}])).id)
    completion = ChatCompletion.model_validate(rows(client, batch.output_file_id)[0]["response"]["body"])
    assert completion.metadata == {"run": "7"}
    assert unexplained(completion, {k: v for k, v in CHAT_NOT_SENT.items() if k != "metadata"}) == []


#: Response fields the live API leaves out of a plain text answer (types/responses/response.py)
RESPONSE_NOT_SENT = {
    "access_programs": "undocumented in the SDK type; not in the reference's example response",
    "image": "undocumented in the SDK type; not in the reference's example response",
    "conversation": "only for a response in a conversation ('The conversation that this response belonged to')",
    "prompt": "only with a prompt template ('Reference to a prompt template')",
    "moderation": "only 'if moderated completions were requested'",
    "prompt_cache_diagnostics": "only when 'requested for this response'",
    "prompt_cache_options": "'Supported for gpt-5.6 and later models'",
    "tool_usage": "'can be omitted when tool usage is unavailable': no hosted tools here",
    "input_transformations": "only when reasoning inputs were withheld",
    "reasoning.context": "a request control, for the gpt-5.6 family",
    "reasoning.mode": "the execution mode of 'pro' models",
    "reasoning.generate_summary": "deprecated, replaced by summary",
    "output[].phase": "'For models like gpt-5.3-codex and beyond'",
    "usage.input_tokens_details.cache_write_tokens_details": "only when tokens were written to the cache",
}
#: and a reasoning item's (types/responses/response_reasoning_item.py)
REASONING_ITEM_NOT_SENT = {
    "output[].content": "reasoning text is not returned by o-series models",
    "output[].encrypted_content": "only with include=['reasoning.encrypted_content']",
    "output[].status": "reasoning items carry none (the reference's example: id, type, summary)",
}


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "o4-mini"])
def test_response_rows_carry_every_declared_field(model: str) -> None:
    Response = pytest.importorskip("openai.types.responses").Response  # noqa: N806 - openai >= 1.66
    client = Emulator(expectations=seed_expectations()).openai_client()
    body = {"model": model, "input": SEED_PROMPTS[0]}
    batch = client.batches.retrieve(submit(client, lines([body], "/v1/responses"), endpoint="/v1/responses").id)
    response = Response.model_validate(rows(client, batch.output_file_id)[0]["response"]["body"])
    reasons = {**RESPONSE_NOT_SENT, **(REASONING_ITEM_NOT_SENT if model == "o4-mini" else {})}
    assert unexplained(response, reasons) == []
    assert (response.usage.output_tokens_details.reasoning_tokens > 0) == (model == "o4-mini")
    assert response.completed_at is not None and response.text.verbosity == "medium"


def test_error_and_not_run_rows_have_the_live_shapes() -> None:
    emulator = Emulator(expectations=seed_expectations())
    emulator.faults.batch("expire", completed_fraction=0.5)
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:4])).id)
    for row in rows(client, batch.error_file_id):
        # wire-formats.md A.5 shape 2: {"id", "custom_id", "response": null, "error": {"code", "message"}}
        assert set(row) == {"id", "custom_id", "response", "error"} and row["response"] is None
        assert set(row["error"]) == {"code", "message"} and row["error"]["code"] == "batch_expired"


# ============================================================================ 5. recorded objects
#: real OpenAI objects, one per recorded state (sources in the file's "_about" and each "_source")
RECORDED = json.loads((Path(__file__).parent / "fixtures" / "recorded_openai.json").read_text(encoding="utf-8"))
#: keys the API added after the recordings (2025-01/04), each sent today
NEWER = {
    "upload_2025_01": {"expires_at"},  # set for purpose=batch files since 2025 (wire-formats.md A.1)
    "batch_completed": {"model", "usage"},  # model after validation; usage on batches since 2025-09-07 (A.3)
    "batch_in_progress": {"model"},
    "batch_finalizing": {"model"},
    # openai 3.57 types/chat/chat_completion_message.py and types/completion_usage.py
    "output_line": {"response.body.choices[].message.annotations",
                    "response.body.usage.completion_tokens_details.text_tokens",
                    *(f"response.body.usage.prompt_tokens_details.{k}"
                      for k in ("text_tokens", "image_tokens", "cache_write_tokens"))},
}
#: null for the recording's gpt-3.5-turbo, a string for current models (wire-formats.md D.1)
NULLABLE = {"output_line": {"response.body.system_fingerprint"}}


def key_paths(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for key, item in value.items() for p in {f"{path}.{key}".lstrip(".")}
                | key_paths(item, f"{path}.{key}".lstrip("."))}
    if isinstance(value, list):
        return {p for item in value for p in key_paths(item, f"{path}[]")}
    return set()


def _emulated_in_recorded_states() -> dict[str, Any]:
    emulator = Emulator(expectations=seed_expectations(), lifecycle="polls:4")
    client = emulator.openai_client()
    content = openai_chat_lines(SEED_PROMPTS[:3], model="gpt-3.5-turbo", schema=None)
    raw = client.files.with_raw_response.create(file=("upload", content), purpose="batch")
    uploaded = json.loads(raw.text)
    objects = {"upload_2025_01": uploaded, "upload_2025_04": uploaded,
               "file_retrieved_2025_04": json.loads(client.files.with_raw_response.retrieve(uploaded["id"]).text)}

    def create() -> dict:
        return json.loads(client.batches.with_raw_response.create(
            input_file_id=uploaded["id"], endpoint="/v1/chat/completions", completion_window="24h",
            metadata={"request_file": "requests_0.jsonl"}).text)

    def retrieve(batch_id: str) -> dict:
        return json.loads(client.batches.with_raw_response.retrieve(batch_id).text)

    batch = objects["batch_validating"] = create()
    objects["batch_in_progress"] = retrieve(batch["id"])
    retrieve(batch["id"])
    objects["batch_finalizing"] = retrieve(batch["id"])
    objects["batch_completed"] = done = retrieve(batch["id"])
    objects["output_line"] = rows(client, done["output_file_id"])[0]
    objects["batch_cancelling"] = json.loads(client.batches.with_raw_response.cancel(create()["id"]).text)
    return objects


def test_every_recorded_openai_object_is_checked() -> None:
    assert set(RECORDED) - {"_about"} == set(_emulated_in_recorded_states())


@pytest.mark.parametrize("name", [name for name in RECORDED if name != "_about"])
def test_emulated_objects_carry_every_key_path_of_the_recorded_ones(name: str) -> None:
    from .test_recorded_shapes import shape_differences

    recorded = {k: v for k, v in RECORDED[name].items() if k != "_source"}
    emulated = _emulated_in_recorded_states()[name]
    assert emulated.get("status") == recorded.get("status")  # the same state
    assert key_paths(recorded) - key_paths(emulated) == set()  # 100% of the recorded key paths
    assert shape_differences(recorded, emulated, newer=frozenset(NEWER.get(name, ())),
                             nullable=frozenset(NULLABLE.get(name, ()))) == []
