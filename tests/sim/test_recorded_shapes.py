"""The emulator's objects against real ones: every key of a recorded object comes back with
the same JSON type (ids, times and texts may differ). The recorded objects live in
fixtures/recorded_shapes.json (sources in its "_about"); keys the emulator adds beyond a
recording are listed per object, each with the reason the API has it now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2

from pytest_batch.seed import SEED_PROMPTS, seed_expectations
from pytest_batch.sim import Emulator

from .conftest import openai_chat_lines

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "recorded_shapes.json").read_text(encoding="utf-8"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape_differences(recorded: Any, emulated: Any, *, newer: frozenset[str] = frozenset(),
                      nullable: frozenset[str] = frozenset()) -> list[str]:
    """Where ``emulated`` does not look like ``recorded``: a missing key, a key the recording
    lacks (unless its path is in ``newer``), or another JSON type (null allowed on either side
    for paths in ``nullable``). List items are checked against the first recorded item. A
    ``newer`` path the emulator does not send is reported too, so the allowances stay honest."""
    used: set[str] = set()
    problems = _walk(recorded, emulated, newer, nullable, "", used)
    return problems + [f"{key}: listed as newer, not emulated" for key in sorted(newer - used)]


def _walk(recorded: Any, emulated: Any, newer: frozenset[str], nullable: frozenset[str], path: str,
          used: set[str]) -> list[str]:
    kinds = _json_type(recorded), _json_type(emulated)
    if kinds[0] != kinds[1]:
        if path in nullable and "null" in kinds:
            return []
        return [f"{path or 'the object'}: recorded {kinds[0]}, emulated {kinds[1]}"]
    problems: list[str] = []
    if isinstance(recorded, dict):
        for key in emulated.keys() | recorded.keys():
            where = f"{path}.{key}".lstrip(".")
            if key not in emulated:
                problems.append(f"{where}: recorded, not emulated")
            elif key not in recorded:
                if where in newer:
                    used.add(where)
                else:
                    problems.append(f"{where}: emulated, not in the recording")
            else:
                problems += _walk(recorded[key], emulated[key], newer, nullable, where, used)
    elif isinstance(recorded, list) and recorded:
        for item in emulated:
            problems += _walk(recorded[0], item, newer, nullable, f"{path}[]", used)
    return problems


def test_shape_differences_sees_missing_extra_and_retyped_keys() -> None:
    assert shape_differences({"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": "y"}}) == []
    assert sorted(shape_differences({"a": 1, "b": [{"c": None}]}, {"a": "1", "b": [{"c": None, "d": 0}], "e": 1})) \
        == ["a: recorded number, emulated string", "b[].d: emulated, not in the recording",
            "e: emulated, not in the recording"]
    assert shape_differences({"a": 1}, {"a": 1}, newer=frozenset({"b"})) == ["b: listed as newer, not emulated"]


def _openai_objects() -> tuple[dict, dict, dict]:
    client = Emulator(expectations=seed_expectations()).openai_client()
    upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:2], schema=None)),
                                 purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"request_file": "requests_0.jsonl"})
    done = json.loads(client.batches.with_raw_response.retrieve(batch.id).text)
    line = json.loads(client.files.content(done["output_file_id"]).text.splitlines()[0])
    return json.loads(client.files.with_raw_response.retrieve(upload.id).text), done, line


def test_openai_file_batch_and_output_line_look_like_the_recording() -> None:
    file, batch, line = _openai_objects()
    # expires_at: set for purpose=batch files since the recording (wire-formats.md A.1).
    assert shape_differences(RECORDED["openai_file"], file, newer=frozenset({"expires_at"})) == []
    # model: filled in after validation; usage: on batches created after 2025-09-07 (A.3).
    assert shape_differences(RECORDED["openai_batch_completed"], batch, newer=frozenset({"model", "usage"})) == []
    # annotations: on every chat.completion message since 2025 (openai types/chat/chat_completion_message.py);
    # system_fingerprint: null for the recording's gpt-3.5-turbo, a string for current models (D.1 example).
    # usage.*_details.text_tokens/image_tokens/cache_write_tokens: declared since the recording
    # (openai 3.57 types/completion_usage.py).
    usage = "response.body.usage."
    newer_usage = {usage + "prompt_tokens_details." + k for k in ("text_tokens", "image_tokens", "cache_write_tokens")}
    assert shape_differences(RECORDED["openai_output_line"], line,
                             newer=frozenset({"response.body.choices[].message.annotations",
                                              usage + "completion_tokens_details.text_tokens", *newer_usage}),
                             nullable=frozenset({"response.body.system_fingerprint"})) == []


def test_anthropic_batch_and_result_row_look_like_the_recording() -> None:
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.anthropic_client()
    params = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 64,
              "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}
    batch = client.messages.batches.create(requests=[{"custom_id": "0", "params": params}])
    ended = client.messages.batches.with_raw_response.retrieve(batch.id).http_response.json()
    with client.messages.batches.with_streaming_response.results(batch.id) as response:
        row = json.loads(b"".join(response.iter_bytes()).splitlines()[0])
    assert shape_differences(RECORDED["anthropic_batch_ended"], ended) == []
    # usage gained cache_creation, service_tier ("batch") and inference_geo since the recording
    # (OpenRouter live captures 2026-09, realdata/openrouter_notes).
    extra_usage = {f"result.message.usage.{k}" for k in ("cache_creation", "service_tier", "inference_geo")}
    assert shape_differences(RECORDED["anthropic_result_succeeded"], row, newer=frozenset(extra_usage)) == []


def test_gemini_operation_looks_like_the_recording() -> None:
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.google_client()
    job = client.batches.create(model="gemini-2.5-flash-lite", src=[{"contents": SEED_PROMPTS[0]}],
                                config={"display_name": "capitals-batch"})
    with httpx2.Client(transport=emulator.transport(), base_url="https://generativelanguage.googleapis.com") as http:
        operation = http.get(f"/v1/{job.name}", headers={"x-goog-api-key": "k"}).json()
    # metadata.output repeats the inlined responses: the SDK reads BatchJob.dest from it
    # (wire-formats.md C.3, "How the SDK maps the Operation"); responseId as in C.4.
    # promptTokensDetails: in C.4's live capture; the langchain4j text blocks were trimmed (their
    # gemini-3 totalTokenCount counts 2359 thinking tokens that no thoughtsTokenCount names).
    newer = {"metadata.output",
             "response.inlinedResponses.inlinedResponses[].response.responseId",
             "response.inlinedResponses.inlinedResponses[].response.usageMetadata.promptTokensDetails"}
    assert shape_differences(RECORDED["gemini_operation_succeeded_inline"], operation,
                             newer=frozenset(newer)) == []


def _anthropic_rows(client: Any, batch_id: str) -> dict[str, dict]:
    """custom_id -> the result row as sent (plain JSON, not the SDK's parse)."""
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        rows = [json.loads(line) for line in b"".join(response.iter_bytes()).splitlines()]
    return {row["custom_id"]: row for row in rows}


def test_anthropic_batch_in_each_recorded_state_looks_like_the_recording() -> None:
    """create/poll (in_progress), cancel (canceling, with cancel_initiated_at) and the ended poll
    carry every key path of the curator recordings, with the same JSON types."""
    client = Emulator(expectations=seed_expectations()).anthropic_client()
    params = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 64,
              "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}
    requests = [{"custom_id": "0", "params": params}]
    created = client.messages.batches.with_raw_response.create(requests=requests).http_response.json()
    other = client.messages.batches.create(requests=requests)
    canceling = client.messages.batches.with_raw_response.cancel(other.id).http_response.json()
    ended = client.messages.batches.with_raw_response.retrieve(created["id"]).http_response.json()
    assert (created["processing_status"], canceling["processing_status"], ended["processing_status"]) == (
        "in_progress", "canceling", "ended")
    assert shape_differences(RECORDED["anthropic_batch_in_progress"], created) == []
    # cancel_initiated_at is a string once canceling (the recording), null before
    assert shape_differences(RECORDED["anthropic_batch_canceling"], canceling) == []
    assert shape_differences(RECORDED["anthropic_batch_ended"], ended) == []


def test_anthropic_thinking_result_looks_like_the_recording() -> None:
    """A request with extended thinking answers thinking then text, as the curator reasoning
    recording does; each block is compared with the recorded block of its type."""
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.anthropic_client()
    params = {"model": "claude-3-7-sonnet-20250219", "max_tokens": 16000,
              "thinking": {"type": "enabled", "budget_tokens": 14000},
              "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}
    batch = client.messages.batches.create(requests=[{"custom_id": "0", "params": params}])
    client.messages.batches.retrieve(batch.id)
    row = _anthropic_rows(client, batch.id)["0"]
    recorded = json.loads(json.dumps(RECORDED["anthropic_result_succeeded_thinking"]))
    recorded_blocks = {block["type"]: block for block in recorded["result"]["message"].pop("content")}
    blocks = row["result"]["message"].pop("content")
    assert [block["type"] for block in blocks] == list(recorded_blocks) == ["thinking", "text"]
    for block in blocks:
        assert shape_differences(recorded_blocks[block["type"]], block) == []
    extra_usage = {f"result.message.usage.{k}" for k in ("cache_creation", "service_tier", "inference_geo")}
    assert shape_differences(recorded, row, newer=frozenset(extra_usage)) == []


def test_anthropic_rows_look_like_the_live_captures() -> None:
    """Succeeded, errored and canceled rows against the OpenRouter live captures (2026-09): the
    succeeded row's usage has no key the emulator lacks or adds."""
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.anthropic_client()
    good = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "Say 1."}]}
    batch = client.messages.batches.create(requests=[
        {"custom_id": "ok", "params": good}, {"custom_id": "bad", "params": {**good, "max_tokens": 0}}])
    client.messages.batches.retrieve(batch.id)
    canceled = client.messages.batches.create(requests=[{"custom_id": "c", "params": good}])
    client.messages.batches.cancel(canceled.id)
    client.messages.batches.retrieve(canceled.id)
    rows = {**_anthropic_rows(client, batch.id), **_anthropic_rows(client, canceled.id)}
    assert shape_differences(RECORDED["anthropic_result_succeeded_live"], rows["ok"]) == []
    # request_id: null for a request refused before it ran (the capture's bad-model row)
    assert shape_differences(RECORDED["anthropic_result_errored_live"], rows["bad"]) == []
    assert rows["bad"]["result"]["error"]["request_id"] is None
    assert shape_differences(RECORDED["anthropic_result_canceled_live"], rows["c"]) == []


