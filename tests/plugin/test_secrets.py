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
