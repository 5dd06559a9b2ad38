"""What a request gets back: expectations files, synthetic answers, lifecycles, transports."""

from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path
from typing import Literal, Optional

import httpx
import pytest
from pydantic import BaseModel, Field, HttpUrl

from pytest_batch.sim import Emulator, Lifecycle
from pytest_batch.sim.lifecycle import LifecycleError
from pytest_batch.sim.responders import (
    BatchItem,
    ExpectationError,
    ItemRandom,
    Responder,
    SynthesisError,
    load_expectations,
    synthesize,
)

ROWS = [{"match": "Alice", "response": {"name": "Alice", "age": 28}},
        {"custom_id": "request-3", "response": "plain text"},
        {"regex": r"\bBob\b", "response": {"name": "Bob", "age": 35}, "outcome": "refusal"}]


def item(prompt: str, custom_id: str = "request-1", schema: dict | None = None) -> BatchItem:
    return BatchItem("openai", custom_id, 0, "gpt-4o-mini", prompt, schema)


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".yaml"])
def test_expectations_load_from_jsonl_json_and_yaml(tmp_path: Path, suffix: str) -> None:
    import yaml

    path = tmp_path / f"answers{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n\n" for row in ROWS))
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS))
    else:
        path.write_text(yaml.safe_dump(ROWS))
    responder = Responder()
    responder.load(path)
    assert responder(item("Hi, I'm Alice")).value == {"name": "Alice", "age": 28}
    assert responder(item("anything", "request-3")).value == "plain text"
    bob = responder(item("I'm Bob."))
    assert (bob.value, bob.outcome) == ({"name": "Bob", "age": 35}, "refusal")


def test_first_matching_expectation_wins() -> None:
    responder = Responder()
    responder.load([{"match": "Alice", "response": 1}, {"match": "Alice", "response": 2}])
    assert responder(item("Alice")).value == 1


@pytest.mark.parametrize(("text", "message"), [
    ('{"match": "a", "response": 1}\n{"match": "b", "response": \n', "line 2: not valid JSON"),
    ('{"match": "a", "answer": 1}\n', "line 1: unknown key(s) ['answer']"),
    ('{"response": 1}\n', "line 1: an expectation needs one of 'custom_id', 'match' or 'regex'"),
    ('{"regex": "(", "response": 1}\n', "line 1: missing ), unterminated subpattern"),
    ('{"match": "a", "response": 1, "outcome": "boom"}\n', "line 1: unknown outcome 'boom'"),
    ('["not an object"]', "item 1: each expectation must be an object"),
])
def test_a_bad_expectations_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text(text)
    with pytest.raises(ExpectationError) as info:
        load_expectations(path)
    assert str(path) in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("- match: 12345\n  response: {name: A}\n", "item 1: 'match' must be a string (text the prompt contains); "
                                                 "quote numbers in YAML: match: \"12345\", got int 12345"),
    ("- match: a\n  response: 1\n- match: [a]\n  response: {}\n", "item 2: 'match' must be a string"),
    ("- custom_id: 7\n  response: {}\n", "item 1: 'custom_id' must be a string"),
    ("- regex: {a: 1}\n  response: {}\n", "item 1: 'regex' must be a string"),
    ("- match: a\n  response: {}\n  status: '500'\n", "item 1: 'status' must be an integer HTTP status"),
    ("- match: a\n  response: {}\n  outcome: [ok]\n", "item 1: 'outcome' must be one of ok, http_error"),
    ("- match: a\n", "item 1: 'response' is missing"),
    ("match: a\nresponse: {}\n", "expected a list of expectation objects"),
])
def test_a_wrongly_typed_expectation_is_refused_at_load_naming_entry_and_field(tmp_path: Path, text: str,
                                                                               message: str) -> None:
    """``- match: 12345`` (an unquoted number) used to load and then break every later read with a
    500 once a prompt fell through to it: it is refused when the file is read."""
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    with pytest.raises(ExpectationError) as info:
        load_expectations(path)
    assert f"{path} " in str(info.value) or f"{path}:" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(("where", "message"), [
    ({"match": 1}, "'match' must be a string"),
    ({"match": "a", "status": True}, "'status' must be an integer"),
])
def test_expect_and_load_expectations_refuse_wrong_types_too(where: dict, message: str) -> None:
    emulator = Emulator()
    with pytest.raises(ExpectationError, match=message):
        emulator.expect({}, **where)
    with pytest.raises(ExpectationError, match=f"item 2: {message}"):
        emulator.load_expectations([{"match": "ok", "response": 1}, {"response": {}, **where}])
    assert emulator.responder.expectations == []  # nothing of a refused list is kept


