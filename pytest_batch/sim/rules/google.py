"""What the Gemini Developer API accepts in batch mode and the Files API, and the errors it gives.

Three kinds of check, each with the live API's wording:

- the create body (``models/{m}:batchGenerateContent``) and the upload metadata are read as
  proto-JSON by Google's front end: an unknown field, a list for a singular field or a value
  of the wrong type is a 400 ``INVALID_ARGUMENT`` at once, every problem on its own line and
  in ``details[0].fieldViolations`` (``BadRequest``), paths in snake_case proto names
  (python-genai issues #1103 and #1451: ``Invalid JSON payload received. Unknown name
  "thinkingConfig" at 'batch.input_config.requests.requests[0].request.generation_config':
  Cannot find field.``; gemini-cli #4120 and zed #53919 for the other two forms);
- a JSONL input file is read by another parser when the batch is created: a line it cannot
  read fails the create with 400 and ``Error on line N: invalid JSON, near column C: …``, one
  line per bad row (inspect_ai issues #3257 "no such field: 'thinking_config'" and #5100
  "unexpected character: '['; expected '{'"; live-capture notes: "A file with one valid and
  one malformed row -> HTTP 400 INVALID_ARGUMENT at create, no batch created");
- a request that parses but that generateContent refuses fails alone: the batch succeeds and
  that row carries an error, counted in ``batchStats.failedRequestCount`` (langchain4j
  recording, ERROR_RESPONSE). The messages are generateContent's (vercel/ai #3775,
  chatgpt-plugin #733: ``* GenerateContentRequest.contents: contents is not specified``).

Names: a file ID is at most 40 lowercase alphanumerics or dashes, not starting or ending with
a dash (ai.google.dev/api/files, ``File.name``).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, NamedTuple

from ..http import HTTPError
from . import sdk_declared_fields

#: the type URLs the live API quotes name the internal v1main package, whatever the URL's
#: version (recordings: ``…v1main.GenerateContentBatch``; a 2026-09 capture of a bad enum:
#: ``(type.googleapis.com/google.ai.generativelanguage.v1main.MediaResolution)``).
TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1main."

# Field kinds: a message name, or one of the scalar kinds below; "any" is a Struct/Value (or a
# message this emulator does not check field by field: tools, schemas, media); a trailing "[]"
# marks a repeated field. Field names are the proto-JSON (lowerCamel) ones; snake_case is
# accepted too. Sources: ai.google.dev/api/batch-mode, /api/generate-content, /api/caching
# (Content, Part), /api/files; the google-genai 3.6 types for fields added since.
_SCALARS = {"str": "TYPE_STRING", "int": "TYPE_INT32", "int64": "TYPE_INT64", "float": "TYPE_FLOAT",
            "bool": "TYPE_BOOL", "enum": "TYPE_ENUM", "bytes": "TYPE_BYTES"}
_ANY = "any"
MESSAGES: dict[str, dict[str, str]] = {
    "BatchGenerateContentRequest": {"batch": "GenerateContentBatch"},
    "GenerateContentBatch": {
        "model": "str", "name": "str", "displayName": "str", "inputConfig": "InputConfig", "output": _ANY,
        "createTime": "str", "endTime": "str", "updateTime": "str", "batchStats": _ANY, "state": "enum",
        "priority": "int64", "webhookConfig": _ANY},
    "InputConfig": {"fileName": "str", "requests": "InlinedRequests"},
    "InlinedRequests": {"requests": "InlinedRequest[]"},
    "InlinedRequest": {"request": "GenerateContentRequest", "metadata": _ANY},
    "GenerateContentRequest": {
        "model": "str", "contents": "Content[]", "tools": "any[]", "toolConfig": _ANY, "safetySettings": "any[]",
        "systemInstruction": "Content", "generationConfig": "GenerationConfig", "cachedContent": "str",
        "serviceTier": "enum", "store": "bool", "labels": _ANY},
    "Content": {"parts": "Part[]", "role": "str"},
    "Part": {
        "text": "str", "thought": "bool", "thoughtSignature": "bytes", "inlineData": _ANY, "fileData": _ANY,
        "functionCall": _ANY, "functionResponse": _ANY, "executableCode": _ANY, "codeExecutionResult": _ANY,
        "videoMetadata": _ANY, "mediaResolution": _ANY, "partMetadata": _ANY, "toolCall": _ANY,
        "toolResponse": _ANY},
    "GenerationConfig": {
        "stopSequences": "str[]", "responseMimeType": "str", "responseSchema": _ANY, "responseJsonSchema": _ANY,
        "_responseJsonSchema": _ANY, "responseModalities": "enum[]", "candidateCount": "int",
        "maxOutputTokens": "int", "temperature": "float", "topP": "float", "topK": "int", "seed": "int",
        "presencePenalty": "float", "frequencyPenalty": "float", "responseLogprobs": "bool", "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool", "speechConfig": _ANY, "thinkingConfig": "ThinkingConfig",
        "imageConfig": _ANY, "mediaResolution": "enum", "audioTimestamp": "bool", "routingConfig": _ANY,
        "modelSelectionConfig": _ANY, "enableAffectiveDialog": "bool", "responseFormat": _ANY,
        "translationConfig": _ANY, "audioTranscriptionConfig": _ANY},
    "ThinkingConfig": {"includeThoughts": "bool", "thinkingBudget": "int", "thinkingLevel": "enum"},
    "CreateFileRequest": {"file": "File"},
    "File": {
        "name": "str", "displayName": "str", "mimeType": "str", "sizeBytes": "int64", "createTime": "str",
        "updateTime": "str", "expirationTime": "str", "sha256Hash": "bytes", "uri": "str", "downloadUri": "str",
        "state": "enum", "source": "enum", "videoMetadata": _ANY, "error": _ANY},
}
#: a JSONL input line: the user's key and a GenerateContentRequest (ai.google.dev/gemini-api/docs/batch-mode).
MESSAGES["BatchInputLine"] = {"key": "str", "request": "GenerateContentRequest", "metadata": _ANY}

_FILE_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
MAX_FILE_ID = 40


class GoogleInvalidArgument(HTTPError):
    """A 400 INVALID_ARGUMENT whose envelope lists each problem as a BadRequest field violation."""

    def __init__(self, violations: list[tuple[str | None, str]]) -> None:
        super().__init__(400, "\n".join(description for _, description in violations), code="INVALID_ARGUMENT")
        self.violations = violations

    def details(self) -> list[dict[str, Any]]:
        return [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
            {"field": field, "description": description} if field else {"description": description}
            for field, description in self.violations]}]


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def snake(name: str) -> str:
    """The snake_case (proto) name of a lowerCamel JSON name."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


