"""The example a user copies first, with the cassettes shipped beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_examples_replay_the_shipped_cassettes_on_every_provider() -> None:
    run = subprocess.run([sys.executable, "-m", "pytest", "examples", "--batch-provider=all", "--batch-mode=replay",
                          "-p", "no:cacheprovider", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
    rows = {line.split()[0]: line.split()[1] for line in run.stdout.splitlines() if line.startswith("  ")}
    assert {rows.get(provider) for provider in ("openai", "anthropic", "google")} == {"replay"}


def test_shipped_cassettes_say_they_were_recorded_against_the_emulator() -> None:
    for provider in ("openai", "anthropic", "google"):
        cassette = yaml.safe_load((ROOT / "cassettes" / provider / "test_users" / "test_users.yaml").read_text())
        metadata = cassette["metadata"]
        assert metadata["provider"] == provider and metadata["recorded_against"] == "emulator"
        assert {"openai", "anthropic", "google-genai", "pytest-batch"} <= set(metadata["sdk_versions"])
