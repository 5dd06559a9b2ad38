"""--batch-mode: simulate, auto, replay, record and live, and the network each one allows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_batch.model_catalog import DEFAULT_MODELS
from pytest_batch.sim.server import ServerHandle

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")
ROOT = Path(__file__).resolve().parents[2]

NETWORK_TEST = """
import httpx2

def test_calls_out(batch_provider):
    httpx2.get("http://127.0.0.2:{port}/")
"""


ASYNC_USERS_TEST = """
import asyncio

from pytest_batch import AsyncBatchProcessor
from pytest_batch.assertions import assert_extractions
from pytest_batch.seed import User


async def extract(model, messages):
    async with AsyncBatchProcessor(model, response_model=User) as bp:
        job = await bp.wait(await bp.submit(messages))
        return [item async for item in await bp.results(job)]


def test_users_async(batch_env, batch_messages, expected_users):
    assert_extractions(asyncio.run(extract(batch_env.model, batch_messages)), expected_users)
"""


@pytest.mark.sdk_matrix
def test_simulate_runs_every_provider_on_the_emulator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-mode=simulate")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*pytest-batch summary*",
                                 "*provider*mode*tests*batches*requests*successes*errors",
                                 "*anthropic*simulate*1*1*10*10*0",
                                 "*google*simulate*1*1*10*10*0",
                                 "*openai*simulate*1*1*10*10*0"])
    result.stdout.no_fnmatch_line("*est. cost*")


def test_auto_simulates_without_a_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-provider=openai")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*openai*simulate*1*1*10*10*0"])


def test_replay_without_a_cassette_fails_with_the_record_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=anthropic")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["pytest-batch: no cassette at *anthropic*test_users.yaml (replay mode never "
                                 "calls the provider). Record it with: pytest *test_users[[]anthropic[]]* "
                                 "--batch-mode=record"])
    result.stdout.no_fnmatch_line("*During handling*")


@pytest.mark.parametrize("mode", ["replay", "auto", "simulate"])
def test_offline_modes_block_the_network_naming_the_host(pytester: pytest.Pytester, mode: str,
                                                         stand_in_host) -> None:
    pytester.makepyfile(NETWORK_TEST.format(port=stand_in_host.tcp_port))
    result = pytester.runpytest(f"--batch-mode={mode}", "--batch-provider=openai")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest-batch blocked a real connection to '127.0.0.2'*"])


OWN_CONNECTION_TEST = USERS_TEST + """
    import socket
    socket.create_connection(("127.0.0.2", {port}), timeout=5)
"""


@pytest.mark.parametrize(("cassette", "label"), [(False, "auto (simulating)"), (True, "auto (replaying)")])
def test_auto_blocks_the_tests_own_connection_naming_the_host_and_the_chosen_mode(
        pytester: pytest.Pytester, cassette: bool, label: str, stand_in_host) -> None:
    pytester.makepyfile(test_users=OWN_CONNECTION_TEST.format(port=stand_in_host.tcp_port))
    if cassette:
        target = pytester.path / "cassettes" / "openai" / "test_users" / "test_users.yaml"
        target.parent.mkdir(parents=True)
        shutil.copy(ROOT / "cassettes" / "openai" / "test_users" / "test_users.yaml", target)
    result = pytester.runpytest("--batch-provider=openai")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*pytest-batch blocked a real connection to '127.0.0.2' (this test runs "
                                 f"--batch-mode={label}, which never touches the network)*",
                                 f"*openai*{'replay' if cassette else 'simulate'}*1*1*10*10*0"])
    result.stdout.no_fnmatch_line("*--batch-mode=simulate is offline*")
    result.stdout.no_fnmatch_line("*use --batch-mode=simulate*")  # it already is offline: no such advice
    result.stdout.fnmatch_lines(["*Only --batch-mode=record and --batch-mode=live reach the network*"])


def test_auto_replaying_fails_an_http_request_the_cassette_lacks_naming_the_host(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users=USERS_TEST + """
    import httpx2
    httpx2.get("http://127.0.0.2:9/")  # never sent: replay answers from the cassette or says it has nothing
