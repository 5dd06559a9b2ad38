"""Run ``pytest-batch`` the way users run it: a clean environment (no keys, no base URLs, no
PYTEST_BATCH_* settings) and a temporary working directory.

``cli(...)`` runs the command in this process (``main(argv)`` with the environment, working
directory, stdout and stderr swapped for the call): what a user sees is the same, without an
interpreter and SDK import per command. ``cli.subprocess(...)`` runs a real process for what
only one shows: the console script, state across processes, signals, a closed stdout, and
``serve``, which runs until stopped."""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pytest_batch

ROOT = Path(pytest_batch.__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_CLEARED_PREFIXES = ("OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_", "AZURE_", "PYTEST_BATCH_")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown when an assertion on the result fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


class Runner:
    def __init__(self, cwd: Path, config_home: Path | None = None) -> None:
        self.cwd = cwd
        self.config_home = config_home or cwd / ".config"

    def elsewhere(self, directory: str) -> Runner:
        """The same runner (same signing key) in another working directory below this one."""
        (self.cwd / directory).mkdir(parents=True, exist_ok=True)
        return Runner(self.cwd / directory, self.config_home)

    def __call__(self, *args: str, env: dict[str, str] | None = None, script: Path | None = None,
                 timeout: float = 60) -> Result:
        if args[:1] == ("serve",):  # a server that started would never return here
            return self.subprocess(*args, env=env, script=script, timeout=timeout)
        result = self._in_process(args, self._env(env), script)
        assert "Traceback" not in result.err, result
        return result

    def subprocess(self, *args: str, env: dict[str, str] | None = None, script: Path | None = None,
                   timeout: float = 60) -> Result:
        command = [sys.executable, str(script)] if script else [sys.executable, "-m", "pytest_batch.cli"]
        done = subprocess.run([*command, *args], cwd=self.cwd, env=self._env(env), capture_output=True,
                              text=True, timeout=timeout, check=False)
        result = Result(done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in result.err, result
        return result

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        # the key that signs simulated state: one per test, not the user's ~/.config
        return clean_env(**{"XDG_CONFIG_HOME": str(self.config_home), **(env or {})})

    def _in_process(self, args: tuple[str, ...], environ: dict[str, str], script: Path | None) -> Result:
        from pytest_batch.cli import main

        out, err = io.StringIO(), io.StringIO()
        saved_environ, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(self.cwd)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    if script is None:
                        code = main(list(args))
                    else:
                        sys.argv = [str(script), *args]
                        runpy.run_path(str(script), run_name="__main__")
                        code = 0
                except SystemExit as exit_:  # argparse (usage, --help, --version) and scripts' sys.exit
                    code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
                    if isinstance(exit_.code, str):
                        print(exit_.code, file=sys.stderr)
        finally:
            sys.argv = saved_argv
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_environ)
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(tmp_path: Path) -> Runner:
    """``cli("list", "--model", ...)`` runs the CLI in ``tmp_path`` and returns a Result."""
    return Runner(tmp_path)


class FakeClock:
    """A monotonic clock that moves only when the code under test sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The in-process CLI's clock and sleep (``status --wait``'s timeout and pauses) on a fake clock."""
    from pytest_batch.cli import commands

    clock = FakeClock()
    monkeypatch.setattr(commands, "clock", clock)
    monkeypatch.setattr(commands, "sleep", clock.sleep)
    return clock


@pytest.fixture
def emulator_server():
    """An emulator server on loopback (immediate lifecycle, the seed's answers); ``.emulator``
    is the emulator itself, for faults and lifecycles."""
    from pytest_batch.seed import seed_expectations
    from pytest_batch.sim import Clock, Emulator
    from pytest_batch.sim.server import start_server

    handle = start_server(Emulator(lifecycle="immediate", clock=Clock(), expectations=seed_expectations()))
    yield handle
    handle.stop()


def submit_direct(emulator: Any, model: str, count: int = 3) -> str:
    """Submit ``count`` seed prompts to ``emulator`` in process (faster than a CLI subprocess)."""
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS, User

    provider = model.partition("/")[0]
    client = getattr(emulator, f"{provider}_client")()
    return BatchProcessor(model, response_model=User, client=client).submit(list(SEED_PROMPTS[:count])).id