#: the messages google-genai has a type of the same name for: a field a newer SDK declares on it
#: passes unchecked when the list above lacks it
_SDK_TYPED = frozenset({"Content", "Part", "GenerationConfig", "ThinkingConfig", "File"})


def _field(message: str, key: str) -> str | None:
    fields = MESSAGES[message]
    kind = fields.get(key) or fields.get(_camel(key))
    if kind is None and message in _SDK_TYPED and key in sdk_declared_fields("google.genai.types", message):
        return _ANY  # a field the user's newer SDK declares: the API it was written for reads it
    return kind


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------- proto-JSON bodies

class Problem(NamedTuple):
    """One thing the front end cannot read: the field path (None at the top), the live API's
    description, and for the JSONL parser's wording the key as sent and what it expected there
    (None for an unknown key)."""

    field: str | None
    description: str
    key: str
    expected: str | None


def proto_problems(message: str, value: dict[str, Any], path: str = "") -> list[Problem]:
    """Each problem in ``value`` read as ``message``, in the live API's words."""
    problems: list[Problem] = []
    for key, item in value.items():
        kind = _field(message, key)
        where = f"{path}.{snake(key)}".lstrip(".")
        at = f" at '{path}'" if path else ""
        if kind is None:
            problems.append(Problem(path or None, f"Invalid JSON payload received. Unknown name {_json(key)}{at}: "
                                                  "Cannot find field.", key, None))
            continue
        repeated = kind.endswith("[]")
        kind = kind.removesuffix("[]")
        if kind == _ANY:  # a Struct, Value or a message this emulator does not check field by field
            continue
        if isinstance(item, list) and not repeated:
            problems.append(Problem(path or None, f"Invalid JSON payload received. Unknown name {_json(key)}{at}: "
                                                  "Proto field is not repeating, cannot start list.", key,
                                    "{" if kind in MESSAGES else '"'))
            continue
        # a single value for a repeated field is read as a one-item list, as the front end does
        items = list(enumerate(item)) if isinstance(item, list) else [(None, item)]
        for index, element in items:
            here = where if index is None else f"{where}[{index}]"
            problems += _value_problems(kind, element, here, key, "[" if repeated and index is None else None)
    return problems


