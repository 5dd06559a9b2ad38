"""Building request lines: schemas, custom_ids, in-memory and file output, bad input."""

from __future__ import annotations

import datetime
import io
import json
import re
from typing import Literal, Optional

import pytest
from pydantic import BaseModel

from pytest_batch.errors import ConfigurationError, InputFileError, MissingAPIKeyError
from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import SEED_PROMPTS, User


class Address(BaseModel):
    city: str
    zip_code: Optional[str] = None


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str
    nickname: str | None = None
    age: int
    address: Address
    tags: list[str] = []


def test_no_slash_is_refused():
    with pytest.raises(ConfigurationError, match=r"Model must be in format 'provider/model-name'"):
        BatchProcessor("gpt-4o-mini", User)


def test_unknown_provider_names_the_supported_ones():
    with pytest.raises(ConfigurationError, match=r"Unsupported provider: xyz\. Supported providers: openai, "
                                                 r"anthropic, google"):
        BatchProcessor("xyz/some-model", User)


def test_provider_comes_from_the_prefix_not_the_model_name():
    # a model named like another provider's must not be guessed from its name
    assert BatchProcessor("anthropic/gpt-4o-mini", User).provider.name == "anthropic"
    assert BatchProcessor("openai/claude-3-haiku", User).provider.name == "openai"


@pytest.mark.parametrize(("model", "variables", "named"), [
    ("openai/gpt-4o-mini", ["OPENAI_API_KEY"], "OPENAI_API_KEY"),
    ("anthropic/claude-haiku-4-5", ["ANTHROPIC_API_KEY"], "ANTHROPIC_API_KEY"),
    ("google/gemini-2.5-flash", ["GOOGLE_API_KEY", "GEMINI_API_KEY"], "GOOGLE_API_KEY"),
])
def test_missing_key_fails_at_the_first_call_that_needs_it(monkeypatch, model, variables, named):
    for variable in variables:
        monkeypatch.delenv(variable, raising=False)
    bp = BatchProcessor(model, User)
    assert len(bp.build(list(SEED_PROMPTS))) == 10  # building needs no key
    with pytest.raises(MissingAPIKeyError, match=rf"^{named} environment variable is not set"):
        bp.submit(list(SEED_PROMPTS))


def test_key_never_appears_in_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    bp = BatchProcessor("openai/gpt-4o-mini", User)
    assert bp.client is not None
    assert "sk-secret" not in repr(bp)


def test_openai_schema_equals_the_sdk_conversion():
    from openai.lib._parsing._completions import type_to_response_format_param

    line = BatchProcessor("openai/gpt-4o-mini", Person).build(["Ann, 3, Paris"]).lines[0]
    assert line["url"] == "/v1/chat/completions" and line["method"] == "POST"
    assert line["body"]["response_format"] == type_to_response_format_param(Person)
    schema = line["body"]["response_format"]["json_schema"]["schema"]
    assert line["body"]["response_format"]["json_schema"]["strict"] is True
    # strict: every property required, optional ones nullable, no extra properties, nested too
    assert set(schema["required"]) == set(schema["properties"])
    assert {"type": "null"} in schema["properties"]["nickname"]["anyOf"]
    assert schema["additionalProperties"] is False
    nested = schema["$defs"]["Address"]
    assert nested["additionalProperties"] is False and set(nested["required"]) == {"city", "zip_code"}


def test_openai_responses_endpoint_uses_text_format():
    from openai.lib._parsing._responses import type_to_text_format_param

    line = BatchProcessor("openai/gpt-4o-mini", Person, endpoint="/v1/responses").build(["x"]).lines[0]
    assert line["url"] == "/v1/responses"
    assert line["body"]["text"] == {"format": type_to_text_format_param(Person)}
    assert line["body"]["input"] == [{"role": "user", "content": "x"}]


