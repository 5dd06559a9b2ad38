"""What a cassette on disk is (missing, recorded, pending, unreadable), what auto mode does with it,
and the folder check (stale, leaking, pending, unreadable cassettes)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .format import read_metadata
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
    except Exception:  # noqa: BLE001 - any YAML error: let replay report it
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
            out.append(f"unreadable: {path}: {why}")
        return out

    def format(self) -> str:
        return "\n".join(self.lines()) or f"{len(self.checked)} cassettes in {self.cassette_dir}: all clean"


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
        try:
            pending = read_metadata(text).get("pending")
        except Exception as exc:  # noqa: BLE001 - report any YAML error as one line
            report.unreadable[path] = f"not valid YAML ({type(exc).__name__})"
            continue
        if pending:
            report.pending[path] = pending.get("batch_id")
    return report
