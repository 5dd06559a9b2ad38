"""The runnable example, and processors built from the environment alone (base URLs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator

ROOT = Path(__file__).resolve().parents[2]


def test_in_memory_example_runs_offline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "in_memory_batch_example.py")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for model in ("openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"):
        assert f"{model}: batch " in done.stdout and "10/10 succeeded" in done.stdout
    block = done.stdout.split("anthropic/")[0]
    assert [line.split(": ")[1] for line in block.splitlines() if line.startswith("  request-")] == \
        [f"{u.name}, {u.age}" for u in EXPECTED_USERS]
    assert list(tmp_path.iterdir()) == []  # in memory: nothing written


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"])
def test_clients_made_from_the_environment_reach_the_base_url(monkeypatch, model):
    from pytest_batch.sim.server import start_server

    emulator = Emulator(expectations=seed_expectations())
    with start_server(emulator) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
            monkeypatch.setenv(name, "sim-key")
        bp = BatchProcessor(model, User, sleep=lambda s: None)
        job = bp.wait(bp.submit(list(SEED_PROMPTS[:3])))
        assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS[:3])
    assert emulator.journal.calls(model.partition("/")[0])
