"""What OpenAI's Files and Batch APIs accept, and what each batch request line's body must be.

Each rule answers as the live API does: status 400, the envelope
``{"error": {"message", "type": "invalid_request_error", "param", "code"}}`` (routes/openai.py
renders it; Azure's routes render the same rule in Azure's envelope) and OpenAI's message.

OpenAI words every schema violation from one family of sentences; the forms used here, each
seen in live answers quoted in public reports:

- ``Unrecognized request argument supplied: <name>`` (param and code null) for an unknown
  top-level field of a chat completion or batch (e.g. litellm's tests: "AzureException -
  Unrecognized request argument supplied: output_config"; langchain Elixir v0.1.5 changelog);
  the Responses API says ``Unknown parameter: '<name>'.`` with code ``unknown_parameter``
  (live answers quoted in many client fixes, e.g. "Unknown parameter: 'messages[0].tool_calls'.").
- ``Missing required parameter: '<path>'.``, code ``missing_required_parameter``.
- ``Invalid type for '<path>': expected <what>, but got <kind> instead.``, code ``invalid_type``
  (live: "Invalid type for 'tool_outputs[0].output': expected a string, but got an integer
  instead.", code invalid_type; "Invalid type for 'messages[0]': expected an object, but got a
  string instead." in a VCR cassette of llm_gateway's OpenAI client tests).
- ``Invalid value: '<value>'. Supported values are: 'a', 'b', and 'c'.``, code ``invalid_value``
  (live: "Invalid value: 'tooool'. Supported values are: 'system', 'assistant', 'user',
  'function', 'tool', and 'developer'.", param messages[2].role).
- ``Invalid '<path>': integer below minimum value. Expected a value >= N, but got M instead.``
  (``integer_below_min_value``; ``integer above maximum value``/``<=`` for
  ``integer_above_max_value``; ``decimal ...`` for numbers: live "Invalid 'temperature': decimal
  above maximum value. Expected a value <= 2, but got 200 instead.", code decimal_above_max_value).
- ``Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty
  array instead.``, code ``empty_array`` (a recorded chat cassette, envoyproxy ai-gateway tests).
- ``Invalid '<path>': string too long. Expected a string with maximum length N, but got a string
  with length M instead.``, code ``string_above_max_length`` (live, tools[0].function.description).
- ``Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but
  got an object with 17 properties instead.``, code ``object_above_max_properties`` (live, quoted
  in Azure AI Foundry troubleshooting notes for the same OpenAI front end).

The fields each body may carry are the SDK's request types (openai 3.57:
types/batch_create_params.py, types/file_create_params.py, types/chat/completion_create_params.py,
types/responses/response_create_params.py), written out here so the emulator does not import
the SDK; a field a newer installed SDK declares is taken too (``sdk_declared_fields``).
"""

from __future__ import annotations

from typing import Any

from ..http import HTTPError
from . import json_type, sdk_declared_fields

#: POST /v1/batches body fields (types/batch_create_params.py)
BATCH_FIELDS = ("input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after")
#: the file purposes an upload may name (types/file_create_params.py, FilePurpose)
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: ``expires_after.seconds`` of an upload and ``output_expires_after.seconds`` of a batch: "Must be
#: between 3600 (1 hour) and 2592000 (30 days)" (the SDK's docstrings of both)
EXPIRY_SECONDS = (3600, 2_592_000)
#: metadata: "Set of 16 key-value pairs ... Keys are strings with a maximum length of 64
#: characters. Values are strings with a maximum length of 512 characters." (batch_create_params.py)
METADATA_LIMITS = (16, 64, 512)
#: a chat completion body's fields (completion_create_params.py, with ``stream`` of its subclasses)
CHAT_FIELDS = frozenset((
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs", "max_completion_tokens",
    "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n", "parallel_tool_calls",
    "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
    "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
    "web_search_options"))
#: a Responses API body's fields (response_create_params.py, with ``stream``)
RESPONSES_FIELDS = frozenset((
    "access_programs", "background", "background_options", "context_management", "conversation", "image",
    "include", "input", "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model", "moderation",
    "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store", "stream",
    "stream_options", "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user"))
