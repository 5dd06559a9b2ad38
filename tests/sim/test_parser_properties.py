"""Property-based tests of what the emulator reads from clients: arbitrary bytes and JSON in, a
correct answer or a provider-shaped 4xx out, never a 5xx, an exception or a hang. Bounded so
they take about a second."""

from __future__ import annotations

import json
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_batch.sim import Emulator
from pytest_batch.sim.backends.base import jsonl_objects
from pytest_batch.sim.http import HTTPError, SimRequest
from pytest_batch.sim.routes.openai import parse_multipart
from pytest_batch.sim.server import start_server

BOUNDED = settings(max_examples=40, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOKEN = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='";\\'), min_size=1,
                max_size=20)


def multipart(boundary: str, body: bytes) -> SimRequest:
    return SimRequest.build("POST", "http://127.0.0.1/openai/v1/files",
                            {"content-type": f"multipart/form-data; boundary={boundary}",
                             "authorization": "Bearer local"}, body)


@BOUNDED
@given(boundary=TOKEN, body=st.binary(max_size=400))
def test_any_multipart_body_parses_or_is_a_400(boundary, body):
    try:
        fields = parse_multipart(multipart(boundary, body))
    except HTTPError as error:
        assert error.status == 400
    else:
        assert all(isinstance(value, str | tuple) for value in fields.values())


@BOUNDED
@given(boundary=TOKEN.filter(lambda b: "\r" not in b and "\n" not in b),
       fields=st.dictionaries(st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8),
                              st.text(max_size=30).filter(lambda v: "\r" not in v and "--" not in v), max_size=4),
       content=st.binary(max_size=200))
def test_a_well_formed_multipart_body_reads_back_exactly(boundary, fields, content):
    delimiter = f"--{boundary}".encode()
    if delimiter in content or any(delimiter in value.encode() for value in fields.values()):
        return  # a part that contains the delimiter is not well formed
    parts = [b'Content-Disposition: form-data; name="%s"\r\n\r\n%s' % (name.encode(), value.encode())
             for name, value in fields.items()]
    parts.append(b'Content-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n' + content)
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts) + delimiter + b"--\r\n"
    assert parse_multipart(multipart(boundary, body)) == {**fields, "file": ("in.jsonl", content)}


@BOUNDED
@given(st.binary(max_size=600) | st.lists(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10), max_size=5).map(lambda rows: "\n".join(json.dumps(row) for row in rows).encode()))
def test_any_jsonl_content_yields_objects_or_none_per_line(content):
    for number, line in jsonl_objects(content):
        assert isinstance(number, int) and number >= 1
        assert line is None or isinstance(line, dict)


@BOUNDED
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/plain", ""]),
       path=st.sampled_from(["/openai/v1/batches", "/anthropic/v1/messages/batches",
                             "/google/v1beta/models/gemini-2.5-flash:batchGenerateContent", "/openai/v1/files"]))
def test_any_body_to_a_create_is_answered_below_500(body, content_type, path):
    headers = {"content-type": content_type, "authorization": "Bearer local", "x-api-key": "local",
               "anthropic-version": "2023-06-01", "x-goog-api-key": "local"}
    response = Emulator().handle(SimRequest.build("POST", f"http://127.0.0.1{path}", headers, body))
    assert response.status < 500, response.body


def test_any_content_length_is_answered_at_once():
    with start_server(Emulator()) as server:
        host, port = server.server.server_address[:2]

        @BOUNDED
        @given(declared=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
               body=st.binary(max_size=40))
        def exchange(declared, body):
            with socket.create_connection((host, port), timeout=10) as sock:
                sock.sendall(b"POST /openai/v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer local\r\n"
                             b"Content-Type: application/json\r\nContent-Length: " + declared.encode() + b"\r\n\r\n"
                             + body)
                sock.shutdown(socket.SHUT_WR)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status = int(answer.split(b" ", 2)[1])
            assert 200 <= status < 500, answer[:300]

        exchange()
