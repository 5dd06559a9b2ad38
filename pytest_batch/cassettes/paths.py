"""Where cassettes live and the commands that re-record them."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..endpoints import BASE_URL_ENV, LOOPBACK_NAMES

Mode = Literal["replay", "record"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]+")


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("-", name.replace("[", "-").replace("]", "")).strip("-.")
    return cleaned or "_"


def cassette_path(cassette_dir: str | os.PathLike[str], provider: str, module_name: str, test_name: str) -> Path:
    """``<dir>/<provider>/<test module>/<test name>.yaml``; ``test_x[a/b c]`` becomes ``test_x-a-b-c``."""
    module = module_name.rsplit("/", 1)[-1].removesuffix(".py").rsplit(".", 1)[-1]
    return Path(cassette_dir) / _safe(provider) / _safe(module) / f"{_safe(test_name)}.yaml"


#: session options a re-record repeats when they were given on the command line (ini settings
#: apply by themselves; --batch-provider is pinned by the test id)
_RERUN_OPTIONS = ("batch_cassette_dir", "batch_model", "batch_record_timeout", "batch_max_requests")


#: what a re-record command adds for a cassette recorded against an emulator server
EMULATOR_HINT = ("(recorded against an emulator: start `pytest-batch serve` and export the *_BASE_URL lines it "
                 "prints first)")


def record_command(nodeid: str | None, config: Any = None, *, recorded_against: str | None = None) -> str:
    """The shell command that records ``nodeid`` again.

    With the run's pytest ``config`` it repeats the ``--batch-*`` options given on the command line
    (cassette dir, models, record timeout, request limit), and, since test ids are relative to the
    rootdir, starts with ``cd <rootdir> &&`` when pytest was started somewhere else. A cassette
    ``recorded_against`` an emulator gets ``EMULATOR_HINT`` after the command.
    """
    words = ["pytest", nodeid or "<test id>", "--batch-mode=record"]
    prefix = ""
    if config is not None:
        rootdir = Path(config.rootpath)
        for dest in _RERUN_OPTIONS:
            value = config.getoption(dest, default=None)
            if dest == "batch_cassette_dir" and value:  # the command runs at the rootdir: say it from there
                value = os.path.relpath(cassette_dir_of(config), rootdir.resolve())
            for item in value if isinstance(value, list | tuple) else [value]:
                if item is not None and item != "":
                    words.append(f"--{dest.replace('_', '-')}={item}")
        invoked = Path(config.invocation_params.dir)
        if rootdir.resolve() != invoked.resolve():
            prefix = f"cd {shlex.quote(str(rootdir))} && "
    hint = f" {EMULATOR_HINT}" if recorded_against == "emulator" else ""
    return prefix + " ".join(shlex.quote(word) for word in words) + hint


def previous_path(path: Path) -> Path:
    """Where a complete cassette is kept while a pending recording replaces it: ``<name>.yaml.previous``
    (not ``*.yaml``, so replay and the cassette check never take it for a cassette)."""
    return path.with_name(path.name + ".previous")


def current_nodeid() -> str | None:
    current = os.environ.get("PYTEST_CURRENT_TEST")
    return current.rsplit(" (", 1)[0] if current else None


def cassette_dir_of(config: Any) -> Path:
    """The run's cassette folder, absolute and normalised: --batch-cassette-dir relative to where pytest
    was started, the ini setting relative to the ini file's folder, the default under the rootdir."""
    value = config.getoption("batch_cassette_dir", default=None)
    if value:
        base = Path(config.invocation_params.dir)
    else:
        value = config.getini("batch_cassette_dir")
        inipath = getattr(config, "inipath", None)
        base = Path(inipath).parent if value and inipath else Path(config.rootpath)
    return (base / (value or "cassettes")).resolve()


def recorded_against(provider: str, environ: Mapping[str, str] | None = None) -> str:
    """"emulator" when the provider's base URL is overridden to a loopback server, else "live"."""
    environ = os.environ if environ is None else environ
    base = environ.get(BASE_URL_ENV[provider], "")
    return "emulator" if any(host in base for host in LOOPBACK_NAMES) else "live"
