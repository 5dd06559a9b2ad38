"""The examples a user copies first, with the cassettes shipped beside them: the ten users, and
the invoice pipeline (its own models, prompts, answers file and SDK client) in examples/invoices."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_batch.cassettes.scrub import is_loopback
from pytest_batch.cassettes.session import EMULATOR_HEADER
from pytest_batch.endpoints import API_KEY_ENV, BASE_URL_ENV

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "cassettes").glob("*/*/*.yaml"))


@pytest.fixture
def run_examples(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """pytest on examples/ as a user runs it from the repository root: no key, no base URL
    override (offline needs neither). In process: the SDKs this process imported serve it."""
    for name in {*BASE_URL_ENV.values(), *(name for names in API_KEY_ENV.values() for name in names)}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)

    def run(*options: str) -> pytest.RunResult:
        return pytester.runpytest_inprocess("examples", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
                                            "--batch-provider=all", "-p", "no:cacheprovider", "-q", *options)
    return run


def _modes(lines: list[str]) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in lines if line.startswith("  ")}


def test_examples_replay_the_shipped_cassettes_on_every_provider(run_examples) -> None:
    run = run_examples("--batch-mode=replay")
    assert run.ret == 0, run.stdout.str()
    # test_users and two invoice tests per provider; the invoice test injecting a fault simulates only
    run.assert_outcomes(passed=9, skipped=3)
    assert {_modes(run.stdout.lines).get(provider) for provider in ("openai", "anthropic", "google")} == {"replay"}


def test_examples_simulate_on_every_provider_without_a_key(run_examples) -> None:
    run = run_examples("--batch-mode=simulate")
    assert run.ret == 0, run.stdout.str()
    run.assert_outcomes(passed=12)


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
