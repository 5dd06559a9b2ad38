"""Property-based tests of every endpoint the emulator serves besides create (those are in
test_parser_properties.py): arbitrary ids, path segments, query parameters, headers and JSON or
byte bodies, sent as raw HTTP to the real server, are answered below 500 with the provider's own
error envelope, and the same server then still runs a normal batch on every provider."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Clock, Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .test_hostile import HEADERS, openai_batch, openai_line, still_runs_the_ten_users

BOUNDED = settings(max_examples=40, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
#: text for ids and query values: printable, odd punctuation, percent signs, non-ASCII
TEXT = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF, exclude_categories=["Cs"]), max_size=24)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
                    max_leaves=8)
#: a header value: no line break (that would be a header of its own)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=["Cs"]), max_size=24)
BODIES = st.binary(max_size=200) | JSON.map(lambda value: json.dumps(value).encode())


@st.composite
def segments(draw: st.DrawFn, real: list[str]) -> str:
    """A path segment: a real id, or any text percent-encoded (keeping some characters raw that a
    request target may carry: ``:@!$'()*~%`` and non-ASCII), or a broken percent escape."""
    choice = draw(st.integers(0, 4))
    if choice == 0 and real:
        return draw(st.sampled_from(real))
    raw = draw(TEXT)
    if choice == 1:
        return "".join(quote(char, safe="") if char.isspace() or char in "/?#" or ord(char) < 32 else char
                       for char in raw)  # sent as UTF-8 bytes
    if choice == 2:
        return quote(raw, safe="") + draw(st.sampled_from(["", "%", "%Z", "%2", "%00", "%2F..%2F"]))
    return quote(raw, safe=":@!$'()*~,;=")


def queries(names: list[str]) -> st.SearchStrategy[str]:
    known = st.fixed_dictionaries({}, optional={name: TEXT | st.integers().map(str) for name in names})
    other = st.dictionaries(TEXT, TEXT, max_size=3)
    garbage = st.sampled_from(["", "&&", "=", "a=%ZZ", "limit", "limit=1&limit=-1", "key", "%00=%00"])
    return st.one_of(st.tuples(known, other).map(lambda q: urlencode({**q[1], **q[0]})), garbage)


def exchange(server: ServerHandle, method: str, target: str, headers: dict[str, str], body: bytes
             ) -> tuple[int, bytes, http.client.HTTPMessage]:
    """One request as raw bytes (a request target no client library would send as it is)."""
    host, port = server.server.server_address[:2]
    head = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers.items())]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall("\r\n".join(head).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, response.read(), response.headers


def assert_provider_error(provider: str, status: int, body: bytes) -> None:
    assert status < 500, body[:400]
    if status < 400:
        return
    try:
        error = json.loads(body)
    except ValueError:
        raise AssertionError(f"HTTP {status} without a JSON error body: {body[:300]!r}") from None
    if status in (400, 405) and error["error"].get("code") == "bad_request_syntax":
        return  # a request line the server cannot split (a raw 0x85 byte in the path) or a method it lacks
    if provider == "anthropic":
        assert error["type"] == "error" and error["error"]["type"] and error["error"]["message"], error
        assert error["request_id"], error
    elif provider == "google":
        assert error["error"]["code"] == status and error["error"]["message"] and error["error"]["status"], error
    else:
        assert error["error"]["message"] and error["error"]["type"] and "code" in error["error"], error


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    handle = start_server(Emulator(lifecycle="polls:1", clock=Clock(), expectations=seed_expectations()))
    yield handle
    handle.stop()


def real_ids(server: ServerHandle) -> dict[str, list[str]]:
    """One batch (and its file) on each provider, so some requests reach objects that exist."""
    import httpx

    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        openai_id = openai_batch(http, f"{openai_line({'type': 'object', 'properties': {}})}\n".encode())
        file_id = http.get(f"/openai/v1/batches/{openai_id}").json()["input_file_id"]
        anthropic = http.post("/anthropic/v1/messages/batches", json={"requests": [
            {"custom_id": "a", "params": {"model": "claude-haiku-4-5", "max_tokens": 10,
                                          "messages": [{"role": "user", "content": "hi"}]}}]})
        google = http.post("/google/v1beta/models/gemini-2.5-flash:batchGenerateContent", json={"batch": {
            "display_name": "x", "input_config": {"requests": {"requests": [
                {"request": {"contents": [{"parts": [{"text": "hi"}]}]}, "metadata": {"key": "k"}}]}}}})
        assert anthropic.status_code == 200 and google.status_code == 200, (anthropic.text, google.text)
    return {"openai": [openai_id, file_id], "anthropic": [anthropic.json()["id"]],
            "google": [google.json()["name"].removeprefix("batches/")]}


#: (method, path template, the query parameters the endpoint reads): {id} is a segment
ENDPOINTS = {
    "openai": [("GET", "/openai/v1/batches", ["after", "limit"]), ("GET", "/openai/v1/batches/{id}", []),
               ("POST", "/openai/v1/batches/{id}/cancel", []),
               ("GET", "/openai/v1/files", ["purpose", "order", "after", "limit"]),
               ("GET", "/openai/v1/files/{id}", []), ("DELETE", "/openai/v1/files/{id}", []),
               ("GET", "/openai/v1/files/{id}/content", [])],
    "anthropic": [("GET", "/anthropic/v1/messages/batches", ["limit", "before_id", "after_id", "beta"]),
                  ("GET", "/anthropic/v1/messages/batches/{id}", ["beta"]),
                  ("DELETE", "/anthropic/v1/messages/batches/{id}", []),
                  ("POST", "/anthropic/v1/messages/batches/{id}/cancel", []),
                  ("GET", "/anthropic/v1/messages/batches/{id}/results", [])],
    "google": [("GET", "/google/v1beta/batches", ["pageSize", "pageToken", "page_size", "key"]),
               ("GET", "/google/{version}/batches/{id}", ["key"]),
               ("POST", "/google/v1beta/batches/{id}:cancel", []), ("DELETE", "/google/v1beta/batches/{id}", []),
               ("POST", "/google/v1beta/batches/{id}:delete", []),
               ("GET", "/google/v1beta/files", ["pageSize", "pageToken"]),
               ("GET", "/google/v1beta/files/{id}", []), ("DELETE", "/google/v1beta/files/{id}", []),
               ("GET", "/google/v1beta/files/{id}:download", ["alt"])],
}


@pytest.mark.parametrize("provider", ENDPOINTS)
def test_any_id_query_and_body_to_any_endpoint_is_answered_below_500(server, provider, monkeypatch):
    ids = real_ids(server)[provider]

    @BOUNDED
    @given(data=st.data())
    def request(data):
        method, template, names = data.draw(st.sampled_from(ENDPOINTS[provider]))
        if data.draw(st.integers(0, 5)) == 0:
            method = data.draw(st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "BREW"]))
        path = template.replace("{id}", data.draw(segments(ids))).replace(
            "{version}", data.draw(st.sampled_from(["v1", "v1beta", "v2", "V1BETA"])))
        query = data.draw(queries(names))
        headers = {name: value for name, value in HEADERS.items() if data.draw(st.integers(0, 9))}  # a key or none
        headers["content-type"] = data.draw(st.sampled_from(["application/json", "text/plain", "x/y; a=b"]))
        body = data.draw(BODIES) if method in ("POST", "PUT", "PATCH") or data.draw(st.booleans()) else b""
        status, answer, _ = exchange(server, method, f"{path}?{query}" if query else path, headers, body)
        assert_provider_error(provider, status, answer)

    request()
    still_runs_the_ten_users(server, monkeypatch)


