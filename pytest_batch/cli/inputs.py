"""What the CLI reads from the user: messages files and ``--response-model`` specs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..response_models import DEFAULT_RESPONSE_MODEL  # --response-model when none is given
from .output import EXIT_USAGE
from .target import CLIError

#: the seed README writes ``--response-model "examples.User"``; when no importable
#: ``examples`` module defines ``User``, that spelling means the seed's ``User``.
_SEED_ALIASES = {"examples.User": DEFAULT_RESPONSE_MODEL, "examples:User": DEFAULT_RESPONSE_MODEL}


#: what one line of a messages file may be, for error messages
_LINE_FORMS = ('a string, {"prompt": "..."}, {"messages": [...]} or a list of {"role", "content"} messages')


@dataclass
class Messages:
    """The requests of a messages file: each a prompt string or a list of chat messages."""

    requests: list[str | list[dict[str, Any]]]
    custom_ids: list[str] | None


def read_messages(path: str | Path, check_custom_id: Callable[[str], None] | None = None) -> Messages:
    """Read a messages file: one JSON value per line, either a string (the prompt),
    ``{"prompt": "..."}``, ``{"messages": [{"role": ..., "content": ...}, ...]}`` or the bare
    list of messages (Instructor's ``batch create`` format); the forms may be mixed. Each object
    takes an optional ``"custom_id"`` (checked with ``check_custom_id``, the provider's rule, so a
    bad one is reported with its line). Blank lines are skipped."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CLIError(f"messages file not found: {path}") from None
    except OSError as exc:
        raise CLIError(f"cannot read messages file {path}: {exc.strerror or exc}") from None
    try:
        # utf-8-sig: editors on Windows (Notepad, Excel's "CSV UTF-8") start the file with a byte-order mark
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CLIError(f"messages file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                       f"{exc.start}); save it as UTF-8") from None
    requests: list[str | list[dict[str, Any]]] = []
    ids: list[str | None] = []
    seen: dict[str, int] = {}
    # JSON Lines ends lines with "\n" (and tolerates "\r\n"), nothing else: str.splitlines() would also
    # split at U+2028, U+0085 and the like, which JSON strings may hold as they are.
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r").removeprefix("\ufeff")  # files joined with `cat` keep their marks
        if not line.strip(_JSON_WHITESPACE):
            continue
        where = f"{path} line {number}"
        row = _json_line(line, where)
        custom_id = None
        if isinstance(row, str):
            if not row:
                raise CLIError(f"{where}: the prompt is empty")
            request: str | list[dict[str, Any]] = row
        elif isinstance(row, list):  # Instructor's form: the line is the conversation itself
            request = _check_messages(row, where, "the line")
        elif isinstance(row, dict):
            custom_id = row.get("custom_id")
            if custom_id is not None and (not isinstance(custom_id, str) or not custom_id):
                raise CLIError(f"{where}: \"custom_id\" must be a non-empty string")
            if custom_id is not None and check_custom_id is not None:
                try:
                    check_custom_id(custom_id)
                except ValueError as exc:
                    raise CLIError(f"{where}: {exc}") from None
            if "messages" in row:
                request = _check_messages(row["messages"], where)
            elif isinstance(row.get("prompt"), str) and row["prompt"]:
                request = row["prompt"]
            else:
                raise CLIError(f"{where}: expected {_LINE_FORMS}")
        else:
            raise CLIError(f"{where}: expected {_LINE_FORMS}, got {type(row).__name__}")
        if custom_id is not None:
            if custom_id in seen:
                raise CLIError(f"{where}: custom_id {custom_id!r} already used on line {seen[custom_id]}")
            seen[custom_id] = number
        requests.append(request)
        ids.append(custom_id)
    if not requests:
        raise CLIError(f"messages file {path} holds no requests")
    if not seen:
        return Messages(requests, None)
    filled = [cid if cid is not None else f"request-{index}" for index, cid in enumerate(ids, 1)]
    if len(set(filled)) != len(filled):
        raise CLIError(f"{path}: give every line a custom_id, or none (generated ids collide with given ones)")
    return Messages(requests, filled)


#: what JSON calls whitespace (RFC 8259): a line of nothing else is blank.
_JSON_WHITESPACE = " \t\r\n"


def _json_line(line: str, where: str) -> Any:
    """One line's JSON value, or a CLIError saying what is wrong with the line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError:  # json raises it for an integer longer than Python converts
        raise CLIError(f"{where}: a number has more than {sys.get_int_max_str_digits()} digits") from None
    except RecursionError:
        raise CLIError(f"{where}: the JSON is nested too deeply") from None
    if "\\u" in line:  # an escape may spell half of a UTF-16 pair, which no provider can be sent
        try:
            json.dumps(row, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CLIError(f"{where}: holds {exc.object[exc.start]!r}, half of a UTF-16 surrogate pair and no "
                           "character; write the character itself, or both halves of its \\u escape") from None
    return row


def _check_messages(messages: Any, where: str, what: str = '"messages"') -> list[dict[str, Any]]:
    """The chat messages of one line, checked as the processor will check them, so a bad one
    is reported with its file and line (the processor only knows the request's number)."""
    from ..providers import ROLES

    if not isinstance(messages, list) or not messages:
        raise CLIError(f"{where}: {what} must be a non-empty list of {{\"role\", \"content\"}} objects")
    roles = ", ".join(repr(role) for role in ROLES)
    for number, message in enumerate(messages, 1):
        at = f"{where}: message {number}"
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise CLIError(f"{at}: every message needs \"role\" and \"content\", got {_short(message)}")
        if message["role"] not in ROLES:
            raise CLIError(f"{at}: \"role\" must be one of {roles}, got {_short(message['role'])}")
        if not isinstance(message["content"], str):
            raise CLIError(f"{at}: \"content\" must be a string, got {type(message['content']).__name__} "
                           f"{_short(message['content'])}")
    return messages


def _short(value: Any, limit: int = 60) -> str:
    """``value`` as JSON for an error line: cut to ``limit`` characters, and every character that
    is not printable (U+2028, a C1 control a terminal may obey) escaped, so the line stays one."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = "".join(char if char.isprintable() else json.dumps(char)[1:-1] for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_file_model(path: str | Path) -> tuple[str | None, str | None]:
    """``(provider, model name)`` of a request file, from its first line: OpenAI lines carry
    ``body.model``, Anthropic lines ``params.model``; Gemini lines (``key``/``request``) name no
    model (None). Azure lines are OpenAI's with a url without ``/v1`` (``/chat/completions``) and
    the deployment as the model. ``(None, None)`` when the line is none of these (the processor
    reports it)."""
    try:
        with Path(path).open(encoding="utf-8-sig") as handle:  # a byte-order mark is no JSON
            first = next((line for line in handle if line.strip()), "")
        row = json.loads(first)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(row, dict):
        return None, None
    for provider, key in (("openai", "body"), ("anthropic", "params")):
        if "custom_id" in row and isinstance(row.get(key), dict):
            model = row[key].get("model")
            if provider == "openai" and not str(row.get("url", "/v1/")).startswith("/v1/"):
                provider = "azure"
            return provider, model if isinstance(model, str) and model else None
    if "key" in row and isinstance(row.get("request"), dict):
        return "google", None
    return None, None


def check_request_file_model(path: str | Path, model: str) -> None:
    """Fail (usage error) when the request file was built for another provider or model than
    ``--model``: submitting it would bill and report the file's model, not the one asked for."""
    provider, _, name = model.partition("/")
    file_provider, file_model = request_file_model(path)
    if file_provider is None:
        return
    # Azure takes OpenAI's lines too (its v1 API writes their urls with /v1): then the model is the deployment
    if file_provider != provider and (file_provider, provider) != ("openai", "azure"):
        built = f" (built for {file_provider}/{file_model})" if file_model else ""
        fix = f"{file_provider}/{file_model}" if file_model else f"{file_provider}/MODEL-NAME (see list-models)"
        raise CLIError(f"{path} holds {file_provider} requests{built}, but --model is {model}; pass --model {fix}",
                       code=2)
    if file_model is not None and file_model != name:
        raise CLIError(f"{path} was built for {provider}/{file_model}, not --model {model} (each request line "
                       f"names its model); pass --model {provider}/{file_model}, or rebuild the file with "
                       f"`pytest-batch create --messages-file FILE --model {model} --output-file {path}`", code=2)


def import_response_model(spec: str | None) -> type:
    """Import a pydantic model from ``module:Class`` or ``module.Class``, with the current
    directory on ``sys.path``; every failure is one CLIError naming the spec and the step."""
    from ..response_models import ResponseModelImportError
    from ..response_models import import_response_model as import_model

    spec = spec or DEFAULT_RESPONSE_MODEL
    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return import_model(spec, where=f"--response-model {spec!r}")
    except ResponseModelImportError as error:
        if error.module_missing and spec in _SEED_ALIASES:
            return import_response_model(_SEED_ALIASES[spec])
        raise CLIError(str(error), code=EXIT_USAGE) from None  # the option names no model: bad usage
