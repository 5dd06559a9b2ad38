"""The examples a user copies first, with the cassettes shipped beside them: the ten users, and
the invoice pipeline (its own models, prompts, answers file and SDK client) in examples/invoices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_batch.cassettes.scrub import is_loopback
from pytest_batch.cassettes.session import EMULATOR_HEADER
from pytest_batch.endpoints import API_KEY_ENV, BASE_URL_ENV

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "cassettes").glob("*/*/*.yaml"))


def _run_examples(*options: str) -> subprocess.CompletedProcess[str]:
    """pytest on examples/ as a user runs it: no key, no base URL override (offline needs neither)."""
    unset = {*BASE_URL_ENV.values(), *(name for names in API_KEY_ENV.values() for name in names)}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    return subprocess.run([sys.executable, "-m", "pytest", "examples", "--batch-provider=all", "-p",
                           "no:cacheprovider", "-q", *options], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def _modes(stdout: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in stdout.splitlines() if line.startswith("  ")}


def test_examples_replay_the_shipped_cassettes_on_every_provider() -> None:
    run = _run_examples("--batch-mode=replay")
    assert run.returncode == 0, run.stdout + run.stderr
    # test_users and two invoice tests per provider; the invoice test injecting a fault simulates only
    assert "9 passed, 3 skipped" in run.stdout, run.stdout
    assert {_modes(run.stdout).get(provider) for provider in ("openai", "anthropic", "google")} == {"replay"}


def test_examples_simulate_on_every_provider_without_a_key() -> None:
    run = _run_examples("--batch-mode=simulate")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "12 passed" in run.stdout, run.stdout


def test_the_invoice_example_ships_a_cassette_for_every_provider() -> None:
    for provider in ("openai", "anthropic", "google"):
        for test in ("test_extracts_every_document", "test_the_batch_processor_fixture_extracts_invoices_too"):
            assert ROOT / "cassettes" / provider / "test_invoice_pipeline" / f"{test}.yaml" in SHIPPED


@pytest.mark.parametrize("cassette", SHIPPED, ids=lambda path: "/".join(path.parts[-3:]))
def test_shipped_cassettes_say_what_they_were_recorded_against(cassette: Path) -> None:
    """``live`` or ``emulator``, whichever the recorded traffic shows: the emulator marks every
    response it sends with the ``x-pytest-batch-emulator`` header, a live API never does (so a
    cassette re-recorded live with keys passes too)."""
    provider = cassette.parts[-3]
    data = yaml.safe_load(cassette.read_text())
    metadata = data["metadata"]
    assert metadata["provider"] == provider
    assert {"openai", "anthropic", "google-genai", "pytest-batch"} <= set(metadata["sdk_versions"])
    marked = [interaction["request"]["uri"] for interaction in data["interactions"]
              if str({name.lower(): value for name, value in interaction["response"]["headers"].items()}
                     .get(EMULATOR_HEADER)) == "1"]
    assert metadata["recorded_against"] in ("live", "emulator"), metadata
    if metadata["recorded_against"] == "emulator":
        assert marked, f"{cassette}: labelled emulator, but no response carries {EMULATOR_HEADER}"
    else:
        assert not marked, f"{cassette}: labelled live, but the emulator answered {marked}"
    assert not any(is_loopback(interaction["request"]["uri"]) for interaction in data["interactions"])
