"""How the CLI shows things: rich tables for people, JSON with ``--json``, one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..secrets import redact
from .target import CLIError

#: exit codes (documented in ``pytest-batch --help`` and the README).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_EXPIRED = 4
EXIT_CANCELLED = 5
EXIT_TIMEOUT = 6
EXIT_INTERRUPTED = 130

STATUS_EXIT_CODES = {"failed": EXIT_FAILED, "expired": EXIT_EXPIRED, "cancelled": EXIT_CANCELLED}

_STATUS_STYLES = {"completed": "green", "failed": "red", "expired": "red", "cancelled": "yellow",
                  "cancelling": "yellow", "in_progress": "cyan", "validating": "cyan", "finalizing": "cyan"}


def console(stderr: bool = False) -> Any:
    """A rich console; when output is not a terminal it is wide enough for batch ids."""
    from rich.console import Console

    # emoji=False: ":name:" in a path or an id stays as typed
    out = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = max(out.width, 160)
    return out


def esc(value: Any) -> str:
    """``value`` as text that rich prints literally: user, config and provider text (paths,
    ids, model names, error messages) must go through this (or ``markup=False``), or rich
    eats anything in square brackets, such as ``[tool.pytest-batch]``."""
    from rich.markup import escape

    return escape(str(value))


def emit_json(data: Any, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def status_text(status: Any) -> str:
    return str(getattr(status, "value", status))


def styled_status(status: Any) -> str:
    text = status_text(status)
    style = _STATUS_STYLES.get(text)
    return f"[{style}]{esc(text)}[/{style}]" if style else esc(text)


def exit_code(job: Any) -> int:
    """How ``status`` (and ``results``) exit for ``job``: 0 completed or still running, else the
    code of how it ended (see STATUS_EXIT_CODES). A batch that completed without one request
    succeeding counts as failed: Anthropic (and Gemini) have no "failed" batch state, their
    batches whose every request errored end "ended"/"succeeded" all the same."""
    if nothing_succeeded(job):
        return EXIT_FAILED
    return STATUS_EXIT_CODES.get(status_text(job.status), EXIT_OK)


def nothing_succeeded(job: Any) -> bool:
    """True for a completed batch of which every request failed, as the provider counts them (so
    ``status`` and ``results`` exit alike: a refused answer is a success to the provider)."""
    counts = job.provider_counts
    return status_text(job.status) == "completed" and counts.total > 0 and counts.succeeded == 0 and \
        counts.failed > 0


#: the error kinds of requests that never ran (reported as such by ``results``).
NO_RESULT_KINDS = ("expired", "canceled", "missing")


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def progress_text(counts: Any) -> str:
    """``succeeded / failed / total``."""
    return f"{counts.succeeded} / {counts.failed} / {counts.total}"


def job_dict(job: Any) -> dict[str, Any]:
    counts = job.counts
    return {
        "id": job.id, "provider": job.provider, "model": job.model, "status": status_text(job.status),
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "ended_at": job.ended_at.isoformat() if job.ended_at else None,
        "counts": {"total": counts.total, "succeeded": counts.succeeded, "failed": counts.failed,
                   "pending": counts.pending},
        "errors": list(job.errors),
    }


def jobs_table(jobs: list[Any], title: str | None = None) -> Any:
    """A table of jobs, each with the model it was created with ("-" when neither the provider
    nor this CLI's record knows it)."""
    from rich.table import Table

    table = Table(title=esc(title) if title else None)
    for name in ("ID", "Status", "Created", "Progress (ok / failed / total)", "Model"):
        table.add_column(name, overflow="fold")
    for job in jobs:
        table.add_row(esc(job.id), styled_status(job.status), when(job.created_at), progress_text(job.counts),
                      esc(job.model) if job.model else "-")
    return table


# --------------------------------------------------------------------------- files the user names
#: names whose links lead to a file descriptor of this process (/dev/stdout -> /proc/self/fd/1):
#: the descriptor is written, never the file it happens to be open on.
_DESCRIPTOR_NAMES = ("/dev/std", "/dev/fd/", "/proc/")


@dataclass(frozen=True)
class OutputFile:
    """Where ``--output-file NAME`` writes, decided as ``> NAME`` would, never by replacing what
    the user named: ``-`` (or the file stdout already goes to) is stdout; a device, a pipe or a
    descriptor (/dev/stdout, /dev/fd/N) is written in place; a regular file, or a new one, is
    replaced atomically once everything is written (through a symlink: its target is replaced,
    the link stays, and an existing file keeps its permissions)."""

    name: str
    how: str  # "stdout", "in place" or "replace"
    path: Path | None = None  # what is opened ("in place") or replaced ("replace")
    mode: int | None = None  # the permissions of the file being replaced

    @property
    def is_stdout(self) -> bool:
        """The command's own report goes to stderr then, not into the data."""
        return self.how == "stdout"

    def __str__(self) -> str:
        return "stdout" if self.is_stdout else self.name

    @contextlib.contextmanager
    def open(self) -> Iterator[OutputWriter]:
        """A UTF-8 text writer on the destination. Failing to open, write or finish it is one
        CLIError naming it; anything else raised in the block (a download that failed) passes
        through as it is, and a file that was to be replaced is left as it was."""
        with contextlib.ExitStack() as stack:
            with self._naming_failures():
                if self.how == "stdout":
                    out = stack.enter_context(_stdout_text())
                elif self.how == "in place":
                    assert self.path is not None
                    out = stack.enter_context(self.path.open("w", encoding="utf-8", newline="\n"))
                else:
                    out = stack.enter_context(self._replacing())
            yield OutputWriter(out, self)
            with self._naming_failures():
                stack.close()  # flushed, closed and (a regular file) renamed over the old one

    @contextlib.contextmanager
    def _naming_failures(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise  # the reader of stdout left (`| head`): main() ends quietly
        except OSError as exc:
            raise CLIError(f"cannot write --output-file {self.name}: {exc.strerror or exc}") from None

    @contextlib.contextmanager
    def _replacing(self) -> Iterator[TextIO]:
        import secrets

        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a side file in the same directory (a rename never crosses file systems), unique per run
        side = self.path.with_name(f".{self.path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
        handle = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            if self.mode is not None:
                os.fchmod(handle, stat.S_IMODE(self.mode))
            with open(handle, "w", encoding="utf-8", newline="\n") as out:
                yield out
            os.replace(side, self.path)
        finally:
            side.unlink(missing_ok=True)


class OutputWriter:
    """What ``OutputFile.open`` yields: ``write`` text; a failed write is one CLIError."""

    def __init__(self, out: TextIO, destination: OutputFile) -> None:
        self._out, self._destination = out, destination

    def write(self, text: str) -> None:
        with self._destination._naming_failures():
            self._out.write(text)


def output_file(name: str) -> OutputFile:
    """Decide, before anything is downloaded, where ``--output-file name`` goes (see OutputFile);
    a directory, or a name that cannot be looked at, is one CLIError."""
    if name == "-":
        return OutputFile(name, "stdout")
    path = Path(name)
    try:
        info: os.stat_result | None = path.stat()  # through every link
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise CLIError(f"cannot write --output-file {name}: {exc.strerror or exc}") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise CLIError(f"--output-file {name} is a directory; give a file name such as {path / 'results.jsonl'}")
        if _is_stdout(info):
            return OutputFile(name, "stdout")
        if not stat.S_ISREG(info.st_mode) or _names_a_descriptor(path):
            return OutputFile(name, "in place", path)
    return OutputFile(name, "replace", Path(os.path.realpath(path)), info.st_mode if info is not None else None)


def _is_stdout(info: os.stat_result) -> bool:
    try:
        out = os.fstat(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return (out.st_dev, out.st_ino) == (info.st_dev, info.st_ino)


def _names_a_descriptor(path: Path) -> bool:
    """Whether ``path`` or a link it leads through is /dev/stdout, /dev/fd/N or /proc/..."""
    current = Path(os.path.abspath(path))
    for _ in range(40):  # the kernel's own limit on links in a row
        if str(current).startswith(_DESCRIPTOR_NAMES):
            return True
        if not current.is_symlink():
            return False
        current = Path(os.path.normpath(current.parent / os.readlink(current)))
    return False


@contextlib.contextmanager
def _stdout_text() -> Iterator[TextIO]:
    """stdout as UTF-8 text, whatever the locale says (JSON lines are UTF-8)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # already a text stream of its own (tests capture stdout so)
        yield sys.stdout
        return
    out = io.TextIOWrapper(buffer, encoding="utf-8", newline="\n", write_through=True)
    try:
        yield out
        out.flush()
    finally:
        out.detach()  # stdout stays open


# --------------------------------------------------------------------------- errors


def error_line(exc: BaseException, provider: str | None = None) -> tuple[str, int]:
    """One line that says what went wrong and how to fix it, and the exit code."""
    if isinstance(exc, CLIError):
        return redact(exc.line()), exc.code
    from ..errors import BatchProcessorError, MissingAPIKeyError

    if isinstance(exc, MissingAPIKeyError):
        return redact(f"❌ Error: {exc} (or pass --simulate to use the local emulator)"), EXIT_ERROR
    if isinstance(exc, BatchProcessorError):
        message = str(exc)
        if message.startswith("Unsupported provider"):
            return redact(f"❌ {message}"), EXIT_ERROR
        return redact(f"❌ Error: {message}"), EXIT_ERROR
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    module = type(exc).__module__.split(".")[0]
    if module in ("openai", "anthropic", "google", "httpx", "httpx2") and isinstance(status, int):
        return redact(f"❌ Error: {provider or module} API error {status}: {_api_message(exc)}"), EXIT_ERROR
    return redact(f"❌ Error: {type(exc).__name__}: {_first_line(exc)}"), EXIT_ERROR


#: what the SDKs and httpx call a request that never got an answer.
_UNREACHABLE = ("APIConnectionError", "APITimeoutError", "ConnectError", "ConnectTimeout", "ReadTimeout",
                "WriteTimeout", "PoolTimeout", "RemoteProtocolError")


def unreachable(exc: BaseException, target: Any) -> CLIError | None:
    """When ``exc`` (or what it wraps) is a failure to reach the server, the CLIError that
    names the URL and what to do; None otherwise."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    import socket

    if isinstance(exc, BrokenPipeError):
        return None  # raised as is, it is our own stdout closing (`| head`); the SDKs wrap network errors
    if not any(type(e).__name__ in _UNREACHABLE or isinstance(e, (ConnectionError, socket.gaierror)) for e in chain):
        return None
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        reason = "connection refused"
    elif any(type(e).__name__ in _UNREACHABLE and "Timeout" in type(e).__name__ for e in chain):
        reason = "timed out"
    else:
        reason = _first_line(chain[-1])
    if target.mode == "server":
        advice = "is `pytest-batch serve` running there? check --base-url"
    elif target.describe() != "live API":  # a key and an SDK base-URL variable
        from ..endpoints import BASE_URL_ENV

        advice = f"is a server running there? check {BASE_URL_ENV[target.provider]}"
    else:
        advice = "check your network, or pass --simulate to work offline"
    return CLIError(f"cannot reach the {target.provider} API at {target.url} ({reason}); {advice}")


def _api_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    message = getattr(exc, "message", None)
    return str(message) if message else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
