"""The plugin under pytest-xdist, and in a fresh project that only installed the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_batch.sim.server import ServerHandle

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")

#: what a user writes: ten lines, nothing imported from the test suite.
USER_PROJECT_TEST = '''\
from pytest_batch import assert_extractions


def test_users(batch_processor, batch_messages, expected_users):
    job = batch_processor.submit(batch_messages)
    job = batch_processor.wait(job)
    results = batch_processor.results(job)
    assert_extractions(results, expected_users)
    assert results.usage.input_tokens > 0
'''


def test_xdist_runs_one_emulator_per_worker_and_merges_the_summary(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_a=USERS_TEST, test_b=USERS_TEST.replace("def test_users", "def test_more_users"))
    result = pytester.runpytest("-n", "2", "-p", "no:cacheprovider", "-p", "no:benchmark")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*pytest-batch summary*",
                                 "merged from 2 xdist workers",
                                 "*provider*mode*tests*batches*requests*successes*errors",
                                 "*anthropic*simulate*2*2*20*20*0",
                                 "*google*simulate*2*2*20*20*0",
                                 "*openai*simulate*2*2*20*20*0"])
    # the field accuracy of every assert_extractions, merged from both workers
    result.stdout.fnmatch_lines(["*pytest-batch field accuracy*",
                                 "  field*anthropic*google*openai",
                                 "  all fields  100.0% (40/40)  100.0% (40/40)  100.0% (40/40)"])


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENAI_", "ANTHROPIC_", "GOOGLE_",
                                                                     "GEMINI_"))}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_fresh_project_outside_the_repository(tmp_path: Path) -> None:
    """The installed plugin (entry point pytest11) is all a user's project needs."""
    project = tmp_path / "userproject"
    project.mkdir()
    (project / "test_extract.py").write_text(USER_PROJECT_TEST)
    assert len(USER_PROJECT_TEST.splitlines()) <= 10

    every = _run(["--batch-provider=all", "-v"], project)
    assert every.returncode == 0, every.stdout + every.stderr
    for provider in ("openai", "anthropic", "google"):
        assert f"test_extract.py::test_users[{provider}] PASSED" in every.stdout
    assert "3 passed" in every.stdout
    assert not (project / "cassettes").exists(), "simulation writes no cassettes"


def test_max_requests_is_one_budget_for_every_xdist_worker(pytester: pytest.Pytester, server: ServerHandle,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    for name, url in server.env.items():
        monkeypatch.setenv(name, url)
    pytester.makepyfile(test_spend="\n".join(USERS_TEST.replace("def test_users", f"def test_users_{n}")
                                             for n in range(4)))
    result = pytester.runpytest("-n", "2", "-p", "no:cacheprovider", "--batch-mode=record",
                                "--batch-provider=openai", "--batch-max-requests=25")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*pytest-batch: refusing to submit 10 openai requests in --batch-mode=record: "
                                 "--batch-max-requests=25 and 20 already submitted in this run.*"])
    assert len(server.emulator.openai.batches) == 2, "the two workers together stayed within 25 requests"


def test_xdist_records_then_replays_and_merges_tokens_and_cost(pytester: pytest.Pytester, server: ServerHandle,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_a=USERS_TEST, test_b=USERS_TEST.replace("def test_users", "def test_more_users"))
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        # two providers (the summary merges per provider; each more costs every worker an SDK import)
        result = pytester.runpytest("-n", "2", "-p", "no:cacheprovider", "--batch-mode=record",
                                    "--batch-provider=openai,google")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["merged from 2 xdist workers",
                                 "*provider*mode*errors*tokens in*tokens out*est. cost",
                                 "*google*record*2*2*20*20*0*$0.*",
                                 "*openai*record*2*2*20*20*0*$0.*"])
    tokens = {}
    for line in result.stdout.lines:
        words = line.split()
        if len(words) == 10 and words[1] == "record":
            tokens[words[0]] = (int(words[7]), int(words[8]))
    assert set(tokens) == {"openai", "google"}
    assert all(tokens_in > 0 and tokens_out > 0 for tokens_in, tokens_out in tokens.values()), tokens
    assert len(list(pytester.path.glob("cassettes/*/test_*/*.yaml"))) == 4
    server.stop()  # replay comes from the cassettes the workers wrote

    result = pytester.runpytest("-n", "2", "-p", "no:cacheprovider", "--batch-mode=replay",
                                "--batch-provider=openai,google")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["merged from 2 xdist workers", "*google*replay*2*2*20*20*0",
                                 "*openai*replay*2*2*20*20*0"])
