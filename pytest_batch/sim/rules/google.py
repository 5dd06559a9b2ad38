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
            if index is not None and element is None:  # a null is "unset" for a field, but no list item
                shown = f"{TYPE_PREFIX}{kind}" if kind in MESSAGES else _SCALARS[kind]
                problems.append(Problem(here, f"Invalid value at '{here}' ({shown}), null", key,
                                        "{" if kind in MESSAGES else '"'))
                continue
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
            if element is None:  # only a list item can be None here: "unset" is for fields
                return False
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

#: "* GenerateContentRequest.<field>: <what>" is generateContent's own wording of a field it
#: refuses, one line each, trailing newline included (a 2026-08 live probe published in a public
#: project's research notes: ``* GenerateContentRequest.generation_config.temperature: temperature
#: must be in the range [0.0, 2.0].\n``).
_CONFIG = "* GenerateContentRequest.generation_config."

#: generation_config ranges, (field, low, high): a value outside fails the request. proto3 reads 0
#: as "unset", so 0 passes wherever the range starts above it (the same probe: ``topK: 0`` -> 200).
#: temperature: ai.google.dev/api/generate-content GenerationConfig ("Values can range from [0.0,
#: 2.0]"), wording live (the probe above: 2 -> 200, 5 -> 400). topP and candidateCount: ranges
#: from ai.google.dev/gemini-api/docs/troubleshooting ("Candidate count 1-8 (integer)", "TopP
#: 0.0-1.0"); their wording follows the temperature message and is unverified. topK has no
#: documented range and 0 passes live, so it is not checked; nor are the penalties (no range on
#: record for the Developer API).
_RANGES = (("temperature", 0.0, 2.0, "[0.0, 2.0]"), ("topP", 0.0, 1.0, "[0.0, 1.0]"),
           ("candidateCount", 0, 8, "[1, 8]"))

#: responseMimeType: live wording (python-genai and several public projects' logs, 2025-08 to
#: 2026-09, e.g. a TTS probe: ``* GenerateContentRequest.generation_config.response_mime_type:
#: allowed mimetypes are `text/plain`, ...``).
RESPONSE_MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")
_MIME_MESSAGE = (f"{_CONFIG}response_mime_type: allowed mimetypes are "
                 + ", ".join(f"`{m}`" for m in RESPONSE_MIME_TYPES[:-1]) + f" and `{RESPONSE_MIME_TYPES[-1]}`.\n")

#: Content.role: "Must be either 'user' or 'model'" (ai.google.dev/api/caching#Content); live
#: ``Please use a valid role: user, model.`` (dify-official-plugins #566, LangBot #1486,
#: CLIProxyAPI #17 on /v1beta). An unset role passes on the Developer API (it is Vertex that
#: refuses it). "function" (the role of function responses in older SDKs) is let through: no
#: capture says the API refuses it, and refusing a valid request is the worse mistake.
_ROLES = frozenset({"", "user", "model", "function"})
ROLE_MESSAGE = "Please use a valid role: user, model."

#: thinkingBudget per model (ai.google.dev/gemini-api/docs/thinking#set-budget): 2.5 Pro 128 to
#: 32768 and cannot turn thinking off; 2.5 Flash 0 to 24576; 2.5 Flash-Lite 512 to 24576, 0 turns
#: it off; -1 is dynamic on all three. (low, high, 0 allowed); longest prefix first.
_THINKING_BUDGETS = (("gemini-2.5-flash-lite", 512, 24576, True), ("gemini-2.5-flash", 1, 24576, True),
                     ("gemini-2.5-pro", 128, 32768, False))
#: live (chatluna #519, and public projects' captures of gemini-2.5-pro and 3.x pro): code 400
THINKING_REQUIRED = "Budget 0 is invalid. This model only works in thinking mode."


