"""A field the user's SDK declares is never refused as unknown, even when the emulator's written-out
field lists (sim/rules/) are older than that SDK: the live API the SDK was written for takes it.
Each test plays "a newer SDK" by removing from the emulator's list a field the installed SDK
declares; a field no SDK declares is still refused."""

from __future__ import annotations

import json

import pytest

from pytest_batch.seed import SEED_PROMPTS
from pytest_batch.sim import Emulator
from pytest_batch.sim.rules import anthropic as anthropic_rules
from pytest_batch.sim.rules import google as google_rules
from pytest_batch.sim.rules import openai as openai_rules
from pytest_batch.sim.rules import sdk_declared_fields

from .test_google import MODEL as GEMINI_MODEL
from .test_google import raw


def _chat_line(custom_id: str, **extra: object) -> str:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": SEED_PROMPTS[0]}], **extra}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def test_openai_takes_a_chat_field_only_the_installed_sdk_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "verbosity" in sdk_declared_fields("openai.types.chat.completion_create_params",
                                              "CompletionCreateParamsBase")
    monkeypatch.setattr(openai_rules, "CHAT_FIELDS", openai_rules.CHAT_FIELDS - {"verbosity"})
    client = Emulator().openai_client()
    lines = "\n".join([_chat_line("newer", verbosity="low"), _chat_line("made-up", verbosness="low")]) + "\n"
    upload = client.files.create(file=("in.jsonl", lines.encode()), purpose="batch")
    batch = client.batches.retrieve(client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                          completion_window="24h").id)
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    errors = [json.loads(line) for line in client.files.content(batch.error_file_id).text.splitlines()]
    assert [row["custom_id"] for row in errors] == ["made-up"]
    assert errors[0]["response"]["body"]["error"]["message"] == "Unrecognized request argument supplied: verbosness"


def test_anthropic_takes_a_param_only_the_installed_sdk_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "service_tier" in sdk_declared_fields("anthropic.types.message_create_params", "MessageCreateParamsBase")
    monkeypatch.setattr(anthropic_rules, "PARAMS_FIELDS", anthropic_rules.PARAMS_FIELDS - {"service_tier"})
    client = Emulator().anthropic_client()
    params = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    batch = client.messages.batches.create(requests=[
        {"custom_id": "newer", "params": {**params, "service_tier": "auto"}},
        {"custom_id": "made-up", "params": {**params, "service_tierz": "auto"}}])
    results = {row.custom_id: row.result for row in client.messages.batches.results(batch.id)}
    assert results["newer"].type == "succeeded"
    assert results["made-up"].type == "errored"
    assert results["made-up"].error.error.message == "service_tierz: Extra inputs are not permitted"


def test_gemini_takes_a_generation_config_field_only_the_installed_sdk_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "seed" in sdk_declared_fields("google.genai.types", "GenerationConfig")
    monkeypatch.delitem(google_rules.MESSAGES["GenerationConfig"], "seed")
    emulator = Emulator()

    def create(config: dict) -> object:
        request = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": config}
        body = {"batch": {"displayName": "d", "inputConfig": {"requests": {"requests": [{"request": request}]}}}}
        return raw(emulator, "POST", f"/v1beta/models/{GEMINI_MODEL}:batchGenerateContent", body=body)

    assert create({"seed": 7}).status_code == 200
    refused = create({"seedling": 7})
    assert refused.status_code == 400
    assert 'Unknown name "seedling"' in refused.json()["error"]["message"]
