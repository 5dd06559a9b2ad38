"""Gemini requests the live API refuses, refused the same way: status, envelope and message per
rule (sources in pytest_batch/sim/rules/google.py), and the per-request errors of a batch that
still succeeds."""

from __future__ import annotations

import json

import pytest
from google.genai import errors
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_batch.seed import seed_expectations
from pytest_batch.sim.core import Emulator
from pytest_batch.sim.rules import google as rules

from .test_google import MODEL, raw

CREATE = f"/v1/models/{MODEL}:batchGenerateContent"
ROW = "batch.input_config.requests.requests[0].request"
CONTENT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.Content"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(expectations=seed_expectations())


def inline_body(request: dict, **batch) -> dict:
    return {"batch": {"displayName": "d", **batch, "inputConfig": {"requests": {"requests": [{"request": request}]}}}}


HELLO = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

#: (body, the field violations the live API lists): message = their descriptions, one a line.
BODY_RULES = {
    "unknown top-level field": (
        {**inline_body(HELLO), "stream": True},
        [(None, 'Invalid JSON payload received. Unknown name "stream": Cannot find field.')]),
    "unknown field in the batch": (
        inline_body(HELLO, colour="red"),
        [("batch", 'Invalid JSON payload received. Unknown name "colour" at \'batch\': Cannot find field.')]),
    "unknown field in generationConfig (python-genai #1103)": (
        inline_body({**HELLO, "generationConfig": {"thinkingBudget": 0}}),
        [(f"{ROW}.generation_config", 'Invalid JSON payload received. Unknown name "thinkingBudget" at '
                                      f"'{ROW}.generation_config': Cannot find field.")]),
    "config field beside the request (python-genai #1451)": (
        {"batch": {"inputConfig": {"requests": {"requests": [{"request": HELLO, "safetySettings": []}]}}}},
        [("batch.input_config.requests.requests[0]",
          'Invalid JSON payload received. Unknown name "safetySettings" at '
          "'batch.input_config.requests.requests[0]': Cannot find field.")]),
    "contents as a string": (
        inline_body({"contents": "hi"}),
        [(f"{ROW}.contents", f"Invalid value at '{ROW}.contents' ({CONTENT_TYPE}), \"hi\"")]),
    "a list for a singular message": (
        inline_body({**HELLO, "systemInstruction": [{"parts": [{"text": "be terse"}]}]}),
        [(ROW, 'Invalid JSON payload received. Unknown name "systemInstruction" at '
               f"'{ROW}': Proto field is not repeating, cannot start list.")]),
    "a number for a string": (
        inline_body({"contents": [{"parts": [{"text": 7}]}]}),
        [(f"{ROW}.contents[0].parts[0].text", f"Invalid value at '{ROW}.contents[0].parts[0].text' (TYPE_STRING), 7")]),
    "an object for a string": (
        inline_body({"contents": [{"parts": [{"text": {"value": "hi"}}]}]}),
        [(f"{ROW}.contents[0].parts[0].text", f"Invalid value at '{ROW}.contents[0].parts[0]' (text), Starting an "
                                              "object on a scalar field")]),
    "a word for a number": (
        inline_body({**HELLO, "generation_config": {"temperature": "warm"}}),
        [(f"{ROW}.generation_config.temperature",
          f"Invalid value at '{ROW}.generation_config.temperature' (TYPE_FLOAT), \"warm\"")]),
    "every problem, one a line": (
        inline_body({"contents": "hi", "generationConfig": {"topK": 1.5}}),
        [(f"{ROW}.contents", f"Invalid value at '{ROW}.contents' ({CONTENT_TYPE}), \"hi\""),
         (f"{ROW}.generation_config.top_k", f"Invalid value at '{ROW}.generation_config.top_k' (TYPE_INT32), 1.5")]),
}


def _field_violations(expected: list[tuple[str | None, str]]) -> list[dict]:
    return [{"field": f, "description": d} if f else {"description": d} for f, d in expected]


