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
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str, env: dict[str, str] | None = None, script: Path | None = None,
                 timeout: float = 60) -> Result:
        command = [sys.executable, str(script)] if script else [sys.executable, "-m", "pytest_batch.cli"]
        done = subprocess.run([*command, *args], cwd=self.cwd, env=clean_env(**(env or {})), capture_output=True,
                              text=True, timeout=timeout, check=False)
        result = Result(done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in result.err, result
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Runner:
    """``cli("list", "--model", ...)`` runs the CLI in ``tmp_path`` and returns a Result."""
    return Runner(tmp_path)
