"""Instructor's `batch create` input: a messages file whose every line is the conversation
itself (a JSON list of messages), --max-tokens and --temperature, and the dotted
``module.Class`` spelling of --response-model."""

from __future__ import annotations

import json

import pytest

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-3-5-sonnet-20241022", "google/gemini-2.0-flash-001"]

#: the user's own model, nested, in a module of the working directory
INVOICES = '''
from pydantic import BaseModel


class Line(BaseModel):
    item: str
    quantity: int


class Invoice(BaseModel):
    number: str
    lines: list[Line]
'''

CONVERSATIONS = [
    [{"role": "system", "content": "Extract the invoice."},
     {"role": "user", "content": "Invoice A-1: 3 bolts, 2 nuts."}],
    [{"role": "system", "content": "Extract the invoice."},
     {"role": "user", "content": "Invoice B-7: 1 hammer."}],
]
ANSWERS = [
    {"match": "A-1", "response": {"number": "A-1", "lines": [{"item": "bolt", "quantity": 3},
                                                          {"item": "nut", "quantity": 2}]}},
    {"match": "B-7", "response": {"number": "B-7", "lines": [{"item": "hammer", "quantity": 1}]}},
]


@pytest.fixture
def instructor_files(cli):
    (cli.cwd / "invoices.py").write_text(INVOICES, encoding="utf-8")
    (cli.cwd / "messages.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS), encoding="utf-8")
    (cli.cwd / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in ANSWERS), encoding="utf-8")
    return cli


def _sent(model: str, line: dict) -> tuple[list, int | None, float | None]:
    """(the messages, max tokens, temperature) one request line carries, whatever its provider."""
    if model.startswith("openai"):
        body = line["body"]
        return body["messages"], body.get("max_completion_tokens"), body.get("temperature")
    if model.startswith("anthropic"):
        params = line["params"]
        return ([{"role": "system", "content": params["system"]}, *params["messages"]], params["max_tokens"],
                params.get("temperature"))
    request = line["request"]
    config = request["generationConfig"]
    messages = [{"role": "system", "content": request["systemInstruction"]["parts"][0]["text"]},
                *({"role": "user", "content": c["parts"][0]["text"]} for c in request["contents"])]
    return messages, config.get("maxOutputTokens"), config.get("temperature")


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("model", MODELS)
def test_an_instructor_messages_file_builds_and_round_trips(instructor_files, model):
    cli = instructor_files
    built = cli("create", "--messages-file", "messages.jsonl", "--model", model, "--response-model",
                "invoices.Invoice", "--max-tokens", "300", "--temperature", "0.2", "--output-file", "requests.jsonl")
    assert built.code == 0, built
    lines = [json.loads(line) for line in (cli.cwd / "requests.jsonl").read_text().splitlines()]
    assert [_sent(model, line) for line in lines] == [(c, 300, 0.2) for c in CONVERSATIONS]

    sim = ("--model", model, "--simulate", "--state-dir", "state", "--lifecycle", "immediate",
           "--responses", "answers.jsonl")
    created = cli("create", "--messages-file", "messages.jsonl", "--response-model", "invoices:Invoice",
                  "--max-tokens", "300", "--temperature", "0.2", *sim, "--json")
    assert created.code == 0, created
    batch_id = created.json()["id"]
    results = cli("results", "--batch-id", batch_id, *sim, "--output-file", "out.jsonl",
                  "--response-model", "invoices.Invoice")
    assert results.code == 0, results
    rows = [json.loads(line) for line in (cli.cwd / "out.jsonl").read_text().splitlines()]
    assert {row["custom_id"]: row["value"] for row in rows} == {
        "request-1": ANSWERS[0]["response"], "request-2": ANSWERS[1]["response"]}


def test_a_file_may_mix_every_form_and_a_bad_line_is_named(cli):
    from pytest_batch.cli.inputs import read_messages
    from pytest_batch.cli.target import CLIError

    path = cli.cwd / "mixed.jsonl"
    path.write_text('"a prompt"\n'
                    '[{"role": "user", "content": "a conversation"}]\n'
                    '{"prompt": "an object", "custom_id": "x"}\n'
                    '{"messages": [{"role": "user", "content": "messages"}]}\n', encoding="utf-8")
    parsed = read_messages(path)
    assert parsed.requests == ["a prompt", [{"role": "user", "content": "a conversation"}], "an object",
                               [{"role": "user", "content": "messages"}]]
    assert parsed.custom_ids == ["request-1", "request-2", "x", "request-4"]

    path.write_text('[{"role": "user", "content": "fine"}]\n[]\n', encoding="utf-8")
    with pytest.raises(CLIError, match=r'mixed.jsonl line 2: the line must be a non-empty list of \{"role", '):
        read_messages(path)
    path.write_text('[{"role": "user", "content": "fine"}]\n\n[{"role": "robot", "content": "x"}]\n', encoding="utf-8")
    with pytest.raises(CLIError, match="mixed.jsonl line 3: message 1: \"role\" must be one of"):
        read_messages(path)
    path.write_text('"fine"\n42\n', encoding="utf-8")
    with pytest.raises(CLIError, match=r'mixed.jsonl line 2: expected a string, .* or a list of \{"role", "content"\} '
                                       r"messages, got int"):
        read_messages(path)


@pytest.mark.parametrize(("model", "flags", "message"), [
    ("openai/gpt-4o-mini", ("--temperature", "3"), "argument --temperature: must be from 0 to 2, got '3'"),
    ("openai/gpt-4o-mini", ("--temperature", "warm"), "argument --temperature: expected a number from 0 to 2"),
    ("openai/gpt-4o-mini", ("--max-tokens", "0"), "argument --max-tokens: must be more than 0, got '0'"),
    ("anthropic/claude-3-5-sonnet-20241022", ("--temperature", "1.5"), "--temperature 1.5: Anthropic accepts 0 to 1"),
])
def test_bad_generation_flags_are_one_line_usage_errors(instructor_files, model, flags, message):
    result = instructor_files("create", "--messages-file", "messages.jsonl", "--model", model, *flags,
                              "--output-file", "requests.jsonl")
    assert result.code == 2, result
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result
    assert not (instructor_files.cwd / "requests.jsonl").exists()