def test_anthropic_structured_outputs_and_tools_mode():
    from anthropic import transform_schema
    from anthropic.lib._parse._transform import to_json_output_format

    messages = [{"role": "system", "content": "Extract."}, {"role": "user", "content": "Ann"}]
    line = BatchProcessor("anthropic/claude-haiku-4-5", Person).build([messages]).lines[0]
    assert line["custom_id"] == "request-1"
    params = line["params"]
    assert params["output_config"] == {"format": to_json_output_format(Person)}
    assert params["system"] == "Extract." and params["messages"] == [{"role": "user", "content": "Ann"}]
    assert params["max_tokens"] >= 1
    tools = BatchProcessor("anthropic/claude-haiku-4-5", Person, mode="tools").build(["Ann"]).lines[0]["params"]
    assert tools["tool_choice"] == {"type": "tool", "name": "Person"}
    assert tools["tools"][0]["input_schema"] == transform_schema(Person)
    assert "output_config" not in tools


def test_gemini_json_schema_and_roles():
    messages = [{"role": "system", "content": "Extract."}, {"role": "user", "content": "Ann"},
                {"role": "assistant", "content": "{}"}, {"role": "user", "content": "again"}]
    line = BatchProcessor("google/gemini-2.5-flash", Person).build([messages]).lines[0]
    assert line["key"] == "request-1"
    request = line["request"]
    assert request["generationConfig"] == {"responseMimeType": "application/json",
                                           "responseJsonSchema": Person.model_json_schema()}
    assert request["systemInstruction"] == {"parts": [{"text": "Extract."}]}
    assert [c["role"] for c in request["contents"]] == ["user", "model", "user"]


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"])
def test_plain_text_without_a_response_model(model):
    line = json.dumps(BatchProcessor(model).build(["hello"]).lines[0])
    assert "json_schema" not in line and "responseJsonSchema" not in line and "output_config" not in line


def test_generated_custom_ids_are_stable_and_ordered():
    bp = BatchProcessor("openai/gpt-4o-mini", User)
    first = bp.build(list(SEED_PROMPTS))
    assert first.custom_ids == [f"request-{i}" for i in range(1, 11)]
    assert bp.build(list(SEED_PROMPTS)).to_bytes() == first.to_bytes()


def test_user_custom_ids_are_checked():
    bp = BatchProcessor("anthropic/claude-haiku-4-5", User)
    assert bp.build(["a", "b"], custom_ids=["user_1", "user-2"]).custom_ids == ["user_1", "user-2"]
    with pytest.raises(ConfigurationError, match=r"invalid custom_id 'has space' for anthropic: it must match "
                                                 r"\^\[a-zA-Z0-9_-\]\{1,64\}\$"):
        bp.build(["a"], custom_ids=["has space"])
    with pytest.raises(ConfigurationError, match="invalid custom_id"):
        bp.build(["a"], custom_ids=["x" * 65])
    with pytest.raises(ConfigurationError, match=r"duplicate custom_id 'dup'"):
        bp.build(["a", "b"], custom_ids=["dup", "dup"])
    with pytest.raises(ConfigurationError, match="got 1 custom_ids for 2 prompts"):
        bp.build(["a", "b"], custom_ids=["one"])
    # OpenAI documents no charset rule: spaces are accepted, duplicates are not
    openai_bp = BatchProcessor("openai/gpt-4o-mini", User)
    assert openai_bp.build(["a"], custom_ids=["has space"]).custom_ids == ["has space"]
    with pytest.raises(ConfigurationError, match="duplicate custom_id"):
        openai_bp.build(["a", "b"], custom_ids=["dup", "dup"])


def test_bad_messages_are_refused():
    bp = BatchProcessor("openai/gpt-4o-mini", User)
    with pytest.raises(ConfigurationError, match=r"prompt 2: each message needs a role"):
        bp.build(["ok", [{"role": "tool", "content": "x"}]])


def test_in_memory_build_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    requests = BatchProcessor("openai/gpt-4o-mini", User).build(list(SEED_PROMPTS))
    data = requests.to_bytes()
    assert isinstance(requests.to_bytesio(), io.BytesIO)
    assert [json.loads(line)["custom_id"] for line in data.splitlines()] == requests.custom_ids
    assert list(tmp_path.iterdir()) == []