def _value_problems(kind: str, value: Any, path: str, key: str, expected: str | None) -> list[Problem]:
    if value is None or kind == _ANY:
        return []
    if kind in MESSAGES:
        if isinstance(value, dict):
            return proto_problems(kind, value, path)
        return [Problem(path, f"Invalid value at '{path}' ({TYPE_PREFIX}{kind}), {_json(value)}", key,
                        expected or "{")]
    if isinstance(value, dict | list):
        # worded from the parent: "Invalid value at 'contents[0].parts[0]' (text), Starting an object on a
        # scalar field" (a 2025-10 capture, quoted in a public project's changelog)
        parent, _, name = path.rpartition(".")
        return [Problem(path, f"Invalid value at '{parent or path}' ({name}), Starting an object on a scalar "
                              "field", key, expected or '"')]
    if not _scalar_fits(kind, value):
        return [Problem(path, f"Invalid value at '{path}' ({_SCALARS[kind]}), {_json(value)}", key,
                        expected or '"')]
    return []


def _scalar_fits(kind: str, value: Any) -> bool:
    if kind in ("str", "bytes"):
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "enum":
        return isinstance(value, str | int) and not isinstance(value, bool)
    # proto-JSON numbers may be quoted (int64 always is on output)
    if isinstance(value, str):
        try:
            value = float(value) if kind == "float" else int(value)
        except ValueError:
            return False
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "float" or float(value).is_integer()


def _spec(message: str) -> dict[str, tuple[str, bool]]:
    """{name in either spelling: (kind without "[]", repeated)} for ``message``."""
    spec = {}
    for name, kind in MESSAGES[message].items():
        entry = (kind.removesuffix("[]"), kind.endswith("[]"))
        spec[name] = spec[snake(name)] = entry
    return spec


_SPECS: dict[str, dict[str, tuple[str, bool]]] = {}


def readable(message: str, value: dict[str, Any]) -> bool:
    """Whether ``value`` reads as ``message`` without a problem: the fast path of
    ``proto_problems`` (no paths built), for the hundred thousand rows of a large batch."""
    spec = _SPECS.get(message) or _SPECS.setdefault(message, _spec(message))
    for key, item in value.items():
        entry = spec.get(key)
        if entry is None:
            return False
        kind, repeated = entry
        if item is None or kind == _ANY:
            continue
        if isinstance(item, list):
            if not repeated:
                return False
        else:
            item = (item,)
        for element in item:
            if kind == "str":
                if not isinstance(element, str):
                    return False
            elif kind in MESSAGES:
                if not isinstance(element, dict) or not readable(kind, element):
                    return False
            elif element is not None and (isinstance(element, dict | list) or not _scalar_fits(kind, element)):
                return False
    return True