def _gemini_operation(emulator: Emulator, name: str) -> dict:
    with httpx2.Client(transport=emulator.transport(), base_url="https://generativelanguage.googleapis.com") as http:
        return http.get(f"/v1/{name}", headers={"x-goog-api-key": "k"}).json()


def test_gemini_pending_operation_looks_like_the_recording() -> None:
    emulator = Emulator(expectations=seed_expectations(), lifecycle="manual")
    job = emulator.google_client().batches.create(model="gemini-2.5-flash-lite",
                                                  src=[{"contents": p} for p in SEED_PROMPTS[:3]],
                                                  config={"display_name": "capitals-batch"})
    assert shape_differences(RECORDED["gemini_operation_pending"], _gemini_operation(emulator, job.name)) == []


def test_gemini_succeeded_operation_with_a_failed_request_looks_like_the_recording() -> None:
    """Item by item: the recording's second row is an error (google.rpc code 4), the others answers."""
    emulator = Emulator(expectations=seed_expectations())
    emulator.faults.request("request-2", "expired")
    job = emulator.google_client().batches.create(model="gemini-3-flash-preview",
                                                  src=[{"contents": p} for p in SEED_PROMPTS[:3]],
                                                  config={"display_name": "error-batch"})
    operation = _gemini_operation(emulator, job.name)
    recorded = json.loads(json.dumps(RECORDED["gemini_operation_succeeded_with_request_error"]))
    recorded_rows = recorded["response"]["inlinedResponses"].pop("inlinedResponses")
    rows = operation["response"]["inlinedResponses"].pop("inlinedResponses")
    operation["metadata"].pop("output")  # the SDK reads BatchJob.dest from it (C.3), as in the test above
    assert shape_differences(recorded, operation) == []
    assert len(rows) == len(recorded_rows) == 3
    # thoughtsTokenCount: gemini-3 thinks; the recording's totalTokenCount counts 2359 thinking tokens
    # (16109 - 13469 - 281) but the upstream authors trimmed the field, and promptTokensDetails with it (C.4).
    usage = "response.usageMetadata"
    newer = frozenset({"response.responseId", f"{usage}.promptTokensDetails", f"{usage}.thoughtsTokenCount"})
    for index, (recorded_row, row) in enumerate(zip(recorded_rows, rows, strict=True)):
        allowed = frozenset() if "error" in recorded_row else newer
        assert shape_differences(recorded_row, row, newer=allowed) == [], f"item {index}"
