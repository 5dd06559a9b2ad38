"""How the CLI shows things: rich tables for people, JSON with ``--json``, one-line errors."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Any

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


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


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


def jobs_table(jobs: list[Any], title: str | None = None, model: str | None = None) -> Any:
    """A table of jobs; ``model`` (--model's name) fills the Model column where the provider
    names none (Anthropic never does, OpenAI not while validating), dimmed."""
    from rich.table import Table

    table = Table(title=esc(title) if title else None)
    for name in ("ID", "Status", "Created", "Progress (ok / failed / total)", "Model"):
        table.add_column(name, overflow="fold")
    for job in jobs:
        table.add_row(esc(job.id), styled_status(job.status), when(job.created_at), progress_text(job.counts),
                      esc(job.model) if job.model else f"[dim]{esc(model)}[/dim]" if model else "-")
    return table


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
        from .target import BASE_URL_VARS

        advice = f"is a server running there? check {BASE_URL_VARS[target.provider]}"
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