def test_an_expectation_without_response_is_refused_unless_its_outcome_needs_none() -> None:
    responder = Responder()
    with pytest.raises(ExpectationError, match="'response' is missing"):
        responder.expect(match="a")
    responder.load([{"match": "a", "outcome": "http_error", "status": 500}, {"match": "b", "response": None}])
    assert responder(item("a")).outcome == "http_error"
    assert responder(item("b")).value is None


def test_a_missing_expectations_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ExpectationError, match="cannot read expectations file .*nope.jsonl"):
        load_expectations(tmp_path / "nope.jsonl")


class Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class Node(BaseModel):
    label: str
    children: list["Node"] = Field(max_length=2)


class Person(BaseModel):
    name: str
    born: datetime.date
    seen: datetime.datetime
    id: uuid.UUID
    site: HttpUrl
    age: int = Field(ge=18, le=99)
    score: float
    active: bool
    role: Literal["admin", "user"]
    nickname: Optional[str] = None
    tags: list[str] = Field(min_length=1, max_length=3)
    home: Address
    offices: list[Address]


def test_synthetic_objects_validate_against_pydantic_schemas() -> None:
    schema = Person.model_json_schema()
    for seed in range(50):
        Person.model_validate(synthesize(schema, ItemRandom(seed)))


def test_a_model_that_contains_itself_still_synthesizes() -> None:
    value = synthesize(Node.model_json_schema(), ItemRandom(4))
    assert isinstance(value["label"], str) and isinstance(value["children"], list)


def test_synthetic_objects_follow_openais_strict_and_geminis_uppercase_schemas() -> None:
    from openai.lib._pydantic import to_strict_json_schema

    for seed in range(20):
        Person.model_validate(synthesize(to_strict_json_schema(Person), ItemRandom(seed)))
    gemini = {"type": "OBJECT", "properties": {"name": {"type": "STRING"}, "age": {"type": "INTEGER"},
                                               "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                                               "ok": {"type": "BOOLEAN", "nullable": True}},
              "required": ["name", "age"]}
    value = synthesize(gemini, ItemRandom(1))
    assert isinstance(value["name"], str) and isinstance(value["age"], int) and isinstance(value["ok"], bool)


class Part(BaseModel):
    code: str = Field(pattern=r"^[A-Z]{3}-\d{4}$")
    delta: float = Field(gt=-10, lt=-1)
    floor: int = Field(le=-5)
    ratio: float = Field(gt=0, lt=0.001)
    slot: int = Field(gt=3, lt=5)
    even: int = Field(ge=1, le=9, multiple_of=2)


def test_synthetic_answers_honour_patterns_and_exclusive_or_negative_bounds() -> None:
    """Through the openai SDK: Part's strict schema as the response_format of 20 requests; every
    seeded answer must validate (no lower bound of 0 under a negative maximum, gt/lt exclusive)."""
    from openai.lib._pydantic import to_strict_json_schema

    from .conftest import openai_chat_lines

    emulator = Emulator(seed=5)
    client = emulator.openai_client()
    content = openai_chat_lines([f"Part number {i}" for i in range(20)], schema=to_strict_json_schema(Part))
    upload = client.files.create(file=("parts.jsonl", content), purpose="batch")
    batch = client.batches.retrieve(client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                          completion_window="24h").id)
    rows = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    parts = [Part.model_validate_json(row["response"]["body"]["choices"][0]["message"]["content"]) for row in rows]
    assert len(parts) == 20 and len({p.code for p in parts}) > 10  # drawn, not one constant


@pytest.mark.parametrize("pattern", [
    r"^[a-z]+@[a-z]+\.(com|org)$", r"(ab|cd)\1x?", r"[^\W\d_]{2,4}", r"^\s*\S+$", r"^[\u4e00-\u9fff]{2}$",
    r"^.{3}\d+?$", r"\bid-\w{3}\b", r"^(?:[A-F0-9]{2}:){2}[A-F0-9]{2}$", r"^(?i:abc)[^a-z]{0,2}$", r"x*y+",
])
def test_synthetic_strings_match_their_pattern(pattern: str) -> None:
    import re

    schema = {"type": "string", "pattern": pattern, "minLength": 1, "maxLength": 12}
    for seed in range(10):
        value = synthesize(schema, ItemRandom(seed))
        assert re.search(pattern, value) and 1 <= len(value) <= 12, value