""")
    target = pytester.path / "cassettes" / "openai" / "test_users" / "test_users.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(ROOT / "cassettes" / "openai" / "test_users" / "test_users.yaml", target)
    result = pytester.runpytest("--batch-provider=openai")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*has no recorded response for this request:", "  GET http://127.0.0.2:9/"])


def test_auto_simulates_a_pending_cassette_with_a_warning_and_replay_refuses_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users=USERS_TEST)
    cassette = pytester.path / "cassettes" / "openai" / "test_users" / "test_users.yaml"
    cassette.parent.mkdir(parents=True)
    recorded = (ROOT / "cassettes" / "openai" / "test_users" / "test_users.yaml").read_text()
    cassette.write_text(recorded.replace("metadata:\n", "metadata:\n  pending: {batch_id: batch_left}\n", 1))
    result = pytester.runpytest("--batch-provider=openai", "-W", "always::pytest.PytestWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*PytestWarning: pytest-batch: cassette *test_users.yaml is pending (batch "
                                 "batch_left was still running when recording stopped), so auto mode simulates*"
                                 "Finish the recording with: pytest 'test_users.py::test_users[[]openai[]]' "
                                 "--batch-mode=record*",
                                 "*openai*simulate*1*1*10*10*0"])
    result = pytester.runpytest("--batch-provider=openai", "--batch-mode=replay")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is pending (batch batch_left*Resume the recording with*"])


def test_tests_without_batch_fixtures_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import socket

        CONNECT = socket.socket.connect
    """)
    pytester.makepyfile("""
        import socket

        from conftest import CONNECT

        def test_plain():
            assert socket.socket.connect is CONNECT, "the plugin patched a test that does not use it"

        def test_batch(batch_provider):
            assert socket.socket.connect is not CONNECT, "offline batch tests run with the network blocked"
    """)
    pytester.runpytest("--batch-mode=replay", "--batch-provider=openai").assert_outcomes(passed=2)


def test_live_refuses_without_an_api_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-mode=live", "--batch-provider=openai,google")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*pytest-batch: --batch-mode=live needs a real openai API key: set OPENAI_API_KEY*",
        "*pytest-batch: --batch-mode=live needs a real google API key: set GOOGLE_API_KEY or GEMINI_API_KEY*"])


def test_live_against_an_emulator_server_reports_spend(pytester: pytest.Pytester, server: ServerHandle,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-mode=live")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*provider*mode*errors*tokens in*tokens out*est. cost",
                                 "*anthropic*live*1*1*10*10*0*$0.*",
                                 "*openai*live*1*1*10*10*0*$0.*"])
    assert not (pytester.path / "cassettes").exists(), "live mode writes no cassettes"


@pytest.mark.parametrize("test_source", [USERS_TEST, ASYNC_USERS_TEST], ids=["sync", "async"])
def test_max_requests_refuses_to_submit_past_the_limit(pytester: pytest.Pytester, server: ServerHandle,
                                                       monkeypatch: pytest.MonkeyPatch, test_source: str) -> None:
    """Sync processors and the async ones a user's code builds are held to one budget."""
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makepyfile(test_source)
    result = pytester.runpytest("--batch-mode=live", "--batch-provider=openai,anthropic", "--batch-max-requests=15")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pytest-batch: refusing to submit 10 anthropic requests in --batch-mode=live: "
                                 "--batch-max-requests=15 and 10 already submitted in this run.*"])
    assert len(server.emulator.openai.batches) == 1
    assert len(server.emulator.anthropic.batches) == 0, "the refused batch never reached the provider"


@pytest.mark.sdk_matrix
def test_record_then_replay_round_trip(pytester: pytest.Pytester, server: ServerHandle,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_extract=USERS_TEST)  # (not test_users: examples/ has one)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        result = pytester.runpytest("--batch-mode=record")
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(["*openai*record*1*1*10*10*0*"])
    for provider in ("openai", "anthropic", "google"):
        cassette = pytester.path / "cassettes" / provider / "test_extract" / "test_users.yaml"
        assert cassette.is_file(), f"record mode wrote {cassette}"
    server.stop()  # nothing answers any more: replay must come from the cassettes alone

    result = pytester.runpytest("--batch-mode=replay")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*openai*replay*1*1*10*10*0"])
    result = pytester.runpytest()  # auto picks the cassettes up
    result.stdout.fnmatch_lines(["*openai*replay*1*1*10*10*0"])
    result.assert_outcomes(passed=3)


