"""Benchmark: how long ``pytest-batch status --wait --timeout T`` takes to give up, per provider.

An emulator server on loopback holds one batch per provider that never ends (manual
lifecycle); each run starts the installed CLI as a real process (``python -m
pytest_batch.cli``: interpreter start-up, SDK import and all) and times it from spawn to
exit. The target: exit 6 within T + 0.5 s. The baseline beside it is the same process
running ``--version`` (start-up alone), so the figure above T is the CLI's own overshoot.

    python bench/bench_cli_timeout.py              # --timeout 2 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import SEED_PROMPTS, User
from pytest_batch.sim import Clock, Emulator
from pytest_batch.sim.server import start_server

MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-haiku-4-5",
          "google": "google/gemini-2.5-flash-lite"}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_"))}
    emulator = Emulator(lifecycle="manual", clock=Clock())
    server = start_server(emulator)
    try:
        print(f"status --wait --timeout {args.timeout:g}, {args.runs} runs each (seconds: min / median / max)")
        print(f"| provider | start-up alone (--version) | status --wait --timeout {args.timeout:g} | exit | "
              f"over the timeout (median) |")
        print("|---|---|---|---|---|")
        for provider, model in MODELS.items():
            client = getattr(emulator, f"{provider}_client")()
            batch_id = BatchProcessor(model, User, client=client).submit(list(SEED_PROMPTS[:1])).id
            cli = [sys.executable, "-m", "pytest_batch.cli"]
            wait = [*cli, "status", "--batch-id", batch_id, "--model", model, "--base-url", server.url, "--wait",
                    "--timeout", f"{args.timeout:g}", "--json"]
            startup, waits, codes = [], [], set()
            for _ in range(args.runs):
                startup.append(timed([*cli, "--version"], env)[0])
                seconds, code = timed(wait, env)
                waits.append(seconds)
                codes.add(code)
            fmt = " / ".join
            print(f"| {provider} | {fmt(f'{v:.2f}' for v in (min(startup), statistics.median(startup), max(startup)))} "
                  f"| {fmt(f'{v:.2f}' for v in (min(waits), statistics.median(waits), max(waits)))} "
                  f"| {','.join(map(str, sorted(codes)))} | {statistics.median(waits) - args.timeout:+.2f} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
