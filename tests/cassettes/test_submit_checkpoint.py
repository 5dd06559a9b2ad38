"""A recording is saved as pending the moment its batch is created, so a run that dies before it
ends (kill -9, a CI timeout, Ctrl+C) never costs a second submission; a clean end decides the file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_batch.cassettes import is_pending, use_cassette

from .conftest import MODELS, PROMPTS, client_for, openai_poll, openai_submit, openai_users


def _metadata(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["metadata"]


def _submit_anthropic(client: Any) -> str:
    return client.messages.batches.create(requests=[{"custom_id": "a", "params": {
        "model": MODELS["anthropic"], "max_tokens": 64, "messages": [{"role": "user", "content": PROMPTS[0]}]}}]).id


def _submit_google(client: Any) -> str:
    data = json.dumps({"key": "a", "request": {"contents": [{"parts": [{"text": PROMPTS[0]}], "role": "user"}]}})
    uploaded = client.files.upload(file=io.BytesIO(data.encode() + b"\n"), config={"mime_type": "jsonl"})
    return client.batches.create(model=MODELS["google"], src=uploaded.name).name


SUBMITS = {"openai": openai_submit, "anthropic": _submit_anthropic, "google": _submit_google}


@pytest.mark.parametrize("provider", sorted(SUBMITS))
def test_the_cassette_is_pending_with_the_batch_id_as_soon_as_the_submit_returns(provider, emulator, server,
                                                                               cassette):
    emulator.set_lifecycle("manual")
    with use_cassette(cassette, mode="record", provider=provider, model=MODELS[provider]):
        batch_id = SUBMITS[provider](client_for(provider, server.base_urls[provider]))
        # nothing has polled yet: this is what a run killed here leaves behind
        assert is_pending(cassette)
        assert _metadata(cassette)["pending"]["batch_id"] == batch_id
        assert _metadata(cassette)["recorded_against"] == "emulator"
        assert not list(cassette.parent.glob(".*.tmp")), "written atomically: no temporary file left"
        emulator.advance()
    assert not is_pending(cassette), "a clean end replaces the checkpoint with the complete recording"


def test_a_killed_run_resumes_from_the_checkpoint_without_submitting_again(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    killed = use_cassette(cassette, mode="record", provider="openai", model=MODELS["openai"])
    killed.__enter__()
    batch_id = openai_submit(client_for("openai", server.base_urls["openai"]))
    # the process dies here: the block never ends (only vcrpy's patches are taken off, saving nothing)
    killed._vcr_context.__exit__(RuntimeError, RuntimeError("killed"), None)
    assert is_pending(cassette)
    emulator.advance()

    with use_cassette(cassette, mode="record", provider="openai", model=MODELS["openai"]):
        client = client_for("openai", server.base_urls["openai"])
        assert openai_submit(client) == batch_id  # replayed from the checkpoint
        assert openai_poll(client, batch_id) == ["completed"]
        users = openai_users(client, batch_id)
    assert len(emulator.journal.calls(method="POST", path_contains="batches")) == 1
    assert not is_pending(cassette)
    server.stop()
    with use_cassette(cassette, mode="replay", provider="openai", model=None):
        client = client_for("openai")
        assert openai_poll(client, openai_submit(client)) == ["completed"]
        assert openai_users(client, batch_id) == users


def test_a_failing_test_takes_its_checkpoint_back(emulator, server, cassette):
    """Record mode keeps only passing recordings: a new cassette disappears, an old one comes back."""
    with pytest.raises(AssertionError):
        with use_cassette(cassette, mode="record", provider="openai", model=MODELS["openai"]):
            openai_submit(client_for("openai", server.base_urls["openai"]))
            assert is_pending(cassette)
            raise AssertionError("the test failed")
    assert not cassette.exists()

    with use_cassette(cassette, mode="record", provider="openai", model=MODELS["openai"]):
        client = client_for("openai", server.base_urls["openai"])
        openai_poll(client, openai_submit(client))
    complete = cassette.read_text()
    with pytest.raises(AssertionError):
        with use_cassette(cassette, mode="record", provider="openai", model=MODELS["openai"]):
            openai_submit(client_for("openai", server.base_urls["openai"]), PROMPTS[:1])
            assert is_pending(cassette) and cassette.with_name(cassette.name + ".previous").read_text() == complete
            raise AssertionError("the test failed")
    assert cassette.read_text() == complete
    assert not cassette.with_name(cassette.name + ".previous").exists()


def test_ctrl_c_after_the_submit_leaves_the_recording_pending(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    with pytest.raises(KeyboardInterrupt):
        with use_cassette(cassette, mode="record", provider="openai", model=MODELS["openai"]):
            client = client_for("openai", server.base_urls["openai"])
            batch_id = openai_submit(client)
            client.batches.retrieve(batch_id)
            raise KeyboardInterrupt
    assert _metadata(cassette)["pending"]["batch_id"] == batch_id
    methods = [i["request"]["method"] for i in yaml.safe_load(cassette.read_text())["interactions"]]
    assert methods == ["POST", "POST", "GET"], "the polls made before the interrupt are kept too"