#: a chat message's roles, in the order the live message lists them (see the module docstring)
ROLES = ("system", "assistant", "user", "function", "tool", "developer")


class RuleViolation(Exception):
    """One broken rule: OpenAI's message, ``param`` and ``code``; a 400 for a call, or the
    body of a 400 row in a batch's error file."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code

    def http(self) -> HTTPError:
        return HTTPError(400, self.message, code=self.code, param=self.param)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "invalid_request_error", "param": self.param,
                          "code": self.code}}


# ---------------------------------------------------------------------------- the sentences
#: how OpenAI names each JSON type in "but got ... instead"
_KINDS = {"null": "null", "boolean": "a boolean", "integer": "an integer", "number": "a decimal number",
          "string": "a string", "array": "an array", "object": "an object"}


def kind_of(value: Any) -> str:
    """How OpenAI names a JSON value's type in "but got ... instead"."""
    return _KINDS[json_type(value)]


def choices(values: tuple[str, ...]) -> str:
    """``'a', 'b', and 'c'``."""
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def unrecognized(name: str) -> RuleViolation:
    return RuleViolation(f"Unrecognized request argument supplied: {name}")


def missing(param: str) -> RuleViolation:
    return RuleViolation(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def invalid_type(param: str, expected: str, value: Any) -> RuleViolation:
    return RuleViolation(f"Invalid type for '{param}': expected {expected}, but got {kind_of(value)} instead.",
                         param, "invalid_type")


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> RuleViolation:
    return RuleViolation(f"Invalid value: '{value}'. Supported values are: {choices(supported)}.", param,
                         "invalid_value")


def check_range(param: str, value: int | float, low: float | None, high: float | None) -> None:
    """``value`` within [low, high], worded for an integer or a decimal as the API words it."""
    word = "integer" if isinstance(value, int) else "decimal"
    shown = value if isinstance(value, int) else float(value)
    if low is not None and value < low:
        raise RuleViolation(f"Invalid '{param}': {word} below minimum value. Expected a value >= {low}, but got "
                            f"{shown} instead.", param, f"{word}_below_min_value")
    if high is not None and value > high:
        raise RuleViolation(f"Invalid '{param}': {word} above maximum value. Expected a value <= {high}, but got "
                            f"{shown} instead.", param, f"{word}_above_max_value")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------- POST /v1/files
def check_upload(fields: dict[str, str | tuple[str, bytes]]) -> tuple[tuple[str, bytes], str]:
    """The upload's (filename, content) and purpose, or the HTTPError the API answers
    (types/file_create_params.py: file and purpose required)."""
    try:
        upload = fields.get("file")
        if not isinstance(upload, tuple):
            raise missing("file")
        purpose = fields.get("purpose")
        if not isinstance(purpose, str):
            raise missing("purpose")
        if purpose not in FILE_PURPOSES:
            # the classic schema sentence, still the live answer for a bad purpose (wire-formats.md A.1)
            raise RuleViolation(f"'{purpose}' is not one of {list(FILE_PURPOSES)} - 'purpose'", "purpose",
                                "invalid_value")
        return upload, purpose
    except RuleViolation as violation:
        raise violation.http() from None


def upload_expiry(fields: dict[str, str | tuple[str, bytes]]) -> int | None:
    """``expires_after.seconds`` of an upload (None: not given), or the HTTPError the API answers.
    The SDK sends ``expires_after[anchor]`` and ``expires_after[seconds]`` (bracket encoding,
    wire-formats.md A.1); both are required once either is given (anchor "created_at",
    seconds 3600..2592000: types/file_create_params.py)."""
    try:
        return _upload_expiry(fields)
    except RuleViolation as violation:
        raise violation.http() from None


def _upload_expiry(fields: dict[str, str | tuple[str, bytes]]) -> int | None:
    anchor, seconds = fields.get("expires_after[anchor]"), fields.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor is None:
        raise missing("expires_after.anchor")
    if anchor != "created_at":
        raise invalid_value("expires_after.anchor", anchor, ("created_at",))
    if seconds is None:
        raise missing("expires_after.seconds")
    text = seconds.strip() if isinstance(seconds, str) else ""
    if not text.lstrip("-").isdigit():
        # a form field is text: a value that is no integer is reported as the string it is
        raise invalid_type("expires_after.seconds", "an integer", text)
    value = int(text)
    check_range("expires_after.seconds", value, *EXPIRY_SECONDS)
    return value


# ---------------------------------------------------------------------------- POST /v1/batches
def check_create_batch(body: dict[str, Any], endpoints: tuple[str, ...]) -> None:
    """A batch create body as the API checks it: unknown fields first, then the required ones,
    then types and values (types/batch_create_params.py; wire-formats.md A.2)."""
    try:
        for name in body:
            if name not in BATCH_FIELDS:
                raise unrecognized(name)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if name not in body or body[name] is None:
                raise missing(name)
        if not isinstance(body["input_file_id"], str):
            raise invalid_type("input_file_id", "a string", body["input_file_id"])
        endpoint = body["endpoint"]
        if not isinstance(endpoint, str):
            raise invalid_type("endpoint", f"one of {choices(endpoints).replace(', and', ', or')}", endpoint)
        if endpoint not in endpoints:
            raise invalid_value("endpoint", endpoint, endpoints)
        window = body["completion_window"]
        if not isinstance(window, str):
            raise invalid_type("completion_window", "'24h'", window)  # [UNVERIFIED] wording for a one-value enum
        if window != "24h":
            raise invalid_value("completion_window", window, ("24h",))
        check_metadata(body.get("metadata"))
        check_expires_after(body.get("output_expires_after"), "output_expires_after")
    except RuleViolation as violation:
        raise violation.http() from None


def check_metadata(metadata: Any, param: str = "metadata") -> None:
    """Up to 16 string pairs, keys up to 64 and values up to 512 characters; null is no metadata."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise invalid_type(param, "an object", metadata)
    pairs, key_max, value_max = METADATA_LIMITS
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise invalid_type(f"{param}.{key}", "a string", value)
    if len(metadata) > pairs:
        raise RuleViolation(f"Invalid '{param}': too many properties. Expected an object with at most {pairs} "
                            f"properties, but got an object with {len(metadata)} properties instead.", param,
                            "object_above_max_properties")
    for key, value in metadata.items():
        if len(key) > key_max:
            # [UNVERIFIED] code; the sentence is the live "string too long" family for a key
            raise RuleViolation(f"Invalid property name in '{param}': '{key}' is too long. Expected a string with "
                                f"maximum length {key_max}, but got a string with length {len(key)} instead.",
                                f"{param}.{key}", "string_above_max_length")
        if len(value) > value_max:
            raise RuleViolation(f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                                f"{value_max}, but got a string with length {len(value)} instead.", f"{param}.{key}",
                                "string_above_max_length")


def check_expires_after(policy: Any, param: str) -> int | None:
    """``{"anchor": "created_at", "seconds": 3600..2592000}`` (the SDK's OutputExpiresAfter)."""
    if policy is None:
        return None
    if not isinstance(policy, dict):
        raise invalid_type(param, "an object", policy)
    for name in policy:
        if name not in ("anchor", "seconds"):
            raise unrecognized(f"{param}.{name}")
    if "anchor" not in policy:
        raise missing(f"{param}.anchor")
    if policy["anchor"] != "created_at":
        raise invalid_value(f"{param}.anchor", policy["anchor"], ("created_at",))
    if "seconds" not in policy:
        raise missing(f"{param}.seconds")
    seconds = policy["seconds"]
    if not is_int(seconds):
        raise invalid_type(f"{param}.seconds", "an integer", seconds)
    check_range(f"{param}.seconds", seconds, *EXPIRY_SECONDS)
    return seconds


# ---------------------------------------------------------------------------- list queries
def check_limit(raw: str | None, maximum: int, default: int) -> int:
    """``limit`` of GET /v1/files (1..10000, default 10000) and GET /v1/batches (1..100, default
    20) (wire-formats.md A.1, A.2)."""
    if raw is None or raw == "":
        return default
    try:
        if not raw.strip().lstrip("-").isdigit():
            raise invalid_type("limit", "an integer", raw)
        value = int(raw)
        check_range("limit", value, 1, maximum)
    except RuleViolation as violation:
        raise violation.http() from None
    return value


def check_order(raw: str | None) -> bool:
    """``order`` of GET /v1/files: ``asc`` or ``desc`` (the default); True for descending."""
    if raw is None:
        return True
    if raw not in ("asc", "desc"):
        raise invalid_value("order", raw, ("asc", "desc")).http()
    return raw == "desc"


# ---------------------------------------------------------------------------- one request line's body
def row_violation(endpoint: str, body: dict[str, Any]) -> RuleViolation | None:
    """What the endpoint answers a line's ``body`` with, when it is a 400: the line then lands in
    the error file as a 400 row and counts as failed, while the batch goes on (OpenRouter live
    captures: "A batch with 8 good and 2 bad lines reached completed with request_counts =
    {10, 8, 2}"; rows "response.status_code: 400, response.body.error = {message, type, param,
    code}, top-level error: null", e.g. "Invalid 'temperature': decimal above maximum value...").
    ``model`` and ``stream`` are checked for the whole file first (backends/openai.py)."""
    try:
        if endpoint == "/v1/chat/completions":
            _check_chat(body)
        elif endpoint == "/v1/responses":
            _check_responses(body)
    except RuleViolation as violation:
        return violation
    return None


def _check_chat(body: dict[str, Any]) -> None:
    for name in body:
        if name not in CHAT_FIELDS and name not in sdk_declared_fields(
                "openai.types.chat.completion_create_params", "CompletionCreateParamsBase"):
            raise unrecognized(name)
    if "messages" not in body:
        raise missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array of objects", messages)
    if not messages:
        raise RuleViolation("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                            "empty array instead.", "messages", "empty_array")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid_type(where, "an object", message)
        if "role" not in message:
            raise missing(f"{where}.role")
        if message["role"] not in ROLES:
            raise invalid_value(f"{where}.role", message["role"], ROLES)
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise invalid_type(f"{where}.content", "one of a string or array of objects", content)
    for name in ("max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs"):
        if body.get(name) is not None and not is_int(body[name]):
            raise invalid_type(name, "an integer", body[name])
    _check_sampling(body)
    if body.get("n") is not None:
        check_range("n", body["n"], 1, 128)  # the chat reference: "n ... minimum 1, maximum 128"


def _check_responses(body: dict[str, Any]) -> None:
    for name in body:
        if name not in RESPONSES_FIELDS and name not in sdk_declared_fields(
                "openai.types.responses.response_create_params", "ResponseCreateParamsBase"):
            raise RuleViolation(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    source = body.get("input")
    if source is not None and not isinstance(source, str | list):
        raise invalid_type("input", "one of a string or array of input items", source)  # [UNVERIFIED] wording
    if body.get("max_output_tokens") is not None:
        if not is_int(body["max_output_tokens"]):
            raise invalid_type("max_output_tokens", "an integer", body["max_output_tokens"])
        # live: "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, ..."
        check_range("max_output_tokens", body["max_output_tokens"], 16, None)
    _check_sampling(body)


def _check_sampling(body: dict[str, Any]) -> None:
    """temperature in [0, 2] and top_p in [0, 1] (the chat and responses references)."""
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(name)
        if value is None:
            continue
        if not is_number(value):
            raise invalid_type(name, "a number", value)  # [UNVERIFIED] "a number" vs "a decimal"
        check_range(name, float(value), 0, high)


# ---------------------------------------------------------------------------- a schema it cannot use
def invalid_schema_message(body: dict[str, Any], schema_name: str | None, detail: str) -> str:
    """The row's 400 for a ``json_schema`` response format whose schema the API cannot use, in
    the live API's words before the detail (mastra-ai/mastra#12284, 2026-01: ``Invalid schema
    for response_format 'response': In context=(), 'required' is required to be supplied…``; the
    Responses API's ``text.format`` is worded the same, neuron-core/neuron-ai#311). The detail is
    this emulator's (the live API's ``In context=(…)`` paths are not reproduced)."""
    return f"Invalid schema for response_format {schema_name or 'response'!r}: {detail}"
