"""The re-record command in cassette errors: it must work where the user typed pytest, with
the options they typed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from pytest_batch.cassettes import record_command
from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")

OPTIONS = ("--batch-cassette-dir=../tapes", "--batch-model=openai/gpt-4.1-nano")  # given in sub/
NODEID = "test_users.py::test_users[openai]"


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with start_server(Emulator(expectations=seed_expectations())) as handle:
        yield handle


@pytest.fixture
def from_subdirectory(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with an ini file at its root, and pytest started in its ``sub/`` folder."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_users=USERS_TEST)
    monkeypatch.chdir(pytester.mkdir("sub"))
    return pytester


def _expected(pytester: pytest.Pytester) -> str:
    return (f"cd {pytester.path} && pytest 'test_users.py::test_users[[]openai[]]' --batch-mode=record "
            "--batch-cassette-dir=tapes --batch-model=openai/gpt-4.1-nano")


def test_without_the_run_config_the_command_is_the_bare_test_id() -> None:
    assert record_command(NODEID) == "pytest 'test_users.py::test_users[openai]' --batch-mode=record"


def test_the_command_repeats_the_command_line_options_and_starts_at_the_rootdir(
        from_subdirectory: pytest.Pytester) -> None:
    pytester = from_subdirectory
    config = pytester.parseconfig("../test_users.py", "--batch-mode=replay", "--batch-provider=openai", *OPTIONS)
    assert config.rootpath == pytester.path and config.invocation_params.dir == pytester.path / "sub"
    assert record_command(NODEID, config) == _expected(pytester).replace("[[]", "[").replace("[]]", "]")

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(pytester.path)
    try:  # started at the rootdir, with no options: nothing to add
        assert record_command(NODEID, pytester.parseconfig()) == record_command(NODEID)
    finally:
        monkeypatch.undo()


def test_the_printed_command_records_from_the_subdirectory(from_subdirectory: pytest.Pytester,
                                                           server: ServerHandle) -> None:
    pytester = from_subdirectory
    config = pytester.parseconfig("../test_users.py", "--batch-mode=replay", *OPTIONS)
    command = record_command(NODEID, config).replace(" pytest ", f" {sys.executable} -m pytest -p no:cacheprovider ")
    env = {**os.environ, **server.env}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run(command, shell=True, cwd=pytester.path / "sub", env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    cassette = pytester.path / "tapes" / "openai" / "test_users" / "test_users.yaml"
    assert yaml.safe_load(cassette.read_text())["metadata"]["model"] == "openai/gpt-4.1-nano"


def test_a_replay_started_in_a_subdirectory_prints_a_command_that_works_there(
        from_subdirectory: pytest.Pytester) -> None:
    result = from_subdirectory.runpytest("../test_users.py", "--batch-mode=replay", "--batch-provider=openai",
                                         *OPTIONS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*Record it with: {_expected(from_subdirectory)}"])


HINT = ("(recorded against an emulator: start `pytest-batch serve` and export the [*]_BASE_URL lines it prints "
        "first)")


def test_commands_for_a_cassette_recorded_against_an_emulator_say_to_start_one_first(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    server.emulator.set_lifecycle("manual")  # the batch never finishes by itself
    pytester.makepyfile(test_users=USERS_TEST)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        result = pytester.runpytest("--batch-mode=record", "--batch-provider=openai", "--batch-record-timeout=0.01",
                                    "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*saved as pending; run record mode again to resume: pytest "
                                 f"'test_users.py::test_users[[]openai[]]' --batch-mode=record* {HINT}"])

    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai")
    result.stdout.fnmatch_lines([f"*is pending*Resume the recording with: pytest *--batch-mode=record {HINT}"])
    result = pytester.runpytest("--batch-provider=openai", "-W", "always::pytest.PytestWarning")
    result.stdout.fnmatch_lines([f"*auto mode simulates this test*Finish the recording with: pytest "
                                 f"*--batch-mode=record {HINT}"])
