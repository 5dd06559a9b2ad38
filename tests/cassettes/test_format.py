"""The on-disk format gives vcrpy back the bytes it was given, while storing data a reviewer can read."""

from __future__ import annotations

import json

import pytest
import yaml

from pytest_batch.cassettes.format import FOOTER, HEADER, CassetteSerializer, body_view

COMPACT_JSONL = b'{"a":1,"b":[1,2]}\n{"a":2,"b":[]}\n'


@pytest.mark.parametrize(("body", "content_type", "stored"), [
    (COMPACT_JSONL, "application/octet-stream", {"jsonl": [{"a": 1, "b": [1, 2]}, {"a": 2, "b": []}],
                                                 "style": "compact"}),
    (b'{"x": 1}\n{"x": 2}', "application/jsonl", {"jsonl": [{"x": 1}, {"x": 2}], "final_newline": False}),
    (b"plain text\nover two lines\n", "text/plain", {"string": "plain text\nover two lines\n"}),
    (b"\xff\xfe\x00binary", "application/octet-stream", {"base64": "//4AYmluYXJ5"}),
    (b"", "application/json", {"string": ""}),
])
def test_response_bodies_round_trip_byte_for_byte(body, content_type, stored):
    data = {"version": 1, "interactions": [{
        "request": {"method": "GET", "uri": "https://api.openai.com/v1/files/f/content", "body": None,
                    "headers": {"accept": ["*/*"]}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {"content-type": [content_type]},
                     "body": {"string": body}}}]}
    text = CassetteSerializer.serialize(data)
    assert yaml.safe_load(text)["interactions"][0]["response"]["body"] == stored
    back = CassetteSerializer.deserialize(text)["interactions"][0]["response"]
    assert back["body"]["string"] == body
    assert back["headers"]["content-length"] == [str(len(body))]


def test_multipart_is_rebuilt_with_the_stored_boundary_and_compared_without_it():
    def upload(boundary: str) -> bytes:
        return (f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n'
                f'Content-Type: application/octet-stream\r\n\r\n{{"custom_id": "a"}}\n\r\n--{boundary}--\r\n').encode()

    data = {"version": 1, "interactions": [{
        "request": {"method": "POST", "uri": "https://api.openai.com/v1/files", "body": upload("b1"),
                    "headers": {"content-type": ["multipart/form-data; boundary=b1"]}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}}}]}
    text = CassetteSerializer.serialize(data)
    parts = yaml.safe_load(text)["interactions"][0]["request"]["body"]["multipart"]
    assert parts == [{"name": "purpose", "string": "batch"},
                     {"name": "file", "filename": "in.jsonl", "content_type": "application/octet-stream",
                      "jsonl": [{"custom_id": "a"}]}]  # a .jsonl file part is stored line by line
    rebuilt = CassetteSerializer.deserialize(text)["interactions"][0]["request"]["body"]
    assert body_view(rebuilt, "multipart/form-data; boundary=b1") == body_view(
        upload("other"), "multipart/form-data; boundary=other")
    assert body_view(upload("b2").replace(b'"a"', b'"b"'), "multipart/form-data; boundary=b2") != body_view(
        rebuilt, "multipart/form-data; boundary=b1")


def test_metadata_comes_first_and_json_keys_keep_their_order():
    data = {"version": 1, "metadata": {"provider": "openai"}, "interactions": [{
        "request": {"method": "POST", "uri": "https://api.openai.com/v1/batches",
                    "body": json.dumps({"z": 1, "a": 2}).encode(), "headers": {"content-type": ["application/json"]}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}}}]}
    text = CassetteSerializer.serialize(data)
    assert text.splitlines()[:4] == [HEADER.strip(), "metadata:", "  provider: openai", "version: 1"]
    assert text.endswith("\n" + FOOTER)
    assert list(yaml.safe_load(text)["interactions"][0]["request"]["body"]["json"]) == ["z", "a"]


TRICKY_YAML = """
a: &shared [1, 2, {b: yes, c: ~, d: 1.5, e: 0x1f, f: 2001-12-14, g: '123', h: "x\\ny", i: !!str 5, k: ''}]
b: *shared
c: {<<: {m: 1}, n: 2}
d: !!binary aGVsbG8=
e: [.inf, 1_000, 0o17, +12, 1e3, True, Off, '~', null, "null"]
f: |
  multi
  line
g: !!set {x, y}
h: 12:30:00
"""


@pytest.mark.parametrize("text", [TRICKY_YAML, "", "- 1\n- two\n", "just a string\n"], ids=repr)
def test_the_cassette_loader_reads_yaml_as_safe_load_does(text):
    from pytest_batch.cassettes.format import _load_yaml

    assert _load_yaml(text) == yaml.safe_load(text)
    assert _load_yaml(text) == yaml.safe_load(text)  # again: the remembered tags give the same answer


def test_the_cassette_loader_reads_the_shipped_cassettes_as_safe_load_does():
    from pathlib import Path

    from pytest_batch.cassettes.format import _load_yaml

    shipped = sorted((Path(__file__).resolve().parents[2] / "cassettes").rglob("*.yaml"))
    assert shipped
    for path in shipped:
        text = path.read_text()
        assert _load_yaml(text) == yaml.safe_load(text), path


def test_an_alias_is_one_object_and_a_recursive_one_terminates():
    from pytest_batch.cassettes.format import _load_yaml

    loaded = _load_yaml("a: &x [1]\nb: *x\nr: &r [*r]\n")
    assert loaded["a"] is loaded["b"]
    assert loaded["r"][0] is loaded["r"]


def test_a_parsed_cassette_is_compiled_once_and_an_edit_is_parsed_again(tmp_path, monkeypatch):
    from pathlib import Path

    from pytest_batch.cassettes import format as cassette_format
    from pytest_batch.cassettes.format import COMPILED

    text = (Path(__file__).resolve().parents[2] / "cassettes" / "openai" / "test_users" / "test_users.yaml").read_text()
    monkeypatch.setattr(COMPILED, "directory", None)
    COMPILED.use(tmp_path)
    parsed = CassetteSerializer.deserialize(text)  # parses the YAML and compiles it
    assert len(list(tmp_path.rglob("*.marshal"))) == 1

    def no_yaml(text):
        raise AssertionError("the YAML was parsed again")

    monkeypatch.setattr(cassette_format, "_load_yaml", no_yaml)
    assert CassetteSerializer.deserialize(text) == parsed  # from the compiled file alone
    with pytest.raises(AssertionError, match="parsed again"):
        CassetteSerializer.deserialize(text + "# edited\n")  # another text: never a stale compiled copy
    for damaged in tmp_path.rglob("*.marshal"):
        damaged.write_bytes(b"\x00garbage")
    monkeypatch.undo()
    COMPILED.use(tmp_path)
    assert CassetteSerializer.deserialize(text) == parsed  # a damaged file is parsed again, not trusted
    COMPILED.use(None)