def _number(value: Any) -> float | None:
    """A proto-JSON number (int64 may come quoted); None when absent or not a number (the
    front end refused those already)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _read(obj: Any, camel: str) -> Any:
    if not isinstance(obj, dict):
        return None
    return obj[camel] if camel in obj else obj.get(snake(camel))


def request_problem(request: dict[str, Any], model: str = "") -> str | None:
    """generateContent's refusal of a request that parsed, or None; in a batch it fails that row
    alone. Messages as the live API gives them, trailing newline included (chatgpt-plugin #733,
    chatwise-releases #250); the sources of each rule are on its constant above."""
    contents = request.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    for index, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not parts:
            return f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty.\n"
    for content in contents:
        role = content.get("role") if isinstance(content, dict) else None
        if isinstance(role, str) and role not in _ROLES:
            return ROLE_MESSAGE
    config = _read(request, "generationConfig")
    if not isinstance(config, dict):
        return None
    lines = _config_problems(config)
    if lines:
        return "".join(lines)
    budget = _number(_read(_read(config, "thinkingConfig"), "thinkingBudget"))
    return thinking_budget_problem(model, int(budget)) if budget is not None else None


def _config_problems(config: dict[str, Any]) -> list[str]:
    lines = []
    for name, low, high, shown in _RANGES:
        value = _number(_read(config, name))
        if value is not None and not low <= value <= high:
            field = snake(name)
            lines.append(f"{_CONFIG}{field}: {field} must be in the range {shown}.\n")
    tokens = _number(_read(config, "maxOutputTokens"))
    if tokens is not None and tokens < 0:
        # ai.google.dev/api/generate-content: "The maximum number of tokens to include in a
        # response candidate" (0 is unset); wording unverified
        lines.append(f"{_CONFIG}max_output_tokens: max_output_tokens must be positive.\n")
    mime = _read(config, "responseMimeType")
    if isinstance(mime, str) and mime and mime not in RESPONSE_MIME_TYPES:
        lines.append(_MIME_MESSAGE)
    lines += _schema_problems(config, mime if isinstance(mime, str) else "")
    return lines


def _schema_problems(config: dict[str, Any], mime: str) -> list[str]:
    """GenerationConfig reference: responseJsonSchema "When this field is set, response_schema
    must be omitted and response_mime_type must be set to `application/json`"; responseSchema
    "If set, a compatible responseMimeType must also be set. Compatible mimetypes:
    `application/json`" (and `text/x.enum` for an enum schema, docs/structured-output). The
    rules are the docs'; the wording is unverified."""
    json_schema = _read(config, "responseJsonSchema")
    if json_schema is None:
        json_schema = _read(config, "_responseJsonSchema")
    schema = _read(config, "responseSchema")
    if json_schema is not None and schema is not None:
        return [f"{_CONFIG}response_schema: response_schema must be omitted when response_json_schema is set.\n"]
    if json_schema is not None and mime != "application/json":
        return [f"{_CONFIG}response_mime_type: response_mime_type must be `application/json` when "
                "response_json_schema is set.\n"]
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        return [f"{_CONFIG}response_mime_type: response_mime_type must be `application/json` or `text/x.enum` "
                "when response_schema is set.\n"]
    return []


def thinking_budget_problem(model: str, budget: int) -> str | None:
    """The model's refusal of ``thinkingBudget``, or None (other models: no range on record)."""
    if budget == -1:
        return None
    model = model.removeprefix("models/")
    for prefix, low, high, may_stop in _THINKING_BUDGETS:
        if model == prefix or model.startswith(prefix + "-"):
            if budget == 0:
                return None if may_stop else THINKING_REQUIRED
            if low <= budget <= high:
                return None
            # Vertex's live wording (gcli2api #108, Antigravity-Manager #1384); the Developer
            # API's is unverified
            return (f"Unable to submit request because thinking_budget is out of range; supported values are "
                    f"integers from {low} to {high}.")
    return None


def invalid_schema_message(request: dict[str, Any], schema_name: str | None, detail: str) -> str:
    """A responseSchema / responseJsonSchema the API cannot use: the row's 400 INVALID_ARGUMENT,
    in generateContent's "* field: what" form (live for schema faults: ``* GenerateContentRequest.
    generation_config.response_schema.properties[occupation].type: must be specified``, quoted in
    a public provider library's docs); the detail after the field is this emulator's."""
    config = _read(request, "generationConfig")
    json_schema = any(_read(config, name) is not None for name in ("responseJsonSchema", "_responseJsonSchema"))
    field = "response_json_schema" if json_schema else "response_schema"
    return f"{_CONFIG}{field}: invalid schema: {detail}\n"


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