#: a start the server takes (most draws, so that the metadata is read), or any headers
VALID_START = st.fixed_dictionaries({"x-goog-upload-protocol": st.just("resumable"),
                                     "x-goog-upload-command": st.sampled_from(["start", "START", "start, upload"])},
                                    optional={
    "x-goog-upload-header-content-length": st.integers(-5, 10**30).map(str) | HEADER_TEXT,
    "x-goog-upload-header-content-type": st.sampled_from(["application/jsonl", "text/plain"]) | HEADER_TEXT})


@st.composite
def start_headers(draw: st.DrawFn) -> dict[str, str]:
    headers = draw(VALID_START)
    if draw(st.integers(0, 4)) == 0:  # one of them replaced by anything, or left out
        name = draw(st.sampled_from(sorted(headers)))
        headers[name] = draw(HEADER_TEXT)
        if draw(st.booleans()):
            del headers[name]
    return headers


EDGE_VALUES = [float("inf"), -1, 1.5, 0, "12", "-3", "abc", True, [], {}, "", None, "files/a/b", "files/-x",
               "files/" + "a" * 41, "Files/UPPER", "files/ok-name-1", "files/%2F..", "x" * 300]
EDGES = st.sampled_from(EDGE_VALUES)
FILE_FIELDS = {key: EDGES | JSON for key in ("displayName", "mimeType", "sizeBytes", "name")}