def test_replay_of_a_request_the_cassette_lacks_fails_readably(pytester: pytest.Pytester, server: ServerHandle,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(USERS_TEST)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        pytester.runpytest("--batch-mode=record", "--batch-provider=openai").assert_outcomes(passed=1)
    pytester.makepyfile(USERS_TEST.replace("submit(batch_messages)", "submit(batch_messages[:9])"))
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*To re-record this cassette: pytest *test_users[[]openai[]]* --batch-mode=record "
                                 "(recorded against an emulator: start `pytest-batch serve` and export the *_BASE_URL "
                                 "lines it prints first)"])
    result.stdout.no_fnmatch_line("*During handling*")
    # The short test summary repeats the message in full when pytest runs under CI (it does not
    # truncate there), so count only the failure report itself.
    report = [line for line in result.stdout.lines if not line.startswith("FAILED ")]
    assert sum("has no recorded response" in line for line in report) == 1, "the mismatch is reported once"

    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai", "--batch-model=openai/gpt-4.1-nano")
    result.assert_outcomes(failed=1)
    recorded = DEFAULT_MODELS["openai"]  # the plugin's default, the model catalog's
    result.stdout.fnmatch_lines(["*Difference:*", f"*-*\"model\": \"{recorded.partition('/')[2]}\"*",
                                 "*+*\"model\": \"gpt-4.1-nano\"*"])
    result.stdout.fnmatch_lines([f"The cassette was recorded with model {recorded}; this run uses "
                                 f"openai/gpt-4.1-nano: replay with --batch-model={recorded}, or re-record."])


def test_a_failed_test_records_nothing(pytester: pytest.Pytester, server: ServerHandle,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makepyfile("""
        def test_users(batch_processor, batch_messages):
            batch_processor.wait(batch_processor.submit(batch_messages))
            raise AssertionError("the pipeline is wrong")
    """)
    result = pytester.runpytest("--batch-mode=record", "--batch-provider=openai")
    result.assert_outcomes(failed=1)
    assert not list(pytester.path.glob("cassettes/**/*.yaml"))
    result.stdout.fnmatch_lines(["*- pytest-batch -*", "pytest-batch: cassette *test_users.yaml not written: the test "
                                 "failed (record mode keeps only passing recordings). Fix the test, then record again: "
                                 "pytest *--batch-mode=record (recorded against an emulator*"])


@pytest.mark.parametrize(("test_source", "test_name"), [(USERS_TEST, "test_users"),
                                                       (ASYNC_USERS_TEST, "test_users_async")], ids=["sync", "async"])
def test_record_timeout_skips_pending_and_a_rerun_resumes(pytester: pytest.Pytester, server: ServerHandle,
                                                          monkeypatch: pytest.MonkeyPatch, test_source: str,
                                                          test_name: str) -> None:
    server.emulator.set_lifecycle("manual")  # the batch never finishes by itself
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makepyfile(test_source)
    result = pytester.runpytest("--batch-mode=record", "--batch-provider=openai", "--batch-record-timeout=0.01",
                                "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_record_timeout_skips_pending_and_a_rerun_resumes.py:*: "
                                 f"batch * still running after 0.01s; cassette *{test_name}.yaml saved as pending*"])
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is pending*Resume the recording with*"])

    server.emulator.advance()  # the provider finishes the batch between runs
    # resuming spends nothing: the batch was submitted (and paid for) in the first run
    result = pytester.runpytest("--batch-mode=record", "--batch-provider=openai", "--batch-record-timeout=0.01",
                                "--batch-max-requests=1")
    result.assert_outcomes(passed=1)
    assert len(server.emulator.journal.calls(method="POST", path_contains="batches")) == 1, "submitted once"
    assert len(server.emulator.journal.calls(method="POST", path_contains="files")) == 1
    server.stop()
    pytester.runpytest("--batch-mode=replay", "--batch-provider=openai").assert_outcomes(passed=1)


def test_max_requests_ini_setting_guards_spend(pytester: pytest.Pytester, server: ServerHandle,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makeini("[pytest]\nbatch_max_requests = 15\n")
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-mode=live", "--batch-provider=openai,anthropic")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pytest-batch: refusing to submit 10 anthropic requests in --batch-mode=live: "
                                 "--batch-max-requests=15 and 10 already submitted in this run.*"])
    assert len(server.emulator.anthropic.batches) == 0


def test_record_timeout_ini_setting_leaves_the_recording_pending(pytester: pytest.Pytester, server: ServerHandle,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    server.emulator.set_lifecycle("manual")  # the batch never finishes by itself
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makeini("[pytest]\nbatch_record_timeout = 0.01\n")
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("--batch-mode=record", "--batch-provider=openai", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * batch * still running after 0.01s; cassette *test_users.yaml saved as "
                                 "pending*"])


def test_async_processors_of_the_users_code_are_counted_in_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ASYNC_USERS_TEST)
    result = pytester.runpytest("--batch-mode=simulate", "--batch-provider=openai,anthropic")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*anthropic*simulate*1*1*10*10*0", "*openai*simulate*1*1*10*10*0"])
