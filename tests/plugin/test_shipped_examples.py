"""The example a user copies first, with the cassettes shipped beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from pytest_batch.cassettes.scrub import is_loopback
from pytest_batch.cassettes.session import EMULATOR_HEADER

ROOT = Path(__file__).resolve().parents[2]


def test_examples_replay_the_shipped_cassettes_on_every_provider() -> None:
    run = subprocess.run([sys.executable, "-m", "pytest", "examples", "--batch-provider=all", "--batch-mode=replay",
                          "-p", "no:cacheprovider", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
    rows = {line.split()[0]: line.split()[1] for line in run.stdout.splitlines() if line.startswith("  ")}
    assert {rows.get(provider) for provider in ("openai", "anthropic", "google")} == {"replay"}


def test_shipped_cassettes_say_what_they_were_recorded_against() -> None:
    """``live`` or ``emulator``, whichever the recorded traffic shows: the emulator marks every
    response it sends with the ``x-pytest-batch-emulator`` header, a live API never does (so a
    cassette re-recorded live with keys passes too)."""
    for provider in ("openai", "anthropic", "google"):
        cassette = yaml.safe_load((ROOT / "cassettes" / provider / "test_users" / "test_users.yaml").read_text())
        metadata = cassette["metadata"]
        assert metadata["provider"] == provider
        assert {"openai", "anthropic", "google-genai", "pytest-batch"} <= set(metadata["sdk_versions"])
        marked = [interaction["request"]["uri"] for interaction in cassette["interactions"]
                  if str({name.lower(): value for name, value in interaction["response"]["headers"].items()}
                         .get(EMULATOR_HEADER)) == "1"]
        assert metadata["recorded_against"] in ("live", "emulator"), metadata
        if metadata["recorded_against"] == "emulator":
            assert marked, f"{provider}: labelled emulator, but no response carries {EMULATOR_HEADER}"
        else:
            assert not marked, f"{provider}: labelled live, but the emulator answered {marked}"
        assert not any(is_loopback(interaction["request"]["uri"]) for interaction in cassette["interactions"])