@st.composite
def metadata(draw: st.DrawFn) -> object:
    """Mostly {"file": {...}} with edge values in its fields; else any "file", or any JSON."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(JSON)
    if kind == 1:
        return {"file": draw(JSON)}
    return {"file": draw(st.fixed_dictionaries({}, optional=FILE_FIELDS)), **draw(st.dictionaries(TEXT, JSON,
                                                                                                  max_size=2))}



CHUNK_HEADERS = st.fixed_dictionaries({}, optional={
    "x-goog-upload-command": st.sampled_from(["upload, finalize", "finalize", "upload", "query"]) | HEADER_TEXT,
    "x-goog-upload-offset": st.sampled_from(["0", "-1", "abc", "1e3", "99999999999999999999"]) | HEADER_TEXT,
})


def test_any_gemini_upload_start_and_finalize_is_answered_below_500(server, monkeypatch):
    """The resumable upload (wire-formats.md C.5): any headers and metadata JSON to start it, any
    headers and bytes to send and finalize it, to a session that exists or one that does not."""

    @settings(BOUNDED, max_examples=40)  # three requests of a few milliseconds each
    @given(start=start_headers(), metadata=metadata(), raw=st.integers(0, 9).map(lambda n: n == 0), chunk=CHUNK_HEADERS,
           content=st.binary(max_size=100), upload_id=st.none() | segments([]))
    def upload(start, metadata, raw, chunk, content, upload_id):
        body = json.dumps(metadata).encode()
        status, answer, headers = exchange(server, "POST", "/google/upload/v1beta/files", {**start, **HEADERS},
                                           body[:7] if raw else body)
        assert_provider_error("google", status, answer)
        url = headers.get("x-goog-upload-url") or ""
        if upload_id is not None or not url:  # a session that does not exist
            url = f"/google/upload/v1beta/files?upload_id={upload_id or ''}&upload_protocol=resumable"
        target = url[url.index("/google/"):]
        status, answer, _ = exchange(server, "POST", target, chunk, content)
        assert_provider_error("google", status, answer)
        if status == 200 and answer:  # finalized: the file is there
            name = json.loads(answer)["file"]["name"]
            status, answer, _ = exchange(server, "GET", f"/google/v1beta/{quote(name, safe='/')}", HEADERS, b"")
            assert status == 200, answer

    upload()
    still_runs_the_ten_users(server, monkeypatch)


@pytest.mark.parametrize("field", ["sizeBytes", "size_bytes", "name", "displayName", "mimeType"])
def test_every_edge_value_in_gemini_file_metadata_is_a_400_or_a_file_that_can_be_read_back(server, field):
    for value in EDGE_VALUES:
        start = {**HEADERS, "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"}
        status, answer, headers = exchange(server, "POST", "/google/upload/v1beta/files", start,
                                           json.dumps({"file": {field: value}}).encode())
        assert_provider_error("google", status, answer)
        if status != 200:
            assert status == 400, (value, answer)
            continue
        url = headers["x-goog-upload-url"]
        status, answer, _ = exchange(server, "POST", url[url.index("/google/"):],
                                     {"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"}, b"{}")
        assert_provider_error("google", status, answer)
        if status != 200:
            assert "declared" in json.loads(answer)["error"]["message"], (value, answer)  # a sizeBytes not 2
            continue
        name = json.loads(answer)["file"]["name"]
        status, answer, _ = exchange(server, "GET", f"/google/v1beta/{quote(name, safe='/')}", HEADERS, b"")
        assert status == 200 and json.loads(answer)["name"] == name, (value, answer)
