"""Record mode with real-looking keys everywhere a key travels: none reaches a cassette."""

from __future__ import annotations

import os
import random
import string
from collections.abc import Iterator

import pytest

from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")


def _token(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


# Built at runtime so no key-like string sits in the repository.
SECRETS = {
    "OPENAI_API_KEY": "sk-" + "proj-" + _token(48, 11),
    "ANTHROPIC_API_KEY": "sk-" + "ant-api03-" + _token(48, 12),
    "GOOGLE_API_KEY": "AI" + "za" + _token(35, 13),
    "OPENAI_ORG_ID": "org-" + _token(24, 14),
    "OPENAI_PROJECT_ID": "proj_" + _token(24, 15),
}

#: besides the SDKs' own headers, the test sends the Google key as ?key=, a header and a cookie.
LEAKY_TEST = """
import os

import httpx2

from pytest_batch import assert_extractions


def test_users(batch_processor, batch_provider, batch_messages, expected_users):
    job = batch_processor.wait(batch_processor.submit(batch_messages))
    assert_extractions(batch_processor.results(job), expected_users)
    if batch_provider == "google":
        key = os.environ.get("GOOGLE_API_KEY", "replay-needs-no-key")
        answer = httpx2.get(os.environ["GOOGLE_GEMINI_BASE_URL"] + "/v1beta/batches",
                            params={"key": key, "pageSize": 2},
                            headers={"x-goog-api-key": key, "cookie": "session=" + key})
        assert answer.status_code == 200
"""


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    handle = start_server(Emulator(expectations=seed_expectations()))
    yield handle
    handle.stop()


def test_record_mode_writes_no_key_from_headers_query_or_environment(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**server.env, **SECRETS}.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_leaky=LEAKY_TEST)
    pytester.runpytest("--batch-mode=record").assert_outcomes(passed=3)

    cassettes = sorted(pytester.path.glob("cassettes/*/test_leaky/test_users.yaml"))
    assert len(cassettes) == 3
    for cassette in cassettes:
        text = cassette.read_text()
        for name, value in SECRETS.items():
            assert value not in text and value[:12] not in text, f"{name} leaked into {cassette}"
        assert "REDACTED" in text
        # readable by the team that commits it, like any file the user writes
        assert cassette.stat().st_mode & 0o777 == 0o666 & ~_umask()
    google = (pytester.path / "cassettes" / "google" / "test_leaky" / "test_users.yaml").read_text()
    assert "key=REDACTED&pageSize=2" in google and "cookie: REDACTED" in google

    server.stop()
    for name in SECRETS:
        monkeypatch.delenv(name)
    result = pytester.runpytest("--batch-mode=replay", "--batch-check-cassettes")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["3 cassettes in *cassettes: all clean"])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pasting(key: str) -> str:
    """The canonical test, but one prompt carries a key the user pasted (no environment variable holds it)."""
    return f"""
from pytest_batch.assertions import assert_extractions

KEY = {key!r}


def test_users(batch_processor, batch_messages, expected_users):
    job = batch_processor.wait(batch_processor.submit([*batch_messages[:9], "Use " + KEY + " as my key. I'm Zoe."]))
    assert_extractions(batch_processor.results(job), expected_users)
"""


def test_a_replay_mismatch_shows_no_key_in_the_terminal_or_the_junit_report(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_users=USERS_TEST)
    pytester.runpytest("--batch-mode=record", "--batch-provider=openai").assert_outcomes(passed=1)
    server.stop()

    key = "sk-" + "proj-" + _token(48, 31)  # not in the environment: only its shape gives it away
    pytester.makepyfile(test_users=_pasting(key))
    report = pytester.path / "report.xml"
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai", f"--junitxml={report}",
                                "-o", "junit_logging=all", "-o", "log_level=DEBUG")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "has no recorded response for this request" in output and "Difference:" in output
    for text in (output, report.read_text()):
        assert key not in text and key[:14] not in text


def test_vcrpy_logs_of_a_recording_show_no_key(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """At INFO vcrpy logs each raw response before it is scrubbed; pytest captures it into reports."""
    key = "sk-" + "ant-api03-" + _token(48, 32)
    emulator = Emulator()
    emulator.expect({"name": "Echo " + key, "age": 1}, match="Echo")  # a service that echoes a key back
    pytester.makepyfile(test_echo="""
        def test_echo(batch_processor):
            job = batch_processor.wait(batch_processor.submit(["Echo please."]))
            assert [item.ok for item in batch_processor.results(job)] == [True]
    """)
    report = pytester.path / "report.xml"
    with start_server(emulator) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        result = pytester.runpytest("--batch-mode=record", "--batch-provider=anthropic", f"--junitxml={report}",
                                    "-o", "junit_logging=all", "-o", "log_level=INFO")
    result.assert_outcomes(passed=1)
    xml = report.read_text()
    assert "Appending request" in xml, "vcrpy's log is captured"
    assert key not in xml and key[:14] not in xml
    cassette = (pytester.path / "cassettes" / "anthropic" / "test_echo" / "test_echo.yaml").read_text()
    assert key not in cassette and "Echo REDACTED" in cassette
