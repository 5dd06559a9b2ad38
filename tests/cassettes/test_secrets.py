"""No key ever reaches a cassette file: scrubbed before writing, refused if one slips through."""

from __future__ import annotations

import random
import string

import httpx2
import pytest

from pytest_batch.cassettes import CassetteError, check_cassettes, use_cassette

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


def test_a_key_echoed_in_a_response_is_refused_and_nothing_is_written(monkeypatch, cassette):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    leaked = "sk-" + "proj-" + _token(40, 9)  # not an env value, so only the final scan can catch it
    with _echoing_server({"name": leaked, "age": 1}) as server:
        with pytest.raises(CassetteError) as info:
            with use_cassette(cassette, mode="record", provider="openai", model=None):
                RUNS["openai"](client_for("openai", server.base_urls["openai"]), PROMPTS[:1])
    message = str(info.value)
    assert "refused to write" in message and "OpenAI API key" in message
    assert leaked not in message  # the message names the line, never the key
    assert not cassette.exists()
    assert not cassette.parent.exists() or list(cassette.parent.iterdir()) == []


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
