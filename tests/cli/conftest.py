"""Run ``pytest-batch`` as a subprocess, the way users run it: a clean environment (no keys,
no base URLs, no PYTEST_BATCH_* settings) and a temporary working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pytest_batch

ROOT = Path(pytest_batch.__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_CLEARED_PREFIXES = ("OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_", "PYTEST_BATCH_")


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
        command = [sys.executable, str(script)] if script else [sys.executable, "-m", "pytest_batch.cli"]
        # the key that signs simulated state: one per test, not the user's ~/.config
        env = {"XDG_CONFIG_HOME": str(self.config_home), **(env or {})}
        done = subprocess.run([*command, *args], cwd=self.cwd, env=clean_env(**env), capture_output=True,
                              text=True, timeout=timeout, check=False)
        result = Result(done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in result.err, result
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Runner:
    """``cli("list", "--model", ...)`` runs the CLI in ``tmp_path`` and returns a Result."""
    return Runner(tmp_path)


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
