"""No key ever reaches a cassette file: scrubbed before writing, refused if one slips through."""

from __future__ import annotations

import base64
import random
import string

import httpx2
import openai
import pytest

from pytest_batch.cassettes import CassetteError, check_cassettes, use_cassette
from pytest_batch.cassettes.format import CassetteSerializer
from pytest_batch.cassettes.persist import refuse_if_secret

from .conftest import MODELS, PROMPTS, RUNS, client_for


def _token(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


# Built at runtime so no real-looking key sits in the repository for a secret scanner to flag.
OPENAI_KEY = "sk-" + "proj-" + _token(40, 1)
ANTHROPIC_KEY = "sk-" + "ant-api03-" + _token(40, 2)
GOOGLE_KEY = "AI" + "za" + _token(35, 3)
ORGANIZATION, PROJECT = "org-" + _token(24, 4), "proj_" + _token(24, 5)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("GOOGLE_API_KEY", GOOGLE_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GOOGLE_KEY)
    return {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, "google": GOOGLE_KEY}


def _assert_clean(text: str) -> None:
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY, ORGANIZATION, PROJECT):
        assert secret not in text
    for fragment in (OPENAI_KEY[:12], ANTHROPIC_KEY[:14], GOOGLE_KEY[:10], "upload_id=" + "u"):
        assert fragment not in text


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_keys_from_headers_and_environment_never_reach_the_cassette(provider, keys, server, cassette):
    extra = {"organization": ORGANIZATION, "project": PROJECT} if provider == "openai" else {}
    with use_cassette(cassette, mode="record", provider=provider, model=MODELS[provider]):
        RUNS[provider](client_for(provider, server.base_urls[provider], api_key=keys[provider], **extra))
    text = cassette.read_text()
    _assert_clean(text)
    assert "REDACTED" in text
    assert check_cassettes(cassette.parent).secrets == {}
    # and the scrubbed cassette still replays
    server.stop()
    with use_cassette(cassette, mode="replay", provider=provider, model=MODELS[provider]):
        assert len(RUNS[provider](client_for(provider))["users"]) == len(PROMPTS)


def test_key_query_parameter_and_key_inside_an_url_are_scrubbed(keys, server, cassette):
    with use_cassette(cassette, mode="record", provider="google", model=None):
        with httpx2.Client() as http:
            http.get(f"{server.base_urls['google']}/v1beta/batches", params={"key": GOOGLE_KEY, "pageSize": "5"})
    text = cassette.read_text()
    _assert_clean(text)
    assert "key=REDACTED" in text and "pageSize=5" in text
    with use_cassette(cassette, mode="replay", provider="google", model=None):
        with httpx2.Client() as http:  # the same call replays: the key is not part of the match
            response = http.get("https://generativelanguage.googleapis.com/v1beta/batches",
                                params={"key": "another-key-value", "pageSize": "5"})
    assert response.status_code == 200


def _echoing_server(answer: dict):
    from pytest_batch.sim import Emulator
    from pytest_batch.sim.server import start_server

    emulator = Emulator(seed=7)
    emulator.expect(answer, match="Alice")
    return start_server(emulator)


def test_a_key_not_in_the_environment_echoed_in_a_response_is_scrubbed_by_its_shape(monkeypatch, cassette):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    leaked = "sk-" + "proj-" + _token(40, 9)  # not an env value: only its shape gives it away
    with _echoing_server({"name": leaked, "age": 1}) as server:
        with use_cassette(cassette, mode="record", provider="openai", model=None):
            RUNS["openai"](client_for("openai", server.base_urls["openai"]), PROMPTS[:1])
    text = cassette.read_text()
    assert leaked not in text and leaked[:12] not in text
    assert "REDACTED" in text
    assert check_cassettes(cassette.parent).secrets == {}


# one key of every shape, none in the environment: passed in code, pasted in a prompt
SHAPED_KEYS = {
    "openai": "sk-" + "proj-" + _token(40, 21),
    "anthropic": "sk-" + "ant-api03-" + _token(40, 22),
    "google": "AI" + "za" + _token(35, 23),
    "bearer": "Bearer " + _token(32, 24),
}


def _base64_blocks(text: str) -> list[bytes]:
    return [base64.b64decode(line.split("base64:", 1)[1].strip()) for line in text.splitlines() if "base64:" in line]