def test_file_build_writes_exactly_one_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "requests.jsonl"
    requests = BatchProcessor("openai/gpt-4o-mini", User).build(list(SEED_PROMPTS), output=target)
    assert list(tmp_path.iterdir()) == [target]
    assert target.read_bytes() == requests.to_bytes()
    assert len(target.read_text().splitlines()) == 10


def test_malformed_jsonl_names_path_and_line_before_sending(tmp_path, emulator):
    path = tmp_path / "bad.jsonl"
    good = BatchProcessor("openai/gpt-4o-mini", User).build(["a", "b"]).to_bytes().splitlines()
    path.write_bytes(good[0] + b"\n{not json\n" + good[1] + b"\n")
    bp = BatchProcessor("openai/gpt-4o-mini", User, client=emulator.openai_client())
    with pytest.raises(InputFileError, match=rf"^{path} line 2: not valid JSON"):
        bp.submit(path)
    assert emulator.journal.calls() == []


def test_jsonl_with_duplicate_or_missing_ids_is_refused(tmp_path):
    bp = BatchProcessor("anthropic/claude-haiku-4-5", User)
    line = bp.build(["a"]).lines[0]
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(ConfigurationError, match=rf"{path} line 2: duplicate custom_id 'request-1'"):
        bp.submit(path)
    path.write_text(json.dumps({"params": {}}) + "\n")
    with pytest.raises(InputFileError, match=rf"{path} line 1: missing 'custom_id'"):
        bp.submit(path)


@pytest.mark.parametrize(("built_for", "submitted_to", "absent"), [
    ("anthropic", "openai", "method"), ("openai", "anthropic", "params"), ("openai", "google", "key"),
    ("google", "anthropic", "custom_id"),
])
def test_a_jsonl_built_for_another_provider_is_refused_before_sending(emulator, built_for, submitted_to, absent):
    from .conftest import MODELS, client_for

    data = BatchProcessor(MODELS[built_for], User).build(["a"]).to_bytes()
    bp = BatchProcessor(MODELS[submitted_to], User, client=client_for(emulator, submitted_to))
    with pytest.raises(InputFileError, match=rf"^<BytesIO> line 1: missing '{absent}', which every {submitted_to} "
                                             r"request line has \(was the file built for another provider\?\)"):
        bp.submit(io.BytesIO(data))
    assert emulator.journal.calls() == []


def test_max_tokens_reaches_every_provider():
    def body(model, **kwargs):
        return BatchProcessor(model, User, max_tokens=77, **kwargs).build(["x"]).lines[0]

    assert body("openai/gpt-4o-mini")["body"]["max_completion_tokens"] == 77
    assert body("openai/gpt-4o-mini", endpoint="/v1/responses")["body"]["max_output_tokens"] == 77
    assert body("anthropic/claude-haiku-4-5")["params"]["max_tokens"] == 77
    assert body("google/gemini-2.5-flash")["request"]["generationConfig"]["maxOutputTokens"] == 77


@pytest.mark.parametrize(("model", "options", "message"), [
    ("openai/gpt-4o-mini", {"mode": "tools"}, "mode='tools' is for anthropic; openai uses structured outputs"),
    ("google/gemini-2.5-flash", {"mode": "tools"}, "mode='tools' is for anthropic; google uses structured outputs"),
    ("anthropic/claude-haiku-4-5", {"mode": "tool"}, "mode must be 'structured' or 'tools', got 'tool'"),
    ("anthropic/claude-haiku-4-5", {"endpoint": "/v1/responses"},
     "endpoint= is for openai and azure; anthropic has one batch endpoint"),
    ("openai/gpt-4o-mini", {"endpoint": "/v1/embeddings"},
     "endpoint must be '/v1/chat/completions' (the default) or '/v1/responses', got '/v1/embeddings'"),
])
def test_options_a_provider_has_no_use_for_are_refused(model, options, message):
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        BatchProcessor(model, User, **options)


