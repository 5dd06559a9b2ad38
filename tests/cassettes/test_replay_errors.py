"""What replay says when it cannot answer: the request, the closest recording, the fix."""

from __future__ import annotations

import openai
import pytest

from pytest_batch.cassettes import CassetteError, CassetteMismatch, use_cassette

from .conftest import (
    PROMPTS,
    client_for,
    openai_lines,
    openai_poll,
    openai_submit,
    openai_users,
    run_openai,
)

NODEID = "tests/test_extract.py::test_users[openai]"


def _record_openai(server, cassette, prompts=PROMPTS) -> dict:
    with use_cassette(cassette, mode="record", provider="openai", model="gpt-4o-mini", nodeid=NODEID):
        return run_openai(client_for("openai", server.base_urls["openai"]), prompts)


def test_missing_cassette_names_the_path_and_the_record_command(cassette):
    with pytest.raises(CassetteError) as info:
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            pass
    message = str(info.value)
    assert str(cassette) in message
    assert "pytest 'tests/test_extract.py::test_users[openai]' --batch-mode=record" in message


def test_an_unrecorded_request_fails_with_the_closest_recording_and_the_difference(server, cassette):
    _record_openai(server, cassette)
    server.stop()
    with pytest.raises(CassetteMismatch) as info:
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            client = client_for("openai")
            upload = client.files.create(file=("in.jsonl", openai_lines(PROMPTS)), purpose="batch")
            client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"run": "changed"})
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0].startswith(f"pytest-batch: cassette {cassette} has no recorded response")
    assert "  POST https://api.openai.com/v1/batches" in lines
    assert "Closest recorded request (interaction 2 of" in message
    assert "Difference:" in message
    assert '+  "metadata": {' in message and '+    "run": "changed"' in message  # the unified body diff
    assert lines[-1] == ("To re-record this cassette: pytest 'tests/test_extract.py::test_users[openai]' "
                         "--batch-mode=record (recorded against an emulator: start `pytest-batch serve` and export "
                         "the *_BASE_URL lines it prints first)")  # the cassette's metadata says so


def test_a_mismatch_is_not_swallowed_by_the_sdk_retry_loop(server, cassette):
    _record_openai(server, cassette)
    server.stop()
    with pytest.raises(CassetteMismatch, match="GET https://api.openai.com/v1/batches/batch_unknown"):
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            # default retries on: a plain Exception would become APIConnectionError after backoff
            openai.OpenAI(api_key="replay-key").batches.retrieve("batch_unknown")


def test_a_submit_repeated_more_often_than_recorded_is_a_mismatch(server, cassette):
    recorded = _record_openai(server, cassette)
    server.stop()
    with pytest.raises(CassetteMismatch, match="already played"):
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            client = client_for("openai")
            assert openai_submit(client) == recorded["batch_id"]
            openai_submit(client)


def test_multipart_uploads_match_by_content_not_boundary(server, cassette):
    recorded = _record_openai(server, cassette)
    server.stop()
    with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
        client = client_for("openai")  # the SDK draws a fresh random boundary for this upload
        batch_id = openai_submit(client)
        openai_poll(client, batch_id)
        assert openai_users(client, batch_id) == recorded["users"]
    with pytest.raises(CassetteMismatch) as info:
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            openai_submit(client_for("openai"), [PROMPTS[0], PROMPTS[2], PROMPTS[1]])
    message = str(info.value)
    assert "POST https://api.openai.com/v1/files" in message
    assert '"filename": "in.jsonl"' in message  # parts are shown, and compared, as data
    assert "boundary" not in message.split("Difference:")[1]


def test_a_pending_cassette_does_not_replay(server, emulator, cassette):
    emulator.set_lifecycle("manual")
    with pytest.raises(Exception, match="still running"):
        with use_cassette(cassette, mode="record", provider="openai", model=None, nodeid=NODEID,
                          record_timeout=0) as session:
            client = client_for("openai", server.base_urls["openai"])
            batch_id = openai_submit(client)
            session.wait(lambda timeout: openai_poll(client, batch_id, max_polls=1), batch_id=batch_id)
    with pytest.raises(CassetteError, match="is pending .* Resume the recording with: pytest"):
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            pass
