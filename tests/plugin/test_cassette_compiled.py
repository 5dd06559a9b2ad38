"""Replay parses a cassette's YAML once: later runs load it compiled from pytest's cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import USERS_TEST

ROOT = Path(__file__).resolve().parents[2]


def test_a_replayed_cassette_is_compiled_into_pytests_cache_and_reused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users=USERS_TEST)
    target = pytester.path / "cassettes" / "openai" / "test_users" / "test_users.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(ROOT / "cassettes" / "openai" / "test_users" / "test_users.yaml", target)

    pytester.runpytest("--batch-provider=openai", "--batch-mode=replay").assert_outcomes(passed=1)
    compiled = list((pytester.path / ".pytest_cache").rglob("*.marshal"))
    assert len(compiled) == 1
    before = compiled[0].stat().st_mtime_ns

    pytester.runpytest("--batch-provider=openai", "--batch-mode=replay").assert_outcomes(passed=1)
    assert list((pytester.path / ".pytest_cache").rglob("*.marshal")) == compiled  # reused, not rewritten
    assert compiled[0].stat().st_mtime_ns == before

    # without pytest's cache there is nothing to keep it in: replay still works
    shutil.rmtree(pytester.path / ".pytest_cache")
    pytester.runpytest("--batch-provider=openai", "--batch-mode=replay", "-p", "no:cacheprovider").assert_outcomes(
        passed=1)
    assert not (pytester.path / ".pytest_cache").exists()
