"""Auto mode and a pending cassette (a record run stopped at --batch-record-timeout): auto never
touches the network, so it simulates with a warning; explicit replay still refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_batch.cassettes import auto_mode, cassette_state, is_pending
from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")

RECORDED = "metadata:\n  provider: openai\nversion: 1\ninteractions: []\n"
PENDING = ("metadata:\n  provider: openai\n  pending:\n    batch_id: batch_123\n    record_timeout: 5\n"
           "version: 1\ninteractions: []\n")


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with start_server(Emulator(expectations=seed_expectations())) as handle:
        yield handle


@pytest.mark.parametrize(("text", "state"), [
    (None, "missing"), ("", "missing"), (RECORDED, "recorded"), (PENDING, "pending"),
    ("metadata: [unclosed\n", "unreadable"), (b"\xff\xfe", "unreadable"),
])
def test_cassette_state(tmp_path: Path, text: str | bytes | None, state: str) -> None:
    path = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    assert cassette_state(path) == state
    assert is_pending(path) is (state == "pending")


def test_auto_mode_simulates_a_pending_cassette_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(PENDING)
    with pytest.warns(pytest.PytestWarning) as caught:
        assert auto_mode(path, "tests/test_x.py::test_users[openai]") == "simulate"
    message = str(caught[0].message)
    assert f"cassette {path} is pending (batch batch_123 was still running" in message
    assert "auto mode simulates this test" in message
    assert message.endswith("Finish the recording with: pytest 'tests/test_x.py::test_users[openai]' "
                            "--batch-mode=record")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(("text", "mode"), [(None, "simulate"), (RECORDED, "replay"), ("x: [", "replay")])
def test_auto_mode_otherwise_replays_what_exists_without_a_warning(tmp_path: Path, text: str | None,
                                                                   mode: str) -> None:
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text)
    assert auto_mode(path) == mode  # an unreadable cassette replays, so replay says what is wrong


@pytest.fixture
def pending_project(pytester: pytest.Pytester, server: ServerHandle,
                    monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose openai cassette was left pending by a record run that timed out."""
    server.emulator.set_lifecycle("manual")  # the batch never finishes by itself
    pytester.makepyfile(test_extract=USERS_TEST)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        pytester.runpytest("--batch-mode=record", "--batch-provider=openai",
                           "--batch-record-timeout=0.01").assert_outcomes(skipped=1)
    assert is_pending(pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml")
    server.stop()  # auto and replay must not need it
    return pytester


def test_explicit_replay_of_a_pending_cassette_still_fails(pending_project: pytest.Pytester) -> None:
    result = pending_project.runpytest("--batch-mode=replay", "--batch-provider=openai")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is pending*Resume the recording with*"])


def test_auto_mode_simulates_a_pending_cassette_and_says_how_to_finish_it(pending_project: pytest.Pytester) -> None:
    result = pending_project.runpytest("--batch-provider=openai", "-W", "always::pytest.PytestWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*openai*simulat*1*1*10*10*0*"])  # the summary: the emulator answered
    result.stdout.fnmatch_lines(["*PytestWarning: pytest-batch: cassette *test_users.yaml is pending (batch * was "
                                 "still running when recording stopped), so auto mode simulates this test*"
                                 "Finish the recording with: pytest 'test_extract.py::test_users[[]openai[]]' "
                                 "--batch-mode=record*"])