@pytest.mark.parametrize(("schema", "message"), [
    ({"pattern": r"^(?=a)a$"}, "its pattern '^(?=a)a$' uses a lookahead or lookbehind"),
    ({"pattern": r"^\p{L}+$"}, r"is not a regular expression Python reads (bad escape \p"),
    ({"pattern": r"^a{20}$", "maxLength": 5}, "gives no string of length 0..5"),
])
def test_an_ungeneratable_string_fails_naming_the_field(schema: dict, message: str) -> None:
    model = {"type": "object", "title": "Part", "properties": {"code": {"type": "string", "title": "Code", **schema}}}
    with pytest.raises(SynthesisError) as info:
        synthesize(model, ItemRandom(1))
    assert "cannot synthesize Part.code" in str(info.value) and message in str(info.value)
    assert "expectation" in str(info.value)


def test_an_ungeneratable_schema_fails_its_request_with_a_clear_error_not_a_bad_answer() -> None:
    """The request fails alone (the batch, and every other client of the emulator, go on): its
    error row says which field could not be synthesized and how to answer it instead."""
    from .conftest import openai_chat_lines

    schema = {"type": "object", "title": "Part", "additionalProperties": False, "required": ["code"],
              "properties": {"code": {"type": "string", "pattern": r"^(?!x)\w+$"}}}
    client = Emulator().openai_client(max_retries=0)
    upload = client.files.create(file=("p.jsonl", openai_chat_lines(["p", "q"], schema=schema)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts.failed == 2
    rows = [json.loads(line) for line in client.files.content(batch.error_file_id).text.splitlines()]
    assert [row["response"]["status_code"] for row in rows] == [500, 500]
    message = rows[0]["response"]["body"]["error"]["message"]
    assert "cannot synthesize Part.code: its pattern" in message
    assert "emulator.expect(..., custom_id='request-1')" in message
    with pytest.raises(SynthesisError, match="no integer satisfies its bounds {minimum: 5, maximum: 1}"):
        synthesize({"type": "integer", "minimum": 5, "maximum": 1}, ItemRandom(0))


def test_synthetic_answers_depend_on_seed_and_request_only() -> None:
    schema = Person.model_json_schema()
    assert Responder(seed=1)(item("p", schema=schema)).value == Responder(seed=1)(item("p", schema=schema)).value
    assert Responder(seed=1)(item("p", schema=schema)).value != Responder(seed=2)(item("p", schema=schema)).value


@pytest.mark.parametrize(("spec", "reads", "elapsed", "progress"), [
    ("immediate", 0, 0, 0.0), ("immediate", 1, 0, 1.0), ("polls:4", 1, 0, 0.25), ("polls:4", 9, 0, 1.0),
    ("seconds:60", 5, 30, 0.5), ("seconds:60", 0, 600, 1.0), ("manual", 100, 10**6, 0.0),
])
def test_lifecycle_progress(spec: str, reads: int, elapsed: float, progress: float) -> None:
    assert Lifecycle.parse(spec).progress(reads, elapsed) == progress


@pytest.mark.parametrize(("spec", "message"), [
    ("sometimes", "unknown lifecycle 'sometimes'"), ("polls:x", "needs a number"), ("seconds:0", "above 0"),
    ("manual:3", "takes no argument"),
])
def test_bad_lifecycles_say_what_to_write(spec: str, message: str) -> None:
    with pytest.raises(LifecycleError, match=message):
        Lifecycle.parse(spec)


def test_the_emulator_serves_plain_httpx_for_older_sdks() -> None:
    """openai 2.x, anthropic <= 0.x and google-genai <= 2.x use httpx, not httpx2."""
    emulator = Emulator()
    with httpx.Client(transport=emulator.transport(module="httpx"), base_url="https://api.openai.com") as client:
        response = client.get("/v1/batches", headers={"authorization": "Bearer local"})
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_save_and_load_keep_batches_and_expectations(tmp_path: Path) -> None:
    emulator = Emulator()
    emulator.expect({"name": "Alice", "age": 28}, match="Alice")
    client = emulator.openai_client()
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": "Alice"}]}}
    upload = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    emulator.save(tmp_path / "state.pickle")
    restored = Emulator.load(tmp_path / "state.pickle").openai_client()
    done = restored.batches.retrieve(batch.id)
    row = json.loads(restored.files.content(done.output_file_id).text)
    assert json.loads(row["response"]["body"]["choices"][0]["message"]["content"]) == {"name": "Alice", "age": 28}
