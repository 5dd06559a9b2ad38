"""Record mode and a pending cassette whose batch is gone server-side (the emulator server restarted,
the batch deleted or expired): one clear failure, never a second submit, the old recording kept."""

from __future__ import annotations

import pytest

from pytest_batch.cassettes import is_pending
from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")


def _record(pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch,
            *args: str) -> pytest.RunResult:
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        return pytester.runpytest("--batch-mode=record", "--batch-provider=openai", *args)


def test_a_pending_batch_the_server_no_longer_has_fails_once_without_a_traceback(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    server.emulator.set_lifecycle("manual")  # the batch never finishes by itself
    pytester.makepyfile(test_extract=USERS_TEST)
    _record(pytester, server, monkeypatch, "--batch-record-timeout=0.01").assert_outcomes(skipped=1)
    cassette = pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml"
    assert is_pending(cassette)
    batch_id = next(iter(server.emulator.openai.batches))
    server.stop()

    with start_server(Emulator(expectations=seed_expectations())) as restarted:  # knows no batch
        result = _record(pytester, restarted, monkeypatch)
        assert not restarted.emulator.journal.calls(method="POST"), "nothing is submitted again"
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"*pytest-batch: the pending batch {batch_id} in {cassette} no longer exists at {restarted.base_urls['openai']}"
        "*: delete the cassette and run --batch-mode=record again*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*BatchNotFoundError*")
    assert is_pending(cassette), "the pending cassette is left for the user to delete"


def test_a_pending_re_recording_keeps_the_complete_cassette_it_replaces_until_it_completes(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_extract=USERS_TEST)
    _record(pytester, server, monkeypatch).assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml"
    complete = cassette.read_text()

    server.emulator.set_lifecycle("manual")  # the re-recording's batch keeps running
    result = _record(pytester, server, monkeypatch, "--batch-record-timeout=0.01", "-rs")
    result.assert_outcomes(skipped=1)
    kept = cassette.with_name("test_users.yaml.previous")
    assert is_pending(cassette) and kept.read_text() == complete
    result.stdout.fnmatch_lines([f"*saved as pending (the previous complete recording is kept at {kept} until this "
                                 "one completes)*"])

    server.emulator.advance()
    _record(pytester, server, monkeypatch).assert_outcomes(passed=1)
    assert not is_pending(cassette) and not kept.exists()
