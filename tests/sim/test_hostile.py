"""Hostile input against the emulator server: a bad request fails alone, with a provider-shaped
400, and the same server then still runs the ten users on every provider. Raw HTTP where the
SDKs would never send such bytes; the real SDKs for the batch that must still work."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Clock, Emulator
from pytest_batch.sim.server import ServerHandle, start_server

HEADERS = {"authorization": "Bearer local", "x-api-key": "local", "anthropic-version": "2023-06-01",
           "x-goog-api-key": "local"}
MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-haiku-4-5",
          "google": "google/gemini-2.5-flash-lite"}
BAD_SCHEMAS = {"unresolvable $ref": {"type": "object", "properties": {"x": {"$ref": "#/nope"}}},
               "not an object": 5}


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    handle = start_server(Emulator(lifecycle="immediate", clock=Clock(), expectations=seed_expectations()))
    yield handle
    handle.stop()


@pytest.fixture
def http(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as client:
        yield client


def lists_answer_on_every_provider(http: httpx.Client) -> None:
    for path in ("/openai/v1/batches", "/anthropic/v1/messages/batches", "/google/v1beta/batches"):
        listed = http.get(path)
        assert listed.status_code == 200, listed.text


def still_runs_the_ten_users(server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.setenv(variable, "local")
    for model in MODELS.values():
        with BatchProcessor(model, User, sleep=lambda seconds: None) as processor:
            job = processor.wait(processor.submit(list(SEED_PROMPTS)))
            values = [item.value for item in processor.results(job).in_input_order()]
        assert values == list(EXPECTED_USERS), model


def openai_line(schema: object, custom_id: str = "bad") -> str:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "X", "schema": schema, "strict": True}}}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def openai_batch(http: httpx.Client, content: bytes) -> str:
    upload = http.post("/openai/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"})
    assert upload.status_code == 200, upload.text
    batch = http.post("/openai/v1/batches", json={"input_file_id": upload.json()["id"],
                                                   "endpoint": "/v1/chat/completions", "completion_window": "24h"})
    assert batch.status_code == 200, batch.text
    return batch.json()["id"]


# ---------------------------------------------------------------------------- one bad request

@pytest.mark.parametrize("schema", BAD_SCHEMAS.values(), ids=BAD_SCHEMAS.keys())
def test_a_broken_schema_fails_its_own_openai_row_only(http, schema):
    content = f"{openai_line(schema)}\n{openai_line({'type': 'object', 'properties': {}}, 'good')}\n".encode()
    batch_id = openai_batch(http, content)
    for _ in range(2):  # validating -> completed
        batch = http.get(f"/openai/v1/batches/{batch_id}")
    assert batch.status_code == 200 and batch.json()["status"] == "completed", batch.text
    assert batch.json()["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    errors = http.get(f"/openai/v1/files/{batch.json()['error_file_id']}/content").text.splitlines()
    row = json.loads(errors[0])
    assert row["custom_id"] == "bad" and row["response"]["status_code"] == 400
    # OpenAI's own words (rules/openai.py), never another provider's
    assert row["response"]["body"]["error"]["message"].startswith("Invalid schema for response_format 'X': ")
    assert http.get("/openai/v1/batches").status_code == 200
    lists_answer_on_every_provider(http)


def gemini_request(key: str, field: str, schema: object) -> dict:
    return {"request": {"contents": [{"parts": [{"text": "hi"}], "role": "user"}],
                        "generation_config": {"response_mime_type": "application/json", field: schema}},
            "metadata": {"key": key}}


@pytest.mark.parametrize("field", ["response_json_schema", "response_schema"])
@pytest.mark.parametrize("schema", BAD_SCHEMAS.values(), ids=BAD_SCHEMAS.keys())
def test_a_broken_schema_fails_its_own_gemini_request_only(http, schema, field):
    requests = [gemini_request("bad", field, schema), gemini_request("good", field, {"type": "object"})]
    created = http.post("/google/v1beta/models/gemini-2.5-flash:batchGenerateContent",
                        json={"batch": {"display_name": "x", "input_config": {"requests": {"requests": requests}}}})
    assert created.status_code == 200, created.text
    for _ in range(2):
        batch = http.get(f"/google/v1beta/{created.json()['name']}")
    assert batch.status_code == 200, batch.text
    assert batch.json()["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert batch.json()["metadata"]["batchStats"]["failedRequestCount"] == "1"
    bad, good = batch.json()["response"]["inlinedResponses"]["inlinedResponses"]
    assert (bad["error"]["code"], bad["error"]["status"]) == (400, "INVALID_ARGUMENT"), bad
    # generateContent's "* field: what" form, naming the field that carried the schema
    assert bad["error"]["message"].startswith(f"* GenerateContentRequest.generation_config.{field}: invalid schema: ")
    assert "response format" not in bad["error"]["message"]
    assert "response" in good and good["metadata"] == {"key": "good"}
    lists_answer_on_every_provider(http)


def anthropic_batch(http: httpx.Client, params: dict) -> list[dict]:
    good = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    created = http.post("/anthropic/v1/messages/batches", json={"requests": [
        {"custom_id": "bad", "params": {**good, **params}}, {"custom_id": "good", "params": good}]})
    assert created.status_code == 200, created.text
    for _ in range(2):
        batch = http.get(f"/anthropic/v1/messages/batches/{created.json()['id']}")
    assert batch.json()["processing_status"] == "ended", batch.text
    assert batch.json()["request_counts"]["errored"] == 1 and batch.json()["request_counts"]["succeeded"] == 1
    results = http.get(f"/anthropic/v1/messages/batches/{created.json()['id']}/results")
    return sorted((json.loads(line) for line in results.text.splitlines()), key=lambda row: row["custom_id"])


TOOL_SCHEMA_MESSAGES = {
    # live: the tool by its index, and no response format
    "unresolvable $ref": ("tools.1.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft "
                          "2020-12 (https://json-schema.org/draft/2020-12). Learn more about tool use at "
                          "https://platform.claude.com/docs/en/agents-and-tools/tool-use/overview."),
    "not an object": "tools.1.custom.input_schema: Input should be a valid dictionary",
}


@pytest.mark.parametrize("case", BAD_SCHEMAS)
def test_a_broken_tool_input_schema_fails_its_own_anthropic_request_in_the_apis_words(http, case):
    tools = [{"name": "other", "input_schema": {"type": "object"}}, {"name": "t", "input_schema": BAD_SCHEMAS[case]}]
    bad, good = anthropic_batch(http, {"tools": tools, "tool_choice": {"type": "tool", "name": "t"}})
    assert bad["result"]["type"] == "errored"
    error = bad["result"]["error"]["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == TOOL_SCHEMA_MESSAGES[case]
    assert good["result"]["type"] == "succeeded"
    lists_answer_on_every_provider(http)


@pytest.mark.parametrize("schema", BAD_SCHEMAS.values(), ids=BAD_SCHEMAS.keys())
def test_a_broken_output_format_schema_fails_its_own_anthropic_request_in_the_apis_words(http, schema):
    bad, good = anthropic_batch(http, {"output_config": {"format": {"type": "json_schema", "schema": schema}}})
    error = bad["result"]["error"]["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("output_config.format.schema: Invalid schema: "), error
    assert good["result"]["type"] == "succeeded"
    lists_answer_on_every_provider(http)


def test_a_json_line_nested_100000_deep_is_an_invalid_line_not_a_server_error(http):
    batch_id = openai_batch(http, b"[" * 100_000 + b"]" * 100_000 + b"\n")
    for _ in range(2):
        batch = http.get(f"/openai/v1/batches/{batch_id}")
    assert batch.status_code == 200 and batch.json()["status"] == "failed", batch.text
    assert batch.json()["errors"]["data"][0]["code"] == "invalid_json_line"
    lists_answer_on_every_provider(http)


@pytest.mark.parametrize(("rows", "error"), [
    (b'[{"match": 1, "response": {}}]', "expectations: item 1: 'match' must be a string"),
    (b'[{"match": ["a"], "response": {}}]', "expectations: item 1: 'match' must be a string"),
    (b'[{"match": "x", "response": 1}, {"match": "a"}]', "expectations: item 2: 'response' is missing"),
    (b'{"custom_id": 5, "response": {}}\n', "expectations: item 1: 'custom_id' must be a string"),
])
def test_a_wrongly_typed_expectation_is_a_400_and_never_breaks_a_batch(server, http, monkeypatch, rows, error):
    """``{"match": 1}`` used to be accepted, and every read of a batch that fell through to it,
    and every list, was a 500 until reset."""
    answer = http.post("/_control/expectations", content=rows)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(error), answer.text
    assert len(server.emulator.responder.expectations) == len(seed_expectations())  # nothing of it loaded
    batch_id = openai_batch(http, f"{openai_line({'type': 'object', 'properties': {}}, 'a')}\n".encode())
    for _ in range(2):
        batch = http.get(f"/openai/v1/batches/{batch_id}")
    assert batch.status_code == 200 and batch.json()["status"] == "completed", batch.text
    lists_answer_on_every_provider(http)
    still_runs_the_ten_users(server, monkeypatch)


def test_a_responder_that_raises_fails_its_own_requests_never_other_batches_or_lists(server, http, monkeypatch):
    """Belt and braces: whatever computing one request's answer raises fails that request's row,
    naming the error; the batch, the lists and every other batch still answer 200."""
    def broken(item):
        if "BREAK-ME" in item.prompt:
            raise TypeError("'in <string>' requires string as left operand, not int")

    server.emulator.respond_with(broken)
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    for variable in ("ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.setenv(variable, "local")
    for model in MODELS.values():
        with BatchProcessor(model, User, sleep=lambda seconds: None) as processor:
            job = processor.wait(processor.submit(["BREAK-ME please", SEED_PROMPTS[0]]))
            broken_row, good_row = processor.results(job).in_input_order()
        assert good_row.ok and good_row.value == EXPECTED_USERS[0], model
        assert not broken_row.ok and "requires string as left operand" in broken_row.message, model
        lists_answer_on_every_provider(http)
    still_runs_the_ten_users(server, monkeypatch)


DEEP_BODY = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def nested_schema(levels: int) -> str:
    schema = '{"type": "string"}'
    for _ in range(levels):
        schema = '{"type": "object", "properties": {"x": ' + schema + "}}"
    return schema


@pytest.mark.parametrize(("path", "envelope"), [
    ("/openai/v1/batches", lambda body: body["error"]["type"] == "invalid_request_error"),
    ("/anthropic/v1/messages/batches", lambda body: body["type"] == "error"
     and body["error"]["type"] == "invalid_request_error" and "nested too deeply" in body["error"]["message"]),
    ("/google/v1beta/models/gemini-2.5-flash:batchGenerateContent",
     lambda body: body["error"]["status"] == "INVALID_ARGUMENT" and "nested too deeply" in body["error"]["message"]),
], ids=["openai", "anthropic", "google"])
def test_a_request_body_nested_100000_deep_is_a_400_in_the_provider_s_envelope(http, path, envelope):
    answer = http.post(path, content=DEEP_BODY, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text[:300]
    assert envelope(answer.json()), answer.text[:300]
    lists_answer_on_every_provider(http)


def test_an_anthropic_create_with_a_schema_500_levels_deep_is_a_400(http):
    params = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
              "output_format": {"type": "json_schema", "schema": "SCHEMA"}}
    body = json.dumps({"requests": [{"custom_id": "a", "params": params}]}).replace('"SCHEMA"', nested_schema(500))
    answer = http.post("/anthropic/v1/messages/batches", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["error"]["type"] == "invalid_request_error"
    lists_answer_on_every_provider(http)


def test_the_control_api_answers_400_to_a_body_nested_too_deeply(http):
    for action in ("expectations", "faults", "advance"):
        answer = http.post(f"/_control/{action}", content=b"[" * 100_000 + b"]" * 100_000)
        assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"], answer.text[:300]


# ---------------------------------------------------------------------------- headers and fields

def test_a_file_name_with_a_line_break_never_becomes_a_header(http):
    name = b"a\r\nSet-Cookie: pwned=1\r\nX-Pad: b.jsonl"  # raw bytes: httpx itself would escape them
    body = (b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
            b"Content-Type: application/jsonl\r\n\r\n" + openai_line({}).encode() + b"\n\r\n--B--\r\n")
    upload = http.post("/openai/v1/files", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
    assert upload.status_code == 200, upload.text
    content = http.get(f"/openai/v1/files/{upload.json()['id']}/content")
    assert "set-cookie" not in content.headers and "x-pad" not in content.headers
    assert content.headers["content-disposition"] == (
        'attachment; filename="a__Set-Cookie: pwned=1__X-Pad: b.jsonl"; '
        "filename*=UTF-8''a%0D%0ASet-Cookie%3A%20pwned%3D1%0D%0AX-Pad%3A%20b.jsonl")


@pytest.mark.parametrize(("fields", "message"), [
    ({"purpose": b"\xff\xfebatch"}, "Invalid value for 'purpose': expected UTF-8 text."),
    ({"purpose": b"batch", "expires_after[anchor]": b"created_at", "expires_after[seconds]": b"abc"},
     "Invalid type for 'expires_after.seconds': expected an integer, but got a string instead."),
    ({"purpose": b"batch", "expires_after[anchor]": b"created_at", "expires_after[seconds]": b"-5"},
     "Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= 3600, but got -5 instead."),
    ({"purpose": b"batch", "expires_after[anchor]": b"created_at", "expires_after[seconds]": b"60"},
     "Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= 3600, but got 60 instead."),
], ids=["purpose not utf-8", "seconds not a number", "seconds negative", "seconds under an hour"])
def test_bad_upload_fields_are_400s_not_500s(http, fields, message):
    files = {"file": ("in.jsonl", openai_line({}).encode()), **{name: (None, value) for name, value in fields.items()}}
    upload = http.post("/openai/v1/files", files=files)
    assert upload.status_code == 400, upload.text
    assert upload.json()["error"]["message"] == message
    assert upload.json()["error"]["type"] == "invalid_request_error"


# ---------------------------------------------------------------------------- the control API

@pytest.mark.parametrize(("body", "error"), [
    (b"[1]", "faults: expected a JSON object body, got list"),
    (b'"x"', "faults: expected a JSON object body, got str"),
    (b'{"requests": ["a"]}', "faults: 'requests' must be an object mapping custom_ids"),
    (b'{"nope": 1}', "faults: unknown key 'nope'; use requests, fractions, batches or http"),
    (b"{not json", "faults: "),
])
def test_the_control_api_answers_400_to_bodies_it_cannot_use(http, body, error):
    response = http.post("/_control/faults", content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(error)


@pytest.mark.parametrize("seconds", ["nan", "inf", 1e18, -5, "abc"])
def test_the_clock_cannot_be_poisoned(http, seconds):
    response = http.post("/_control/advance", json={"seconds": seconds})
    assert response.status_code == 400, response.text
    assert "seconds must be a number" in response.json()["error"]
    lists_answer_on_every_provider(http)


@pytest.mark.parametrize("spec", ["seconds:nan", "seconds:inf", "polls:nan", "seconds:-5", 5])
def test_a_lifecycle_must_be_a_finite_positive_number(http, spec):
    lifecycle = http.post("/_control/lifecycle", json={"spec": spec})
    assert lifecycle.status_code == 400, lifecycle.text
    lists_answer_on_every_provider(http)


def test_reset_resets_the_clock_too(server, http):
    before = server.emulator.clock.now()
    assert http.post("/_control/advance", json={"seconds": 86400}).status_code == 200
    assert server.emulator.clock.now() >= before + 86400
    assert http.post("/_control/reset").status_code == 200
    assert server.emulator.clock.now() < before + 3600


# ---------------------------------------------------------------------------- HTTP framing

def raw_exchange(server: ServerHandle, request: bytes) -> bytes:
    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("framing", [
    b"Content-Length: abc\r\n\r\n",
    b"Content-Length: -1\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    b"Content-Length: 100\r\n\r\nshort",
    b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}xyz",
    b"Content-Length: 2, 5\r\n\r\n{}xyz",
], ids=["length not a number", "negative length", "bad chunk size", "body shorter than declared",
        "two different lengths", "a list of different lengths"])
def test_broken_framing_is_answered_400_at_once(server, http, framing):
    answer = raw_exchange(server, b"POST /openai/v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer local\r\n"
                          + framing)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert json.loads(body)["error"]["code"] == "bad_framing"
    lists_answer_on_every_provider(http)


def test_verbose_logging_never_prints_a_key(capfd):
    with start_server(Emulator(), verbose=True) as handle:
        key = "AIza" + "SyA-0123456789abcdefghijklmnopqrstu"
        httpx.get(f"{handle.url}/google/v1beta/batches?key={key}", timeout=10)
    err = capfd.readouterr().err
    assert "GET /google/v1beta/batches?key=" in err and key not in err


@pytest.mark.parametrize(("path", "secret"), [
    ("/google/v1beta/batches?KEY={}", "AIzaSyUPPER999"),
    ("/openai/v1/batches?token={}", "sk-proj-ZZZ0123456789"),
    ("/openai/v1/batches?limit=2&Api_Key={}", "plainsecret42"),
    ("/openai/v1/{}/batches", "sk-proj-INPATH12345"),
    ("/google/v1beta/{}/batches", "AIzaSyINPATH999"),
], ids=["upper-case KEY=", "token=", "mixed-case Api_Key=", "sk- key in a path", "AIza key in a path"])
def test_verbose_logging_never_prints_a_key_in_any_case_or_place(capfd, path, secret):
    with start_server(Emulator(), verbose=True) as handle:
        httpx.get(handle.url + path.format(secret), timeout=10)
    err = capfd.readouterr().err
    assert "GET /" in err and secret not in err, err
    assert "***" in err


def test_after_every_kind_of_hostile_request_the_server_still_runs_the_ten_users(server, http, monkeypatch):
    openai_batch(http, f"{openai_line(BAD_SCHEMAS['unresolvable $ref'])}\n".encode())
    openai_batch(http, b"[" * 100_000 + b"]" * 100_000 + b"\n")
    http.post("/openai/v1/files", files={"file": ("in.jsonl", b"{}"), "purpose": (None, b"\xff")})
    for body in (b"[1]", b'"x"', b'{"requests": ["a"]}'):
        http.post("/_control/faults", content=body)
    for seconds in ("nan", "inf", 1e18):
        http.post("/_control/advance", json={"seconds": seconds})
    http.post("/_control/lifecycle", json={"spec": "seconds:nan"})
    raw_exchange(server, b"POST /openai/v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
    raw_exchange(server, b"POST /openai/v1/batches HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    for _ in range(2):
        lists_answer_on_every_provider(http)
    still_runs_the_ten_users(server, monkeypatch)
