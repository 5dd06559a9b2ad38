"""What only a real ``pytest-batch`` process shows (every other CLI test runs ``main`` in process):
a reader that leaves early (``| head``) and Ctrl+C during a wait. The console script and state
across processes: test_cli_against_server.py; ``serve`` and its Ctrl+C: test_server.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.cli.conftest import clean_env, submit_direct

OPENAI = "openai/gpt-4o-mini"


def _as_a_terminal_starts_it() -> None:
    """In the child, before exec: Ctrl+C at its default and unblocked, whatever the test worker
    inherited (a process started with SIGINT ignored or blocked would never see it)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pytest_batch(*args: str, cwd, **kwargs) -> subprocess.Popen:
    env = clean_env(XDG_CONFIG_HOME=str(cwd / ".config"))
    return subprocess.Popen([sys.executable, "-m", "pytest_batch.cli", *args], cwd=cwd, env=env, text=True,
                            stderr=subprocess.PIPE, preexec_fn=_as_a_terminal_starts_it, **kwargs)


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """`pytest-batch list-models | head -0`: the pipe is closed before anything is written."""
    process = _pytest_batch("list-models", cwd=tmp_path, stdout=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert err == "", err


def test_ctrl_c_during_status_wait_is_one_line_and_exit_130(tmp_path, emulator_server):
    emulator = emulator_server.emulator
    emulator.set_lifecycle("manual", next_batch=True)
    batch_id = submit_direct(emulator, OPENAI, count=1)
    process = _pytest_batch("status", "--batch-id", batch_id, "--model", OPENAI, "--base-url", emulator_server.url,
                            "--wait", "--interval", "0.05", "--json", cwd=tmp_path, stdout=subprocess.PIPE)
    try:
        # until the wait is under way (the first read and a poll); a loaded machine may take a while
        # to start the interpreter and import the SDK, so the bound is generous
        for _ in range(2400):  # at most about 2 minutes
            if len(emulator.journal.calls("openai", "GET", path_contains=batch_id)) >= 2:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the CLI never started polling")
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the CLI did not stop on SIGINT; the worker's SIGINT handler "
                        f"{signal.getsignal(signal.SIGINT)!r}, blocked {signal.pthread_sigmask(signal.SIG_BLOCK, [])}; "
                        f"stderr: {err[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert (out, err) == ("", "❌ Interrupted\n")
