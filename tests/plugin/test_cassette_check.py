"""--batch-check-cassettes: stale cassettes, leaked secrets and pending recordings, after collection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import USERS_TEST

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The example test with the project's own recorded cassettes of it beside it."""
    pytester.makepyfile(test_users=USERS_TEST)
    for provider in ("openai", "anthropic", "google"):
        folder = Path("cassettes") / provider / "test_users"
        shutil.copytree(ROOT / folder, pytester.path / folder)
    return pytester


def test_clean_cassettes_pass_the_check(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*pytest-batch cassette check*", "3 cassettes in *cassettes: all clean"])


def test_a_cassette_no_test_uses_is_stale(project: pytest.Pytester) -> None:
    orphan = project.path / "cassettes" / "openai" / "test_removed" / "test_gone.yaml"
    orphan.parent.mkdir(parents=True)
    shutil.copy(project.path / "cassettes" / "openai" / "test_users" / "test_users.yaml", orphan)
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["stale: *test_removed*test_gone.yaml (no collected test uses it; *"])


def test_a_cassette_holding_a_key_fails_the_check_without_printing_the_key(project: pytest.Pytester) -> None:
    key = "sk-proj-" + "Q7" * 24  # built here, so the repository never holds a key-like string
    cassette = project.path / "cassettes" / "anthropic" / "test_users" / "test_users.yaml"
    cassette.write_text(cassette.read_text().replace("authorization: REDACTED", f"authorization: Bearer {key}", 1))
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["secret: *anthropic*test_users.yaml:*"])
    assert key not in result.stdout.str()


def test_the_check_refuses_xdist(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-check-cassettes", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--batch-check-cassettes needs every test collected in one process*"])