@pytest.mark.parametrize("rule", BODY_RULES)
def test_a_create_body_the_front_end_cannot_read_is_a_400_with_field_violations(emulator, rule):
    body, expected = BODY_RULES[rule]
    response = raw(emulator, "POST", CREATE, body=body)
    assert response.status_code == 400
    assert response.json() == {"error": {
        "code": 400, "message": "\n".join(d for _, d in expected), "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                     "fieldViolations": _field_violations(expected)}]}}
    assert raw(emulator, "GET", "/v1/batches").json() == {}  # no batch made


def test_snake_case_and_camel_case_names_are_both_read(emulator):
    body = {"batch": {"display_name": "d", "input_config": {"requests": {"requests": [{"request": {
        "contents": [{"parts": [{"text": "hi"}]}], "generation_config": {"max_output_tokens": 5, "topK": "3"},
        "system_instruction": {"parts": [{"text": "x"}]}}, "metadata": {"key": "k"}}]}}}}
    assert raw(emulator, "POST", CREATE, body=body).status_code == 200


# ---------------------------------------------------------------------------- JSONL input files

def _upload(emulator: Emulator, content: bytes) -> str:
    import io

    return emulator.google_client().files.upload(file=io.BytesIO(content), config={"mime_type": "jsonl"}).name


LINE_RULES = {
    "no such field (inspect_ai #3257)": (
        '{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}], "thinking_config": {}}}',
        "invalid JSON, near column 69: no such field: 'thinking_config'"),
    "a list for a Content (inspect_ai #5100)": (
        '{"key": "a", "request": {"system_instruction": [{"text": "x"}], "contents": []}}',
        "invalid JSON, near column 48: unexpected character: '['; expected '{'"),
    "contents as a string": (
        '{"key": "a", "request": {"contents": "hi"}}',
        "invalid JSON, near column 38: unexpected character: '\"'; expected '['"),
    "not an object": ('["a"]', "invalid JSON, near column 1: unexpected character: '['; expected '{'"),
    "no request": ('{"key": "a"}',
                   'invalid JSON, near column 1: each line needs a "request" object (a GenerateContentRequest)'),
}


@pytest.mark.parametrize("rule", LINE_RULES)
def test_an_unreadable_input_line_fails_the_create_with_its_line_and_column(emulator, rule):
    line, reason = LINE_RULES[rule]
    good = json.dumps({"key": "ok", "request": {"contents": [{"parts": [{"text": "hi"}]}]}})
    name = _upload(emulator, f"{good}\n{line}\n{good}\n{line}\n".encode())
    response = raw(emulator, "POST", CREATE, body={"batch": {"inputConfig": {"fileName": name}}})
    assert response.status_code == 400
    assert response.json()["error"] == {"code": 400, "status": "INVALID_ARGUMENT", "details": [],
                                        "message": f"Error on line 2: {reason}\nError on line 4: {reason}"}
    assert raw(emulator, "GET", "/v1/batches").json() == {}


# ---------------------------------------------------------------------------- per-request errors

CONFIG = "* GenerateContentRequest.generation_config."
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}


def configured(**config) -> dict:
    return {**HELLO, "generationConfig": config}


REFUSED = {
    "no contents": ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
    "empty parts": ({"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "user", "parts": []}]},
                    "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.\n"),
    "unknown role": ({"contents": [{"role": "robot", "parts": [{"text": "a"}]}]},
                     "Please use a valid role: user, model."),
    "OpenAI's assistant role": ({"contents": [{"role": "user", "parts": [{"text": "a"}]},
                                              {"role": "assistant", "parts": [{"text": "b"}]}]},
                                "Please use a valid role: user, model."),
    "temperature above 2": (configured(temperature=9),
                            f"{CONFIG}temperature: temperature must be in the range [0.0, 2.0].\n"),
    "negative temperature": (configured(temperature=-0.5),
                             f"{CONFIG}temperature: temperature must be in the range [0.0, 2.0].\n"),
    "topP above 1": (configured(topP=5), f"{CONFIG}top_p: top_p must be in the range [0.0, 1.0].\n"),
    "candidateCount 9": (configured(candidateCount=9),
                         f"{CONFIG}candidate_count: candidate_count must be in the range [1, 8].\n"),
    "negative maxOutputTokens": (configured(maxOutputTokens=-3),
                                 f"{CONFIG}max_output_tokens: max_output_tokens must be positive.\n"),
    "every bad field at once, one line each": (
        configured(temperature=9, maxOutputTokens=-3),
        f"{CONFIG}temperature: temperature must be in the range [0.0, 2.0].\n"
        f"{CONFIG}max_output_tokens: max_output_tokens must be positive.\n"),
    "snake_case spelling": ({**HELLO, "generation_config": {"top_p": "1.5"}},
                            f"{CONFIG}top_p: top_p must be in the range [0.0, 1.0].\n"),
    "audio response mime type": (
        configured(responseMimeType="audio/wav"),
        f"{CONFIG}response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, "
        "`application/yaml` and `text/x.enum`.\n"),
    "responseJsonSchema without a JSON mime type": (
        configured(responseJsonSchema=SCHEMA),
        f"{CONFIG}response_mime_type: response_mime_type must be `application/json` when response_json_schema "
        "is set.\n"),
    "responseSchema with text/plain": (
        configured(responseMimeType="text/plain", responseSchema={"type": "OBJECT"}),
        f"{CONFIG}response_mime_type: response_mime_type must be `application/json` or `text/x.enum` when "
        "response_schema is set.\n"),
    "both schema fields": (
        configured(responseMimeType="application/json", responseSchema={"type": "OBJECT"},
                   responseJsonSchema=SCHEMA),
        f"{CONFIG}response_schema: response_schema must be omitted when response_json_schema is set.\n"),
    "thinking budget above 2.5 Flash's": (
        configured(thinkingConfig={"thinkingBudget": 30000}),
        "Unable to submit request because thinking_budget is out of range; supported values are integers from 1 "
        "to 24576."),
    "negative thinking budget other than -1": (
        configured(thinkingConfig={"thinkingBudget": -5}),
        "Unable to submit request because thinking_budget is out of range; supported values are integers from 1 "
        "to 24576."),
}

#: what the same rules let through: the edges of each range, proto3's 0 as "unset", -1 as
#: dynamic thinking, and an unset role
ACCEPTED = {
    "edges": configured(temperature=2, topP=0, candidateCount=8, maxOutputTokens=1, topK=0),
    "zero is unset": configured(candidateCount=0, maxOutputTokens=0),
    "dynamic thinking": configured(thinkingConfig={"thinkingBudget": -1}),
    "thinking off on Flash": configured(thinkingConfig={"thinkingBudget": 0}),
    "schema with its mime type": configured(responseMimeType="application/json", responseJsonSchema=SCHEMA),
    "enum schema": configured(responseMimeType="text/x.enum", responseSchema={"type": "STRING", "enum": ["a"]}),
    "no role": {"contents": [{"parts": [{"text": "hi"}]}]},
    "model turn": {"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}]},
                                {"role": "user", "parts": [{"text": "c"}]}]},
}


@pytest.mark.parametrize("rule", REFUSED)
def test_a_request_generate_content_refuses_fails_alone_in_a_succeeded_inline_batch(emulator, rule):
    request, message = REFUSED[rule]
    rows = [{"request": HELLO, "metadata": {"key": "a"}}, {"request": request, "metadata": {"key": "b"}}]
    created = raw(emulator, "POST", CREATE, body={"batch": {"inputConfig": {"requests": {"requests": rows}}}}).json()
    emulator.advance()
    done = raw(emulator, "GET", f"/v1/{created['name']}").json()
    assert done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert done["metadata"]["batchStats"] == {"requestCount": "2", "successfulRequestCount": "1",
                                              "failedRequestCount": "1"}
    first, second = done["response"]["inlinedResponses"]["inlinedResponses"]
    assert "response" in first
    assert second == {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"},
                      "metadata": {"key": "b"}}
    # the SDK reads it as the row's JobError
    job = emulator.google_client().batches.get(name=created["name"])
    assert job.dest.inlined_responses[1].error.message == message


@pytest.mark.parametrize("rule", ACCEPTED)
def test_a_request_inside_the_rules_succeeds(emulator, rule):
    rows = [{"request": ACCEPTED[rule], "metadata": {"key": "a"}}]
    created = raw(emulator, "POST", CREATE, body={"batch": {"inputConfig": {"requests": {"requests": rows}}}}).json()
    emulator.advance()
    done = raw(emulator, "GET", f"/v1/{created['name']}").json()
    assert done["metadata"]["batchStats"] == {"requestCount": "1", "successfulRequestCount": "1"}
    assert "response" in done["response"]["inlinedResponses"]["inlinedResponses"][0]


@pytest.mark.parametrize(("model", "budget", "message"), [
    ("gemini-2.5-pro", 0, "Budget 0 is invalid. This model only works in thinking mode."),
    ("gemini-2.5-pro", 64, "Unable to submit request because thinking_budget is out of range; supported values "
                           "are integers from 128 to 32768."),
    ("gemini-2.5-flash-lite", 256, "Unable to submit request because thinking_budget is out of range; supported "
                                   "values are integers from 512 to 24576."),
    ("gemini-2.5-pro", 128, None), ("gemini-2.5-pro", 32768, None), ("gemini-2.5-flash-lite", 0, None),
    ("gemini-2.5-flash-lite", 512, None), ("gemini-3-flash-preview", 0, None),
])
def test_the_thinking_budget_range_is_the_models(emulator, model, budget, message):
    request = configured(thinkingConfig={"thinkingBudget": budget})
    rows = [{"request": request}]
    created = raw(emulator, "POST", f"/v1/models/{model}:batchGenerateContent",
                  body={"batch": {"inputConfig": {"requests": {"requests": rows}}}}).json()
    emulator.advance()
    row = raw(emulator, "GET", f"/v1/{created['name']}").json()["response"]["inlinedResponses"]["inlinedResponses"][0]
    if message is None:
        assert "response" in row, row
    else:
        assert row == {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


@pytest.mark.parametrize("rule", ["unknown role", "temperature above 2", "negative maxOutputTokens",
                                  "audio response mime type", "responseJsonSchema without a JSON mime type"])
def test_a_line_of_an_input_file_outside_the_rules_fails_alone(emulator, rule):
    request, message = REFUSED[rule]
    lines = [{"key": "a", "request": HELLO}, {"key": "b", "request": request}]
    name = _upload(emulator, "".join(json.dumps(line) + "\n" for line in lines).encode())
    client = emulator.google_client()
    job = client.batches.create(model=MODEL, src=name)
    emulator.advance()
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    rows = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    assert "response" in rows[0]
    assert rows[1] == {"key": "b", "error": {"code": 400, "status": "INVALID_ARGUMENT", "message": message}}
    assert raw(emulator, "GET", f"/v1/{job.name}").json()["metadata"]["batchStats"]["failedRequestCount"] == "1"


def test_a_refused_line_of_an_input_file_is_an_error_line_of_the_responses_file(emulator):
    lines = [{"key": "a", "request": HELLO}, {"key": "b", "request": {"contents": []}}]
    name = _upload(emulator, "".join(json.dumps(line) + "\n" for line in lines).encode())
    client = emulator.google_client()
    job = client.batches.create(model=MODEL, src=name)
    emulator.advance()
    job = client.batches.get(name=job.name)
    rows = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    assert rows[1] == {"key": "b", "error": {"code": 400, "status": "INVALID_ARGUMENT", "message":
                                             "* GenerateContentRequest.contents: contents is not specified\n"}}
    operation = raw(emulator, "GET", f"/v1/{job.name}").json()
    assert operation["metadata"]["batchStats"]["failedRequestCount"] == "1"


# ---------------------------------------------------------------------------- names and queries

UPLOAD_HEADERS = {"x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"}
BAD_ID = ("* CreateFileRequest.file.name: The ID of files/{} may contain only lowercase alphanumeric "
          "characters or dashes (-), and cannot start or end with a dash.")


@pytest.mark.parametrize(("name", "message"), [
    ("files/../../etc/passwd", BAD_ID.format("../../etc/passwd")),
    ("files/Upper", BAD_ID.format("Upper")),
    ("files/-dash", BAD_ID.format("-dash")),
    ("files/dash-", BAD_ID.format("dash-")),
    ("files/" + "a" * 41, "* CreateFileRequest.file.name: File name may be at most 40 characters long, got files/"
     + "a" * 41 + "."),
])
def test_a_file_name_outside_the_rule_is_refused_at_upload(emulator, name, message):
    response = raw(emulator, "POST", "/upload/v1/files", body={"file": {"name": name}}, headers=UPLOAD_HEADERS)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": 400, "message": message, "status": "INVALID_ARGUMENT",
                                        "details": []}


def test_a_file_name_inside_the_rule_is_kept(emulator):
    response = raw(emulator, "POST", "/upload/v1/files", body={"file": {"name": "files/my-input-1"}},
                   headers=UPLOAD_HEADERS)
    assert response.status_code == 200


def test_reading_a_file_by_a_name_outside_the_rule_is_a_400_not_a_path(emulator):
    client = emulator.google_client()
    with pytest.raises(errors.ClientError) as caught:
        client.files.get(name="files/Upper.txt")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == ("* GetFileRequest.name: The ID of files/Upper.txt may contain only lowercase "
                                    "alphanumeric characters or dashes (-), and cannot start or end with a dash.")
    # dot segments are resolved by the HTTP client before they leave it: no file route is reached
    with pytest.raises(errors.ClientError) as caught:
        client.files.get(name="files/../../etc/passwd")
    assert caught.value.code == 404


def test_unknown_upload_metadata_is_named(emulator):
    response = raw(emulator, "POST", "/upload/v1/files", body={"file": {"colour": "red"}}, headers=UPLOAD_HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == ('Invalid JSON payload received. Unknown name "colour" at '
                                                   "'file': Cannot find field.")


def test_a_page_size_that_is_no_integer_is_named_as_the_front_end_names_it(emulator):
    response = raw(emulator, "GET", "/v1/batches?pageSize=ten")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid value at 'page_size' (TYPE_INT32), \"ten\""


def test_files_list_pages_default_to_ten_and_stop_at_a_hundred(emulator):
    client = emulator.google_client()
    for index in range(12):
        client.files.upload(file=__import__("io").BytesIO(b"{}\n"), config={"mime_type": "jsonl",
                                                                              "name": f"files/f{index}"})
    first = raw(emulator, "GET", "/v1/files").json()
    assert len(first["files"]) == 10 and first["nextPageToken"]
    assert len(raw(emulator, "GET", "/v1/files?pageSize=500").json()["files"]) == 12


# ---------------------------------------------------------------------------- the fast path agrees

_NAMES = sorted({name for fields in rules.MESSAGES.values() for name in fields} | {"colour", "max_output_tokens"})
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(_NAMES), inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(_NAMES), _JSON, max_size=4))
@example({"contents": [None]})  # a null list item: both paths refuse it (they once disagreed)
@example({"generationConfig": {"stopSequences": [None]}})
def test_the_fast_check_passes_exactly_the_bodies_with_no_problem(request):
    """``readable`` (no messages built) and ``proto_problems`` (the live messages) never disagree."""
    assert rules.readable("GenerateContentRequest", request) == (not rules.proto_problems("GenerateContentRequest",
                                                                                          request))


def test_deleting_a_batch_output_file_is_a_400_that_says_what_to_delete_instead(emulator):
    client = emulator.google_client()
    job = client.batches.create(model=MODEL, src=_upload(emulator, json.dumps({"key": "a", "request": HELLO}).encode()))
    output = client.batches.get(name=job.name).dest.file_name
    with pytest.raises(errors.ClientError) as caught:
        client.files.delete(name=output)
    # the generated files/batch-<40> is over the 40-character delete limit (live-capture notes)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == (f"* DeleteFileRequest.name: File name may be at most 40 characters long, got "
                                    f"{output}. A batch's output file goes when the batch is deleted.")
    client.batches.delete(name=job.name)
    with pytest.raises(errors.ClientError) as caught:
        client.files.get(name=output)
    assert caught.value.code == 404
