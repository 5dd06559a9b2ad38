"""Every batch command against an emulator server on loopback (``--base-url``), the
distinct exit codes of ``status``, and ``serve`` delegating to the emulator server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Clock, Emulator
from pytest_batch.sim.server import start_server
from tests.cli.conftest import EXAMPLES, clean_env

OPENAI = "openai/gpt-4o-mini"


@pytest.fixture
def server():
    emulator = Emulator(lifecycle="immediate", clock=Clock(), expectations=seed_expectations())
    handle = start_server(emulator)
    yield handle
    handle.stop()


def test_every_command_against_a_server(cli, server):
    root = ("--model", OPENAI, "--base-url", server.url)  # the server's root URL...
    per_provider = ("--model", OPENAI, "--base-url", server.base_urls["openai"])  # ...or the printed base URL

    # building the request file needs no key and no server
    built = cli("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), "--model", OPENAI,
                "--output-file", "req.jsonl")
    assert built.code == 0, built
    lines = [json.loads(line) for line in (cli.cwd / "req.jsonl").read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"user-{i}" for i in range(1, 11)]
    assert all(line["url"] == "/v1/chat/completions" for line in lines)

    submitted = cli("submit", "--file-path", "req.jsonl", *per_provider, "--json")
    assert submitted.code == 0, submitted
    first = submitted.json()["id"]
    second = cli("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), *root, "--json").json()["id"]

    listed = cli("list", *root, "--limit", "5", "--json")
    assert listed.code == 0, listed
    assert {first, second} <= {job["id"] for job in listed.json()}

    cancelled = cli("cancel", "--batch-id", second, *root, "--json")
    assert cancelled.code == 0, cancelled
    assert cancelled.json()["status"] in ("cancelling", "cancelled")
    server.emulator.advance()
    assert cli("status", "--batch-id", second, *root).code == 5  # cancelled

    waited = cli("status", "--batch-id", first, *per_provider, "--wait")
    assert waited.code == 0, waited
    assert "completed" in waited.out

    results = cli("results", "--batch-id", first, *root, "--output-file", "users.jsonl",
                  "--response-model", "pytest_batch.seed:User", "--json")
    assert results.json() == {"batch_id": first, "output_file": "users.jsonl", "succeeded": 10, "failed": 0,
                              "format": "parsed", "status": "completed", "requests": 10, "never_ran": 0,
                              "not_returned": 0}
    values = [json.loads(line)["value"] for line in (cli.cwd / "users.jsonl").read_text().splitlines()]
    assert sorted(values, key=lambda v: v["name"]) == sorted((u.model_dump() for u in EXPECTED_USERS),
                                                              key=lambda v: v["name"])

    deleted = cli("delete", "--batch-id", first, *root)  # OpenAI has no batch deletion: one clear line
    assert deleted.code == 1 and len(deleted.err.strip().splitlines()) == 1, deleted
    assert "cannot be deleted" in deleted.err and "only their files can" in deleted.err  # completed: no cancel advice
    assert "pytest-batch cancel" not in deleted.err

    gemini = cli("list", "--model", "google/gemini-2.0-flash-001", "--base-url", server.base_urls["google"])
    assert gemini.code == 0 and "No google batches" in gemini.out, gemini


def _submit(emulator: Emulator) -> str:
    from pytest_batch.processor import BatchProcessor

    processor = BatchProcessor(OPENAI, response_model=User, client=emulator.openai_client())
    return processor.submit(list(SEED_PROMPTS[:2])).id


def test_status_exit_codes_tell_how_the_batch_ended(cli, server, fake_clock):
    emulator = server.emulator
    emulator.faults.batch("validation_failure")
    failed = _submit(emulator)
    emulator.faults.batch("expire")
    expired = _submit(emulator)
    emulator.set_lifecycle("manual", next_batch=True)
    running = _submit(emulator)
    target = ("--model", OPENAI, "--base-url", server.url, "--wait")

    assert cli("status", "--batch-id", failed, *target).code == 3
    assert cli("status", "--batch-id", expired, *target).code == 4
    timed_out = cli("status", "--batch-id", running, *target, "--timeout", "0.2", "--interval", "0.1", "--json")
    assert timed_out.code == 6, timed_out
    assert timed_out.out == ""
    assert timed_out.err.strip() == (f"❌ Error: batch {running} is still validating after --timeout 0.2s; "
                                     "run `status --wait` again, or raise --timeout")
    assert fake_clock.sleeps == [0.1, 0.1]


def test_serve_delegates_to_the_emulator_server(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "pytest_batch.cli", "serve", "--port", "0"], cwd=tmp_path,
                               env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = []
        for line in process.stdout:
            printed.append(line)
            if "Ctrl+C" in line:
                break
        assert any(line.startswith("export OPENAI_BASE_URL=http://127.0.0.1:") for line in printed), printed
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