def check_body(message: str, body: dict[str, Any]) -> None:
    """Raise the live 400 for a create or upload body the front end cannot read as ``message``."""
    if readable(message, body):
        return
    problems = proto_problems(message, body)
    if problems:
        raise GoogleInvalidArgument([(p.field, p.description) for p in problems])


# ---------------------------------------------------------------------------- JSONL input lines

def line_problem(line: str, value: dict[str, Any] | None) -> str:
    """Why the batch-input parser rejects one JSONL line (``value``: the line parsed, None when it
    is no JSON object), worded as the live API words it: ``invalid JSON, near column C: …``; the
    column is where the key (or the value) starts, as near as this emulator can tell. A syntax
    error is told in Python's words (no live capture of one)."""
    if value is None:
        try:
            json.loads(line)
        except ValueError as exc:
            return f"invalid JSON, near column {getattr(exc, 'colno', 1)}: {getattr(exc, 'msg', exc)}"
        except RecursionError:
            return "invalid JSON, near column 1: nested too deeply"
        return f"invalid JSON, near column 1: unexpected character: {line.lstrip()[:1]!r}; expected '{{'"
    problems = proto_problems("BatchInputLine", value)
    if not problems:
        return "invalid JSON, near column 1: each line needs a \"request\" object (a GenerateContentRequest)"
    first = problems[0]
    if first.expected is None:
        return f"invalid JSON, near column {_column(line, first.key, value=False)}: no such field: {first.key!r}"
    column = _column(line, first.key, value=True)
    return (f"invalid JSON, near column {column}: unexpected character: {line[column - 1:column]!r}; "
            f"expected {first.expected!r}")


def _column(line: str, key: str, *, value: bool) -> int:
    """1-based column of ``key`` in ``line``: of its value, or of the key itself."""
    found = re.search(rf'"{re.escape(key)}"\s*:\s*', line)
    if found is None:
        return 1
    return (found.end() if value else found.start()) + 1


def file_lines_error(name: str, errors: list[tuple[int, str]]) -> HTTPError:
    """The create's 400 for an input file with unreadable lines: one ``Error on line N: …`` each."""
    return HTTPError(400, "\n".join(f"Error on line {number}: {reason}" for number, reason in errors),
                     code="INVALID_ARGUMENT")


# ---------------------------------------------------------------------------- per-request rules

def request_problem(request: dict[str, Any]) -> str | None:
    """generateContent's refusal of a request that parsed, or None; in a batch it fails that row
    alone. Messages as the live API gives them, trailing newline included (chatgpt-plugin #733,
    chatwise-releases #250)."""
    contents = request.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    for index, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not parts:
            return f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty.\n"
    return None


# ---------------------------------------------------------------------------- names

def check_file_id(file_id: str, method: str, *, creating: bool = False) -> None:
    """A file ID is lowercase alphanumerics and dashes, not starting or ending with a dash, at
    most 40 characters (ai.google.dev/api/files: "The ID (name excluding the "files/" prefix)
    can contain up to 40 characters that are lowercase alphanumeric or dashes (-). The ID
    cannot start or end with a dash."). The batch output ``files/batch-<40>`` is longer: read
    and download take it, delete answers 400 (live-capture notes), so only create and delete
    check the length."""
    field = "file.name" if creating else "name"
    if not _FILE_ID.fullmatch(file_id):
        raise HTTPError(400, f"* {method}.{field}: The ID of files/{file_id} may contain only lowercase "
                        "alphanumeric characters or dashes (-), and cannot start or end with a dash.",
                        code="INVALID_ARGUMENT")
    if (creating or method == "DeleteFileRequest") and len(file_id) > MAX_FILE_ID:
        advice = " A batch's output file goes when the batch is deleted." if file_id.startswith("batch-") else ""
        raise HTTPError(400, f"* {method}.{field}: File name may be at most {MAX_FILE_ID} characters long, "
                        f"got files/{file_id}.{advice}", code="INVALID_ARGUMENT")
