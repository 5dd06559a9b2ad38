"""What a cassette on disk is (missing, recorded, pending, unreadable), what auto mode does with it,
and the folder check (stale, leaking, pending, unreadable cassettes)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .format import CassetteFormatError, CassetteSerializer, read_metadata
from .paths import current_nodeid, record_command
from .scrub import (
    SecretFinding,
    find_secrets,
)

CassetteState = Literal["missing", "recorded", "pending", "unreadable"]


def cassette_state(path: str | os.PathLike[str]) -> CassetteState:
    """``missing``; ``pending`` (a record run stopped at --batch-record-timeout with the batch still
    running: replay refuses it); ``recorded`` (replayable); ``unreadable`` (not a cassette: replay
    says so). Reads only the metadata at the top of the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "missing"
    except (OSError, UnicodeDecodeError):
        return "unreadable"
    if not text.strip():
        return "missing"  # as vcrpy: an empty file is no cassette
    try:
        metadata = read_metadata(text)
    except CassetteFormatError:  # let replay say what is wrong
        return "unreadable"
    return "pending" if metadata.get("pending") else "recorded"


def is_pending(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a recording left pending (see ``cassette_state``)."""
    return cassette_state(path) == "pending"


def auto_mode(path: str | os.PathLike[str], nodeid: str | None = None) -> Literal["replay", "simulate"]:
    """What ``--batch-mode=auto`` does with the cassette at ``path``: replay it if it is recorded (or
    unreadable, so replay says why), otherwise simulate. A pending cassette cannot replay, so the
    test simulates with a ``PytestWarning`` that names the cassette and how to finish it."""
    state = cassette_state(path)
    if state == "pending":
        import warnings

        import pytest

        warnings.warn(pytest.PytestWarning(pending_in_auto_message(path, nodeid)), stacklevel=2)
    return "replay" if state in ("recorded", "unreadable") else "simulate"


def pending_in_auto_message(path: str | os.PathLike[str], nodeid: str | None = None) -> str:
    try:
        metadata = read_metadata(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - the message must not fail
        metadata = {}
    batch_id = (metadata.get("pending") or {}).get("batch_id")
    what = f"batch {batch_id}" if batch_id else "its batch"
    return (f"pytest-batch: cassette {path} is pending ({what} was still running when recording stopped), so "
            f"auto mode simulates this test instead of replaying it. Finish the recording with: "
            f"{record_command(nodeid or current_nodeid(), recorded_against=metadata.get('recorded_against'))}")


# ---------------------------------------------------------------------------- checking a folder

@dataclass
class CassetteReport:
    """What ``check_cassettes`` found; ``ok`` when nothing is stale, leaking or pending."""

    cassette_dir: Path
    checked: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    secrets: dict[Path, list[SecretFinding]] = field(default_factory=dict)
    pending: dict[Path, str | None] = field(default_factory=dict)
    unreadable: dict[Path, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.stale or self.secrets or self.pending or self.unreadable)

    def lines(self) -> list[str]:
        out = []
        for path in self.stale:
            out.append(f"stale: {path} (no collected test uses it; delete it or restore its test)")
        for path, findings in self.secrets.items():
            for finding in findings:
                out.append(f"secret: {path}:{finding.line}: {finding.kind} ({finding.preview}); "
                           "delete the cassette, rotate the key, record again")
        for path, batch_id in self.pending.items():
            out.append(f"pending: {path} (batch {batch_id} still running; run record mode again to finish it)")
        for path, why in self.unreadable.items():
            out.append(f"unreadable: {path}: {why}; delete it and record its test again (--batch-mode=record)")
        return out

    def count_line(self, not_checked: int = 0, narrowed_by: Iterable[str] = ()) -> str:
        """``5 cassettes checked in DIR: 1 stale, 0 with secrets, 0 pending[, 1 unreadable][; 3 not checked
        (narrowed run: test paths)]``: ``not_checked`` of ``checked`` were only scanned (see the plugin)."""
        checked = len(self.checked) - not_checked
        unreadable = f", {len(self.unreadable)} unreadable" if self.unreadable else ""
        narrowed = f"; {not_checked} not checked (narrowed run: {', '.join(narrowed_by)})" if not_checked else ""
        return (f"{checked} cassette{'s' if checked != 1 else ''} checked in {self.cassette_dir}: {len(self.stale)} "
                f"stale, {len(self.secrets)} with secrets, {len(self.pending)} pending{unreadable}{narrowed}")

    def format(self) -> str:
        """Each problem on its line, then the count; or ``N cassettes in DIR: all clean``."""
        if self.ok:
            return f"{len(self.checked)} cassettes in {self.cassette_dir}: all clean"
        return "\n".join([*self.lines(), self.count_line()])


def check_cassettes(cassette_dir: str | os.PathLike[str], used_paths: Iterable[str | os.PathLike[str]] | None = None
                    ) -> CassetteReport:
    """Scan every ``*.yaml``/``*.yml`` under ``cassette_dir`` for secrets and pending recordings;
    with ``used_paths`` (the cassettes the collected tests map to), also list the stale ones."""
    root = Path(cassette_dir)
    report = CassetteReport(root)
    if not root.is_dir():
        return report
    used = None if used_paths is None else {Path(p).resolve() for p in used_paths}
    for path in sorted(p for pattern in ("*.yaml", "*.yml") for p in root.rglob(pattern)):
        report.checked.append(path)
        if used is not None and path.resolve() not in used:
            report.stale.append(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.unreadable[path] = str(exc)
            continue
        findings = find_secrets(text)
        if findings:
            report.secrets[path] = findings
        if not text.strip():
            continue  # as vcrpy: an empty file is a missing cassette (replay records nothing from it)
        try:
            CassetteSerializer.deserialize(text)  # the whole file, as replay reads it
            pending = read_metadata(text).get("pending")
        except CassetteFormatError as exc:
            report.unreadable[path] = str(exc)
            continue
        if pending:
            report.pending[path] = pending.get("batch_id") if isinstance(pending, dict) else None
    return report


def test_modules_outside(root: str | os.PathLike[str], collected: Iterable[str | os.PathLike[str]], *,
                         file_patterns: Iterable[str] = ("test_*.py", "*_test.py"),
                         skip_dirs: Iterable[str] = ()) -> set[str]:
    """The names (stems) of the test modules under ``root`` that lie outside the ``collected`` folders:
    what a run confined to its testpaths (or to the folder it started in) leaves out, and whose
    cassettes it therefore cannot call stale. ``file_patterns`` are pytest's ``python_files``,
    ``skip_dirs`` its ``norecursedirs``; hidden folders, ``__pycache__`` and virtualenvs are skipped."""
    import fnmatch

    root = Path(root).resolve()
    inside = {Path(path).resolve() for path in collected}
    patterns, skipped = list(file_patterns), [*skip_dirs, ".*", "__pycache__", "site-packages", "node_modules"]
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [name for name in dirs
                   if not any(fnmatch.fnmatch(name, pattern) for pattern in skipped)
                   and here / name not in inside and not (here / name / "pyvenv.cfg").exists()]
        found.update(name[:-3] for name in files
                     if name.endswith(".py") and here / name not in inside
                     and any(fnmatch.fnmatch(name, pattern) for pattern in patterns))
    return found

