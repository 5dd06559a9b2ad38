"""A record run killed with SIGKILL right after its submit: the next record run resumes the batch it
submitted instead of submitting (and, live, paying for) it again."""

from __future__ import annotations

import signal
import sys
import time

import pytest
import yaml

from pytest_batch.cassettes import is_pending
from pytest_batch.sim.server import ServerHandle

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")


def _wait_for(condition, child, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if child.poll() is not None:
            raise AssertionError(f"the record run ended before {what}: {child.stdout.read().decode()}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"no {what} after {timeout}s")
        time.sleep(0.02)


def test_a_record_run_killed_after_the_submit_is_resumed_without_a_second_create(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = server.emulator.journal
    server.emulator.set_lifecycle("manual")  # the batch runs until the test says it is done
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makepyfile(test_extract=USERS_TEST)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--batch-mode=record",
               "--batch-provider=openai"]

    child = pytester.popen(command, stderr=-2)  # stderr into stdout
    # The journal shows the create when the server has answered it, a moment before the SDK call
    # returns; the first poll shows that call has returned, so the kill lands after the submit
    # and before the recording could end (the batch runs on, and the next poll is 5 s away).
    _wait_for(lambda: journal.calls(method="POST", path_contains="batches"), child, "batch create")
    _wait_for(lambda: journal.calls(method="GET", path_contains="batches/"), child, "first poll")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    cassette = pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml"
    batch_id = next(iter(server.emulator.openai.batches))
    assert is_pending(cassette)
    assert yaml.safe_load(cassette.read_text())["metadata"]["pending"]["batch_id"] == batch_id

    server.emulator.advance()  # the provider finishes the batch while nobody watches
    pytester.runpytest("--batch-mode=record", "--batch-provider=openai").assert_outcomes(passed=1)
    assert len(journal.calls(method="POST", path_contains="batches")) == 1, "the batch was submitted once"
    assert len(journal.calls(method="POST", path_contains="files")) == 1
    assert not is_pending(cassette)
    pytester.runpytest("--batch-mode=replay", "--batch-provider=openai").assert_outcomes(passed=1)


def _record(pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        return pytester.runpytest("--batch-mode=record", "--batch-provider=openai")


def test_ctrl_c_after_the_submit_leaves_the_recording_pending_to_resume(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    server.emulator.set_lifecycle("manual")
    pytester.makepyfile(test_extract="""
        def test_users(batch_processor, batch_messages):
            job = batch_processor.submit(batch_messages)
            batch_processor.status(job)
            raise KeyboardInterrupt  # the user pressed Ctrl+C while the batch ran
    """)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        interrupted = pytester.inline_run("--batch-mode=record", "--batch-provider=openai", no_reraise_ctrlc=True)
    assert interrupted.ret == pytest.ExitCode.INTERRUPTED
    cassette = pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml"
    assert is_pending(cassette), "not a complete recording of a batch that never finished"

    server.emulator.advance()
    pytester.makepyfile(test_extract=USERS_TEST)
    _record(pytester, server, monkeypatch).assert_outcomes(passed=1)
    assert len(server.emulator.journal.calls(method="POST", path_contains="batches")) == 1
    assert not is_pending(cassette)


def test_a_fixture_failing_after_the_processor_is_set_up_leaves_the_cassette_unchanged(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_extract=USERS_TEST)
    _record(pytester, server, monkeypatch).assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml"
    complete = cassette.read_text()
    pytester.makepyfile(test_extract=USERS_TEST.replace("expected_users):", "expected_users, broken):"))
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def broken(batch_processor):
            raise RuntimeError("this fixture is broken")
    """)
    _record(pytester, server, monkeypatch).assert_outcomes(errors=1)
    assert cassette.read_text() == complete, "the test never ran: nothing it recorded may replace the cassette"
