"""Benchmarks of the pytest plugin.

    python bench/bench_plugin.py [--runs 7] [--tests 30]

1. Startup: ``pytest --version`` with the plugin loaded against the same command with the
   plugin disabled (``-p no:batch``), in fresh subprocesses, median of ``--runs``; plus the
   import time of ``pytest_batch.plugin`` itself (``python -X importtime``).
2. Per-test overhead: one pytest run holding ``--tests`` tests that replay a recorded
   ten-request OpenAI lifecycle (upload, create, poll, download) through the plugin's
   ``batch_processor`` fixture, and as many tests that replay the same interactions with
   plain vcrpy. Like for like: the plugin keeps one SDK client per provider for the run, so
   the plain tests share one client too (making one costs ~17 ms, more than a replay). Both
   record once against the emulator server on loopback; the median setup+call+teardown of
   each kind is compared, twice: every test replaying one shared cassette (the plugin keeps
   the last cassettes it parsed, by content, so it parses that one once), and every test
   replaying its own copy (as in a real suite, one cassette per test), in a first run and in
   a later one: the plugin keeps each parsed cassette, compiled, in pytest's cache directory
   (``.pytest_cache``), so only a new or edited cassette's YAML is parsed.

Prints a markdown table. Never touches the network (everything is on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_"))}


def _time_command(args: list[str], runs: int, cwd: Path) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=_env(), check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _plugin_import_ms() -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_batch.plugin"],
                         env=_env(), capture_output=True, text=True, check=True).stderr
    for line in out.splitlines():
        if line.rstrip().endswith("| pytest_batch.plugin"):
            return int(line.split("|")[1]) / 1000
    raise RuntimeError("pytest_batch.plugin not in -X importtime output")


def startup(runs: int, cwd: Path) -> list[tuple[str, str]]:
    base = [sys.executable, "-m", "pytest", "--version", "-p", "no:cacheprovider"]
    without = _time_command([*base, "-p", "no:batch"], runs, cwd)
    with_plugin = _time_command(base, runs, cwd)
    return [("`pytest --version`, plugin disabled (median)", f"{without * 1000:.0f} ms"),
            ("`pytest --version`, plugin loaded (median)", f"{with_plugin * 1000:.0f} ms"),
            ("plugin startup cost", f"{(with_plugin - without) * 1000:+.0f} ms"),
            ("`import pytest_batch.plugin` (cumulative, -X importtime)", f"{_plugin_import_ms():.1f} ms")]


RECORD = """
import sys
from pathlib import Path

import openai
import vcr

from pytest_batch.cassettes import cassette_path, use_cassette
from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import start_server

root = Path(sys.argv[1])
server = start_server(Emulator(expectations=seed_expectations()))
base_url = server.base_urls["openai"]


def lifecycle(client):
    bp = BatchProcessor("openai/gpt-4o-mini", response_model=User, client=client, sleep=lambda s: None)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert [item.value for item in bp.results(job).in_input_order()][0].name == "Alice"


path = cassette_path(root / "cassettes", "openai", "test_bench", "recorded")
with use_cassette(path, mode="record", provider="openai", model="gpt-4o-mini", recorded_against="emulator"):
    lifecycle(openai.OpenAI(api_key="sim-openai-key", base_url=base_url))
with vcr.use_cassette(str(root / "plain.yaml"), record_mode="once"):
    lifecycle(openai.OpenAI(api_key="sim-openai-key", base_url=base_url))
(root / "base_url").write_text(base_url)
server.stop()
"""

TESTS = """
import pytest
import openai
import vcr
from pathlib import Path

from pytest_batch import assert_extractions
from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import User

HERE = Path(__file__).parent
BASE_URL = (HERE / "base_url").read_text()
N = {tests}


@pytest.mark.batch(cassette="recorded")
@pytest.mark.parametrize("copy", range(N))
def test_plugin_replay(batch_processor, batch_messages, expected_users, copy):
    job = batch_processor.wait(batch_processor.submit(batch_messages))
    assert_extractions(batch_processor.results(job), expected_users)


_CLIENTS = dict()


