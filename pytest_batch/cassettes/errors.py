"""What can go wrong with a cassette, as exceptions the plugin and users catch.

Every message is redacted when the exception is made (``secrets.redact``, as the CLI's errors):
a mismatch shows the request that came and the closest recorded one, and whatever key travelled
in them (passed in code, in a prompt) must not reach the terminal or a --junitxml report.
"""

from __future__ import annotations

from pathlib import Path

from ..secrets import redact


class CassetteError(Exception):
    """A cassette cannot be used: missing, pending, unreadable, or it would leak a secret."""

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


class CassetteUnreadable(CassetteError):
    """A cassette file that is not a cassette: not UTF-8, not YAML, cut short, or shaped wrong."""

    def __init__(self, path: Path, problem: str, how_to_fix: str = "") -> None:
        fix = f" {how_to_fix}" if how_to_fix else ""
        super().__init__(f"pytest-batch cannot read cassette {path}: {problem}.{fix}")
        self.path = path
        self.problem = problem


class CassetteMismatch(CassetteError):
    """Replay met a request the cassette has no answer for."""


class RecordingPending(Exception):
    """Recording stopped at ``record_timeout`` with the batch still running; skip with ``str(exc)``."""

    def __init__(self, message: str, *, batch_id: str | None = None, path: Path | None = None) -> None:
        super().__init__(redact(message))
        self.batch_id = batch_id
        self.path = path


class ReplayMiss(BaseException):
    """Carries a CassetteMismatch message out through SDK retry loops (they catch Exception).

    It surfaces where the test sent the request; the ``with`` block turns it into
    CassetteMismatch on exit. Catch it as ``ReplayMiss`` to report it earlier.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