@pytest.mark.parametrize("shape", sorted(SHAPED_KEYS))
def test_a_key_passed_in_code_inside_a_non_utf8_upload_never_reaches_the_cassette(monkeypatch, server, cassette,
                                                                                  shape):
    """A body that is not UTF-8 is stored as base64: the scrubber reads the bytes, not the YAML."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    key = SHAPED_KEYS[shape]
    upload = b"\xff\xfe " + key.encode() + b"\n"

    def send(client) -> int:
        try:
            return client.files.create(file=("in.jsonl", upload), purpose="batch").bytes
        except openai.BadRequestError as error:  # the emulator may refuse the file: it is recorded all the same
            return error.status_code

    with use_cassette(cassette, mode="record", provider="openai", model=None):
        recorded = send(client_for("openai", server.base_urls["openai"], api_key=SHAPED_KEYS["openai"]))
    text = cassette.read_text()
    blocks = _base64_blocks(text)
    assert blocks, "the upload is stored as a base64 block"
    secret = key.removeprefix("Bearer ")
    assert all(secret.encode() not in block and secret[:12].encode() not in block for block in blocks)
    assert secret not in text and secret[:12] not in text
    assert b"REDACTED" in blocks[0] and blocks[0].startswith(b"\xff\xfe ")
    assert check_cassettes(cassette.parent).secrets == {}
    server.stop()
    with use_cassette(cassette, mode="replay", provider="openai", model=None):  # the same upload still replays
        assert send(client_for("openai")) == recorded


def test_the_refuse_check_decodes_base64_blocks(tmp_path):
    """A key that slipped past scrubbing into a non-UTF-8 body is still refused, and named by line only."""
    key = SHAPED_KEYS["anthropic"]
    text = CassetteSerializer.serialize({"interactions": [{
        "request": {"method": "POST", "uri": "https://api.openai.com/v1/files", "headers": {},
                    "body": b"\xff\xfe " + key.encode()},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}},
    }]})
    assert "base64:" in text and key not in text
    path = tmp_path / "cassettes" / "openai" / "test_mod" / "test_x.yaml"
    with pytest.raises(CassetteError) as info:
        refuse_if_secret(path, text)
    message = str(info.value)
    assert "refused to write" in message and "Anthropic API key (sk-ant-…) in a base64 body" in message
    assert key not in message and key[:12] not in message
    assert not path.exists()
    path.parent.mkdir(parents=True)
    path.write_text(text)  # and a cassette written by hand with one fails the folder check
    findings = check_cassettes(tmp_path / "cassettes").secrets[path]
    assert [f.kind for f in findings] == ["Anthropic API key (sk-ant-…) in a base64 body"]


def test_an_env_key_echoed_in_a_response_body_is_scrubbed(monkeypatch, cassette):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    with _echoing_server({"name": OPENAI_KEY, "age": 1}) as server:
        with use_cassette(cassette, mode="record", provider="openai", model=None):
            RUNS["openai"](client_for("openai", server.base_urls["openai"], api_key=OPENAI_KEY), PROMPTS[:1])
    text = cassette.read_text()
    _assert_clean(text)
    assert "REDACTED-OPENAI_API_KEY" in text


def test_check_cassettes_reports_secrets_stale_and_pending(tmp_path, server):
    root = tmp_path / "cassettes"
    used = root / "openai" / "test_mod" / "test_used.yaml"
    with use_cassette(used, mode="record", provider="openai", model=None):
        client_for("openai", server.base_urls["openai"]).batches.list()
    stale = root / "openai" / "test_mod" / "test_removed.yaml"
    stale.write_text(used.read_text())
    leaking = root / "google" / "test_mod" / "test_leak.yaml"
    leaking.parent.mkdir(parents=True)
    leaking.write_text(used.read_text() + "# " + "Authorization: Bearer " + _token(32, 7) + "\n"
                       + "# https://x.test/v1?key=" + GOOGLE_KEY + "\n")
    report = check_cassettes(root, used_paths=[used, leaking])
    assert report.stale == [stale]
    assert list(report.secrets) == [leaking]
    kinds = {finding.kind for finding in report.secrets[leaking]}
    assert {"Bearer token", "Google API key (AIza…)", "key= query parameter"} <= kinds
    assert not report.ok
    text = report.format()
    assert "stale: " in text and str(stale) in text and GOOGLE_KEY not in text
    assert check_cassettes(root).stale == []  # without used paths nothing is called stale
    clean = check_cassettes(root, used_paths=[used, stale, leaking])
    assert clean.stale == [] and list(clean.secrets) == [leaking]