@pytest.mark.parametrize("response_model", [User(name="Alice", age=28), dict, "User"])
def test_a_response_model_that_is_not_a_pydantic_class_is_refused(response_model):
    with pytest.raises(ConfigurationError, match="response_model must be a pydantic model class"):
        BatchProcessor("anthropic/claude-haiku-4-5", response_model)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_async_client_given_to_the_sync_processor_is_refused_before_sending(emulator, provider):
    from pytest_batch.processor import AsyncBatchProcessor

    from .conftest import MODELS, client_for

    with pytest.raises(ConfigurationError, match="client= is an async .*: use AsyncBatchProcessor"):
        BatchProcessor(MODELS[provider], User, client=client_for(emulator, provider, async_client=True))
    with pytest.raises(ConfigurationError, match="client= is a synchronous .*: AsyncBatchProcessor needs "
                                                 f"{provider}.Async"):
        AsyncBatchProcessor(MODELS[provider], User, client=client_for(emulator, provider))
    assert emulator.journal.calls(provider) == []


def test_a_client_of_another_sdk_is_refused(emulator):
    with pytest.raises(ConfigurationError,
                       match=r"client= must be a client of the anthropic SDK \(anthropic.Anthropic\), got OpenAI"):
        BatchProcessor("anthropic/claude-haiku-4-5", User, client=emulator.openai_client())


def test_a_gemini_async_client_needs_the_async_processor(emulator):
    from pytest_batch.processor import AsyncBatchProcessor

    client = emulator.google_client()
    AsyncBatchProcessor("google/gemini-2.5-flash", User, client=client)  # a Client serves both, through .aio
    with pytest.raises(ConfigurationError, match="use AsyncBatchProcessor"):
        BatchProcessor("google/gemini-2.5-flash", User, client=client.aio)


def invoice_model() -> type[BaseModel]:
    """A nested invoice model, a new class each time (the anthropic SDK caches schemas by type)."""

    class LineItem(BaseModel):
        description: str
        quantity: int
        unit_price: float

    class Invoice(BaseModel):
        """An invoice."""

        number: str
        issued_on: datetime.date
        currency: Literal["EUR", "USD"]
        items: list[LineItem]
        billing_address: Address | None = None

    return Invoice


@pytest.mark.parametrize(("model", "options"), [
    ("openai/gpt-4o-mini", {}),
    ("openai/gpt-4o-mini", {"endpoint": "/v1/responses", "max_tokens": 50}),
    ("anthropic/claude-haiku-4-5", {"params": {"temperature": 0}}),
    ("anthropic/claude-haiku-4-5", {"mode": "tools"}),
    ("google/gemini-2.5-flash", {"max_tokens": 50}),
])
def test_the_schema_is_converted_once_per_build(monkeypatch, model, options):
    """Every SDK conversion (openai's strict schema, anthropic's output format and tool schema,
    pydantic's model_json_schema) goes through pydantic's GenerateJsonSchema.generate: counting
    its calls counts schema conversions. A build converts once, whatever its size, and each
    line is the line that prompt gets when built alone."""
    from pydantic.json_schema import GenerateJsonSchema

    calls = []
    generate = GenerateJsonSchema.generate

    def counting(self, *args, **kwargs):
        calls.append(1)
        return generate(self, *args, **kwargs)

    invoice = invoice_model()
    monkeypatch.setattr(GenerateJsonSchema, "generate", counting)
    prompts = [f"Invoice {i}: 3 x bolts at 0.20 EUR" for i in range(40)]
    prompts[7] = [{"role": "system", "content": "Extract the invoice."}, {"role": "user", "content": "Invoice 7"}]
    built = BatchProcessor(model, invoice, **options).build(prompts)
    assert len(calls) == 1
    alone = [BatchProcessor(model, invoice, **options).build([prompt], custom_ids=[custom_id]).to_bytes()
             for prompt, custom_id in zip(prompts, built.custom_ids, strict=True)]
    assert built.to_bytes() == b"".join(alone)
