"""Long batches: stop at record_timeout with a pending cassette, resume later, never submit twice."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from pytest_batch.cassettes import CassetteMismatch, RecordingPending, use_cassette

from .conftest import (
    MODELS,
    PROMPTS,
    client_for,
    openai_poll,
    openai_submit,
    openai_users,
)

NODEID = "tests/test_long.py::test_users[openai]"


def _metadata(path) -> dict:
    return yaml.safe_load(path.read_text())["metadata"]


def _record_openai(server, cassette, prompts=PROMPTS) -> dict:
    """What a test does in record mode: submit, wait within the deadline, read the results."""
    with use_cassette(cassette, mode="record", provider="openai", model="gpt-4o-mini", nodeid=NODEID,
                      record_timeout=0) as session:
        client = client_for("openai", server.base_urls["openai"])
        batch_id = openai_submit(client, prompts)
        states = session.wait(lambda timeout: openai_poll(client, batch_id, max_polls=2), batch_id=batch_id)
        return {"batch_id": batch_id, "states": states, "users": openai_users(client, batch_id)}


def test_a_batch_still_running_at_the_deadline_leaves_a_pending_cassette(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    with pytest.raises(RecordingPending) as info:
        _record_openai(server, cassette)
    batch_id = next(iter(emulator.openai.batches))
    assert info.value.batch_id == batch_id
    message = str(info.value)
    assert f"batch {batch_id} still running after 0s" in message
    assert f"run record mode again to resume: pytest {NODEID!r} --batch-mode=record" in message
    pending = _metadata(cassette)["pending"]
    assert pending["batch_id"] == batch_id and pending["record_timeout"] == 0
    methods = [i["request"]["method"] for i in yaml.safe_load(cassette.read_text())["interactions"]]
    assert methods == ["POST", "POST", "GET"]  # upload, create, one (collapsed) validating poll


def test_recording_again_resumes_the_same_batch_without_submitting_it_twice(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    with pytest.raises(RecordingPending):
        _record_openai(server, cassette)
    with pytest.raises(RecordingPending):  # still running: the second attempt stays pending too
        _record_openai(server, cassette)
    emulator.advance()  # the provider finishes the batch between runs

    finished = _record_openai(server, cassette)

    assert len(emulator.journal.calls(method="POST", path_contains="batches")) == 1
    assert len(emulator.journal.calls(method="POST", path_contains="files")) == 1
    assert finished["batch_id"] == next(iter(emulator.openai.batches))
    assert finished["states"] == ["completed"]
    assert "pending" not in _metadata(cassette)
    assert _metadata(cassette)["recorded_against"] == "emulator"

    server.stop()
    with use_cassette(cassette, mode="replay", provider="openai", model=None):
        client = client_for("openai")
        batch_id = openai_submit(client)
        # the whole history survives the resume: the first run's poll, then the resumed one
        assert openai_poll(client, batch_id) == ["validating", "completed"]
        assert openai_users(client, batch_id) == finished["users"]


def test_resuming_with_a_different_submission_is_refused(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    with pytest.raises(RecordingPending):
        _record_openai(server, cassette)
    before = cassette.read_text()
    with pytest.raises(CassetteMismatch) as info:
        _record_openai(server, cassette, prompts=PROMPTS[:2])
    assert "would submit again" in str(info.value)
    assert "POST https://api.openai.com/v1/files" in str(info.value)
    assert len(emulator.journal.calls(method="POST", path_contains="files")) == 1
    assert len(emulator.journal.calls(method="POST", path_contains="batches")) == 1
    assert cassette.read_text() == before  # still pending, untouched


def test_a_timeout_escaping_the_block_becomes_pending_with_the_detected_batch_id(emulator, server, cassette):
    emulator.set_lifecycle("manual")

    def attempt() -> list:
        client = client_for("anthropic", server.base_urls["anthropic"])  # importing the SDK is no part of the 5 s
        with use_cassette(cassette, mode="record", provider="anthropic", model=MODELS["anthropic"],
                          record_timeout=5) as session:
            batch = client.messages.batches.create(requests=[{"custom_id": "a", "params": {
                "model": MODELS["anthropic"], "max_tokens": 64,
                "messages": [{"role": "user", "content": PROMPTS[0]}]}}])
            batch = client.messages.batches.retrieve(batch.id)
            if batch.processing_status != "ended":
                assert 0 < session.remaining() <= 5
                raise TimeoutError("processor gave up")  # e.g. BatchTimeoutError from bp.wait
            return list(client.messages.batches.results(batch.id))

    with pytest.raises(RecordingPending) as info:
        attempt()
    batch_id = next(iter(emulator.anthropic.batches))
    assert info.value.batch_id == batch_id and _metadata(cassette)["pending"]["batch_id"] == batch_id
    emulator.advance()
    results = attempt()
    assert [r.custom_id for r in results] == ["a"]
    assert len(emulator.journal.calls(method="POST", path_contains="batches")) == 1


def test_gemini_resume_replays_the_resumable_upload_and_the_create(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    rows = [{"key": "request-1", "request": {"contents": [{"parts": [{"text": PROMPTS[0]}], "role": "user"}]}}]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()

    def attempt() -> list:
        with use_cassette(cassette, mode="record", provider="google", model=MODELS["google"],
                          record_timeout=0) as session:
            client = client_for("google", server.base_urls["google"])
            uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl"})
            job = client.batches.create(model=MODELS["google"], src=uploaded.name)
            job = client.batches.get(name=job.name)
            if not job.done:
                session.check_deadline(job.name)
            return [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]

    with pytest.raises(RecordingPending):
        attempt()
    emulator.advance()
    lines = attempt()
    assert [line["key"] for line in lines] == ["request-1"]
    assert len(emulator.journal.calls(method="POST", path_contains="files")) == 2  # start + finalize, once
    assert len(emulator.journal.calls(method="POST", path_contains="batchGenerateContent")) == 1