def client():
    # one client for every plain test, as the plugin keeps one per provider: making one costs ~17 ms
    if "openai" not in _CLIENTS:
        _CLIENTS["openai"] = openai.OpenAI(api_key="sim-openai-key", base_url=BASE_URL)
    return _CLIENTS["openai"]


def lifecycle(path):
    from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS

    with vcr.use_cassette(str(path), record_mode="none", allow_playback_repeats=True):
        bp = BatchProcessor("openai/gpt-4o-mini", response_model=User, client=client(), sleep=lambda s: None)
        job = bp.wait(bp.submit(list(SEED_PROMPTS)))
        assert_extractions(bp.results(job), list(EXPECTED_USERS))


@pytest.mark.parametrize("copy", range(N))
def test_plain_vcrpy_replay(copy):
    lifecycle(HERE / "plain.yaml")


@pytest.mark.parametrize("copy", [pytest.param(i, marks=pytest.mark.batch(cassette=f"own-{{i}}")) for i in range(N)])
def test_plugin_own_cassette(batch_processor, batch_messages, expected_users, copy):
    job = batch_processor.wait(batch_processor.submit(batch_messages))
    assert_extractions(batch_processor.results(job), expected_users)


@pytest.mark.parametrize("copy", range(N))
def test_plain_vcrpy_own_cassette(copy):
    lifecycle(HERE / f"plain-{{copy}}.yaml")
"""

CONFTEST = """
import json
from pathlib import Path

DURATIONS = {}


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[1].split("[")[0]
    DURATIONS.setdefault(report.nodeid, [name, 0.0])[1] += report.duration


def pytest_sessionfinish(session):
    Path(__file__).with_name("durations.json").write_text(json.dumps(list(DURATIONS.values())))
"""


def overhead(tests: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as tmp:
        root = Path(tmp)
        subprocess.run([sys.executable, "-c", RECORD, str(root)], env=_env(), check=True)
        recorded = root / "cassettes" / "openai" / "test_bench" / "recorded.yaml"
        for copy in range(tests):
            # each copy a distinct text, as every cassette of a real suite is
            text = recorded.read_text() + f"# copy {copy}\n"
            recorded.with_name(f"own-{copy}.yaml").write_text(text)
            shutil.copyfile(root / "plain.yaml", root / f"plain-{copy}.yaml")
        (root / "test_bench.py").write_text(textwrap.dedent(TESTS.format(tests=tests)))
        (root / "conftest.py").write_text(CONFTEST)
        runs = {}
        for run_name in ("cold", "warm"):  # warm: any run after the first, with pytest's cache filled
            run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--batch-mode=replay",
                                  "--batch-provider=openai", str(root)], cwd=root, env=_env(), capture_output=True,
                                 text=True)
            if run.returncode != 0:
                raise SystemExit(run.stdout + run.stderr)
            runs[run_name] = json.loads((root / "durations.json").read_text())

    def median_ms(run_name: str, test_name: str) -> tuple[float, int]:
        # the first test of each kind pays one-time imports: leave it out of the median
        kept = sorted(d for test, d in runs[run_name] if test == test_name)[:-1]
        return statistics.median(kept) * 1000, len(kept)

    rows = []
    for what, run_name, plugin_test, plain_test in (
            ("one shared cassette", "warm", "test_plugin_replay", "test_plain_vcrpy_replay"),
            ("a cassette per test, first run", "cold", "test_plugin_own_cassette", "test_plain_vcrpy_own_cassette"),
            ("a cassette per test, later runs", "warm", "test_plugin_own_cassette", "test_plain_vcrpy_own_cassette")):
        (plugin, count), (plain, _) = median_ms(run_name, plugin_test), median_ms(run_name, plain_test)
        rows += [(f"{what}: replayed 10-request lifecycle via `batch_processor` (median of {count})",
                  f"{plugin:.1f} ms"),
                 (f"{what}: same interactions, plain vcrpy, one shared client (median of {count})", f"{plain:.1f} ms"),
                 (f"{what}: plugin / plain vcrpy", f"{plugin / plain:.2f}x")]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="subprocess runs per startup measurement")
    parser.add_argument("--tests", type=int, default=30, help="tests of each kind in the overhead run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-empty-") as empty:
        rows = startup(args.runs, Path(empty))
    rows += overhead(args.tests)
    print("| measurement | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
