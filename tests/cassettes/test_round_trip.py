"""Record each provider's whole lifecycle through the loopback emulator, replay it offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pytest_batch.cassettes import cassette_path, use_cassette
from pytest_batch.cassettes.format import FOOTER, HEADER
from pytest_batch.seed import EXPECTED_USERS
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .conftest import (
    MODELS,
    PROMPTS,
    RUNS,
    client_for,
    openai_poll,
    openai_submit,
    openai_users,
)


def _distinct(states: list[str]) -> list[str]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


def _record(provider: str, server: ServerHandle, path: Path, **kwargs) -> dict:
    with use_cassette(path, mode="record", provider=provider, model=MODELS[provider], nodeid="t.py::x") as session:
        outcome = RUNS[provider](client_for(provider, server.base_urls[provider], **kwargs))
    assert session.cassette is not None
    return outcome


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_lifecycle_recorded_on_the_emulator_replays_offline_on_the_default_host(provider, server, cassette):
    recorded = _record(provider, server, cassette)
    assert recorded["users"] == list(EXPECTED_USERS[: len(PROMPTS)])
    server.stop()

    with use_cassette(cassette, mode="replay", provider=provider, model=MODELS[provider]):
        replayed = RUNS[provider](client_for(provider))  # SDK default host, no server running
    # identical consecutive polls were stored once: the replay walks the same states, maybe in fewer polls
    assert _distinct(replayed["states"]) == _distinct(recorded["states"])
    assert len(replayed["states"]) <= len(recorded["states"])
    assert (replayed["batch_id"], replayed["users"]) == (recorded["batch_id"], recorded["users"])

    text = cassette.read_text()
    assert "127.0.0.1" not in text  # every emulator URL now names the provider's real host
    document = yaml.safe_load(text)
    uris = {i["request"]["uri"].split("/")[2] for i in document["interactions"]}
    assert uris == {{"openai": "api.openai.com", "anthropic": "api.anthropic.com",
                     "google": "generativelanguage.googleapis.com"}[provider]}


def test_metadata_sits_at_the_top_and_names_what_was_recorded(server, cassette):
    _record("openai", server, cassette)
    text = cassette.read_text()
    assert text.startswith(HEADER + "metadata:\n") and text.endswith(FOOTER)
    metadata = yaml.safe_load(text)["metadata"]
    assert metadata["provider"] == "openai"
    assert metadata["model"] == "gpt-4o-mini"
    assert metadata["recorded_against"] == "emulator"
    assert "pending" not in metadata
    assert metadata["recorded_at"].endswith("Z")
    import openai

    assert metadata["sdk_versions"]["openai"] == openai.__version__
    assert set(metadata["sdk_versions"]) == {"openai", "anthropic", "google-genai", "pytest-batch"}


def test_bodies_are_stored_as_data_not_strings(server, cassette):
    _record("openai", server, cassette)
    interactions = yaml.safe_load(cassette.read_text())["interactions"]
    upload, create = interactions[0], interactions[1]
    file_part = next(p for p in upload["request"]["body"]["multipart"] if p["name"] == "file")
    assert file_part["filename"] == "in.jsonl"
    assert [line["custom_id"] for line in file_part["jsonl"]] == ["request-1", "request-2", "request-3"]
    assert create["request"]["body"]["json"]["endpoint"] == "/v1/chat/completions"
    assert create["response"]["body"]["json"]["object"] == "batch"
    content = interactions[-1]
    assert content["request"]["uri"].endswith("/content")
    assert [row["custom_id"] for row in content["response"]["body"]["jsonl"]] == ["request-1", "request-2",
                                                                                  "request-3"]


def test_anthropic_results_url_in_the_cassette_points_at_the_real_host(server, cassette):
    _record("anthropic", server, cassette)
    bodies = [i["response"]["body"].get("json") or {} for i in yaml.safe_load(cassette.read_text())["interactions"]]
    results_urls = {b["results_url"] for b in bodies if b.get("results_url")}
    assert len(results_urls) == 1
    assert results_urls.pop().startswith("https://api.anthropic.com/v1/messages/batches/")


def test_gemini_upload_url_points_at_the_real_host_without_its_upload_id(server, cassette):
    _record("google", server, cassette)
    interactions = yaml.safe_load(cassette.read_text())["interactions"]
    upload_urls = [i["response"]["headers"]["x-goog-upload-url"] for i in interactions
                   if "x-goog-upload-url" in i["response"]["headers"]]
    assert len(upload_urls) == 1
    assert upload_urls[0].startswith("https://generativelanguage.googleapis.com/")
    assert "upload_id=REDACTED" in upload_urls[0]


def test_gzip_responses_are_stored_decoded(cassette, monkeypatch):
    emulator = Emulator(seed=7)
    import gzip

    def gzipped(request):  # a server that compresses, as the real APIs do
        from pytest_batch.sim.http import SimResponse

        body = gzip.compress(json.dumps({"object": "list", "data": [], "has_more": False}).encode())
        return SimResponse(200, {"content-type": "application/json", "content-encoding": "gzip"}, body)

    monkeypatch.setattr(emulator, "handle", gzipped)
    with start_server(emulator) as server:
        with use_cassette(cassette, mode="record", provider="openai", model=None):
            assert client_for("openai", server.base_urls["openai"]).batches.list().data == []
    response = yaml.safe_load(cassette.read_text())["interactions"][0]["response"]
    assert response["body"] == {"json": {"object": "list", "data": [], "has_more": False}}
    assert "content-encoding" not in response["headers"]
    with use_cassette(cassette, mode="replay", provider="openai", model=None):
        assert client_for("openai").batches.list().has_more is False


def test_identical_polls_are_stored_once_and_replay_in_order_then_repeat(emulator, cassette):
    emulator.set_lifecycle("manual")
    with start_server(emulator) as server:
        client = client_for("openai", server.base_urls["openai"])
        with use_cassette(cassette, mode="record", provider="openai", model=None):
            batch_id = openai_submit(client)
            first = [client.batches.retrieve(batch_id).status for _ in range(4)]
            emulator.advance()
            recorded = openai_poll(client, batch_id)
            users = openai_users(client, batch_id)
    assert first == ["validating"] * 4
    polls = [i for i in yaml.safe_load(cassette.read_text())["interactions"]
             if i["request"]["method"] == "GET" and i["request"]["uri"].endswith(batch_id)]
    assert [p["response"]["body"]["json"]["status"] for p in polls] == ["validating", "completed"]

    with use_cassette(cassette, mode="replay", provider="openai", model=None):
        replay = client_for("openai")
        assert openai_submit(replay) == batch_id
        # one poll instead of four: the recorded states still come in order, then the last repeats
        assert openai_poll(replay, batch_id) == ["validating", "completed"]
        assert [replay.batches.retrieve(batch_id).status for _ in range(3)] == ["completed"] * 3
        assert openai_users(replay, batch_id) == users
    assert recorded == ["completed"]


def test_a_test_that_polls_fewer_times_and_moves_on_sees_the_state_recorded_at_that_point(server, cassette):
    with use_cassette(cassette, mode="record", provider="openai", model=None):
        client = client_for("openai", server.base_urls["openai"])
        batch_id = openai_submit(client)
        recorded = openai_poll(client, batch_id)
        output_file_id = client.batches.retrieve(batch_id).output_file_id
        text = client.files.content(output_file_id).text
    polls = [i for i in yaml.safe_load(cassette.read_text())["interactions"]
             if i["request"]["method"] == "GET" and i["request"]["uri"].endswith(batch_id)]
    # polls:3 stores two in_progress states (their counts differ) before completed
    assert [p["response"]["body"]["json"]["status"] for p in polls] == ["in_progress", "in_progress", "completed"]
    server.stop()
    with use_cassette(cassette, mode="replay", provider="openai", model=None):
        replay = client_for("openai")
        assert openai_submit(replay) == batch_id
        assert replay.batches.retrieve(batch_id).status == recorded[0]  # one poll only
        assert replay.files.content(output_file_id).text == text  # recorded after the last poll
        assert replay.batches.retrieve(batch_id).status == "completed"  # caught up, not the 2nd poll


def test_a_recording_that_fails_leaves_the_previous_cassette_alone(server, cassette):
    _record("openai", server, cassette)
    before = cassette.read_text()
    with pytest.raises(RuntimeError, match="boom"):
        with use_cassette(cassette, mode="record", provider="openai", model=None):
            client_for("openai", server.base_urls["openai"]).batches.list()
            raise RuntimeError("boom")
    assert cassette.read_text() == before
    assert [p.name for p in cassette.parent.iterdir()] == [cassette.name]  # no temp file left behind


def test_async_clients_record_and_replay_too(server, cassette):
    import asyncio

    import openai

    async def lifecycle(client) -> list[str]:
        line = b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}\n'
        upload = await client.files.create(file=("in.jsonl", line), purpose="batch")
        batch = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                            completion_window="24h")
        states = []
        while batch.status != "completed":
            batch = await client.batches.retrieve(batch.id)
            states.append(batch.status)
        return states

    with use_cassette(cassette, mode="record", provider="openai", model=None):
        recorded = asyncio.run(lifecycle(openai.AsyncOpenAI(base_url=server.base_urls["openai"], api_key="k")))
    server.stop()
    with use_cassette(cassette, mode="replay", provider="openai", model=None):
        replayed = asyncio.run(lifecycle(openai.AsyncOpenAI(api_key="k", max_retries=0)))
    assert replayed[-1] == recorded[-1] == "completed"


def test_cassette_path_layout_and_unsafe_test_names(tmp_path):
    path = cassette_path(tmp_path, "openai", "tests/test_extract.py", "test_users[openai-gpt 4o/mini]")
    assert path == tmp_path / "openai" / "test_extract" / "test_users-openai-gpt-4o-mini.yaml"
    assert cassette_path(tmp_path, "google", "tests.test_x", "test_y").relative_to(tmp_path).parts == (
        "google", "test_x", "test_y.yaml")
