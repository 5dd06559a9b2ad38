"""What the live Anthropic Message Batches API accepts, and what it answers when it does not.

Two kinds of rule, as on the live API (wire-formats.md B.3): the envelope of a create
(``requests``, each ``custom_id``, sizes), headers and query parameters are checked at once
and fail the call with a 400 ``invalid_request_error`` (413 ``request_too_large`` for size);
each request's ``params`` is checked like a Messages API body only when the batch runs, and a
request that fails comes back as an ``errored`` result while the batch still ends.

Messages follow the live API's pydantic wording, ``<dotted.path>: <what is wrong>``. Each rule
cites where its message was seen: "captures" means the OpenRouter live captures of 2026-09
(realdata/openrouter_notes/captured_batch_behaviour_excerpts.md); GitHub threads quote the
live API's JSON error bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..http import HTTPError, parse_json
from . import sdk_declared_fields

#: The API rejects a call without it (envoyproxy/ai-gateway PR #1909, 2026-03-02, and
#: PipedreamHQ/pipedream#9697: ``{"type":"error","error":{"type":"invalid_request_error",
#: "message":"anthropic-version: header is required"},"request_id":…}``).
VERSION_REQUIRED = "anthropic-version: header is required"
#: A version is a date (docs: platform.claude.com/docs/en/api/versioning). A value that is not
#: one is rejected: ``anthropic-version: "2023-06-01, 2023-06-01" is not a valid version``
#: (decolua/9router#1227, 2026-05). The live API also rejects well-formed dates that name no
#: version (``"2023-10-01"``, directus-labs/extensions#285); the emulator accepts every date so
#: that an SDK newer than this module (2.x sends 2026-10-21, wire-formats.md B.6) keeps working.
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")

CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
CUSTOM_ID_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"

#: The fields of a create body and of each of its requests (anthropic ``BatchCreateParams`` and
#: ``batch_create_params.Request``; ``workspace_id``/``user_profile_id`` travel as headers).
CREATE_FIELDS = ("requests",)
REQUEST_FIELDS = ("custom_id", "params")

#: The Messages API body fields (anthropic 2.15 ``MessageCreateParamsBase`` plus ``stream``).
#: ``temperature``, ``top_p`` and ``top_k`` are no longer declared by the SDK's types but the API
#: reference still documents them and the API still takes them (anthropic-sdk-python#893, maintainer
#: comment 2026-08-05). tests/sim/test_fidelity_anthropic.py fails when an SDK declares a field
#: missing here, so a new API parameter is not refused as "Extra inputs".
PARAMS_FIELDS = frozenset({
    "cache_control", "container", "diagnostics", "inference_geo", "max_tokens", "messages", "metadata", "model",
    "output_config", "service_tier", "speed", "stop_sequences", "system", "thinking", "tool_choice", "tools",
    "user_profile_id", "workspace_id", "stream", "temperature", "top_p", "top_k",
})
#: What a request may add when the create came through the beta namespace (``anthropic-beta``
#: header or 1.x's ``?beta=true``): anthropic 2.15 ``beta.MessageCreateParamsBase`` less its
#: ``betas`` (a header), and the legacy ``output_format`` of structured-outputs-2025-11-13
#: (wire-formats.md D.2).
BETA_PARAMS_FIELDS = PARAMS_FIELDS | {
    "billing_policy", "compaction", "context_management", "fallback_credit_token", "fallbacks", "mcp_servers",
    "thread", "output_format",
}
ROLES = ("user", "assistant")
#: The most output tokens a model takes, by model-name prefix (aliases and dated ids alike), for
#: the models a source names: claude-haiku-4-5 64,000 (captures: ``max_tokens: 9999999 > 64000,
#: which is the maximum allowed number of output tokens for claude-haiku-4-5-20251001``);
#: sonnet-4-5 and sonnet-4 64,000, opus-4-1 and opus-4 32,000 (labring/fastgpt-plugin#242);
#: claude-3-7-sonnet 64,000 (mixtape-core models/claude.rs); opus-4-5 64,000, opus-4-6..4-8 and
#: sonnet-4-6 128,000 (Effect-TS @effect/ai-anthropic 4.0.0-beta.106 release notes). A model
#: not listed (a newer one) is not checked.
MAX_OUTPUT_TOKENS = (
    ("claude-opus-4-8", 128_000), ("claude-opus-4-7", 128_000), ("claude-opus-4-6", 128_000),
    ("claude-sonnet-4-6", 128_000), ("claude-opus-4-5", 64_000), ("claude-sonnet-4-5", 64_000),
    ("claude-haiku-4-5", 64_000), ("claude-opus-4-1", 32_000), ("claude-opus-4", 32_000),
    ("claude-sonnet-4", 64_000), ("claude-3-7-sonnet", 64_000),
)
#: Extended thinking: ``budget_tokens`` at least 1024 and below ``max_tokens``.
MIN_THINKING_BUDGET = 1024

_DICT = "Input should be a valid dictionary or object to extract fields from"
#: pydantic's ``extra_forbidden`` message, as the API words it: ``extra_body: Extra inputs are not
#: permitted`` (Aider-AI/aider#3367), ``context_management: …`` (Wei-Shaw/claude-relay-service#660).
_EXTRA = "Extra inputs are not permitted"


# ---------------------------------------------------------------------------- headers
def check_version(headers: Mapping[str, str]) -> None:
    """Every call needs ``anthropic-version`` (lower-cased header names)."""
    version = headers.get("anthropic-version", "").strip()
    if not version:
        raise HTTPError(400, VERSION_REQUIRED)
    if not _VERSION.fullmatch(version):
        raise HTTPError(400, f"anthropic-version: {json.dumps(version)} is not a valid version")


# ---------------------------------------------------------------------------- create (synchronous)
def batch_requests(raw: bytes, *, max_bytes: int, max_requests: int) -> list[tuple[str, dict[str, Any]]]:
    """The (custom_id, params) of each request of a create body; raises the live API's 400/413
    for the first envelope problem. ``params`` is only checked to be an object here."""
    if len(raw) > max_bytes:
        # 413 request_too_large over 256 MB (wire-formats.md B.3); the message is the emulator's.
        raise HTTPError(413, f"Request exceeds the maximum size of {max_bytes:,} bytes for a Message Batch. "
                        "Split it into several batches.")
    try:
        body = parse_json(raw)
    except ValueError as exc:
        # captures: ``invalid_request_error: The request body is not valid JSON: …``
        raise HTTPError(400, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPError(400, _DICT)
    requests = body.get("requests")
    if requests is None:
        raise HTTPError(400, "requests: Field required")
    if not isinstance(requests, list):
        raise HTTPError(400, "requests: Input should be a valid list")
    if not requests:
        # captures, verbatim
        raise HTTPError(400, "requests: List should have at least 1 item after validation, not 0")
    if len(requests) > max_requests:
        # 100,000 requests at most (wire-formats.md B.3: 413); the message is the emulator's.
        raise HTTPError(413, f"A Message Batch holds at most {max_requests:,} requests, got "
                        f"{len(requests):,}. Split it into several batches.")
    entries: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    fullmatch = CUSTOM_ID.fullmatch
    for index, entry in enumerate(requests):
        if not isinstance(entry, dict):
            raise HTTPError(400, f"requests.{index}: {_DICT}")
        custom_id = entry.get("custom_id")
        if not (isinstance(custom_id, str) and fullmatch(custom_id)):
            raise HTTPError(400, f"requests.{index}.custom_id: {_custom_id_problem(custom_id)}")
        params = entry.get("params")
        if params is None:
            raise HTTPError(400, f"requests.{index}.params: Field required")
        if not isinstance(params, dict):
            raise HTTPError(400, f"requests.{index}.params: {_DICT}")
        extra = _first_extra(entry, REQUEST_FIELDS)
        if extra is not None:
            raise HTTPError(400, f"requests.{index}.{extra}: {_EXTRA}")
        if custom_id in seen:
            # captures, verbatim
            raise HTTPError(400, "requests: custom_id's must be unique within a batch. Duplicate custom_id "
                            f"found: {custom_id}")
        seen.add(custom_id)
        entries.append((custom_id, params))
    extra = _first_extra(body, CREATE_FIELDS)
    if extra is not None:
        raise HTTPError(400, f"{extra}: {_EXTRA}")
    return entries


def _custom_id_problem(custom_id: Any) -> str:
    """Pydantic's wording, as the live API returns it (captures: ``Field required``, ``at most 64
    characters``, ``should match pattern``; wire-formats.md B.3)."""
    if custom_id is None:
        return "Field required"
    if not isinstance(custom_id, str):
        return "Input should be a valid string"
    if not custom_id:
        return "String should have at least 1 character"
    if len(custom_id) > 64:
        return "String should have at most 64 characters"
    return f"String should match pattern '{CUSTOM_ID_PATTERN}'"


def _first_extra(obj: dict[str, Any], fields: tuple[str, ...] | frozenset[str]) -> str | None:
    return next((key for key in obj if key not in fields), None)


# ---------------------------------------------------------------------------- list
def list_query(query: Mapping[str, str]) -> tuple[str | None, str | None, int]:
    """``before_id``, ``after_id`` and ``limit`` of a list call (wire-formats.md B.4: limit 1–1000,
    default 20; pydantic's range wording)."""
    before_id, after_id = query.get("before_id") or None, query.get("after_id") or None
    if before_id and after_id:
        # Unverified wording: the SDK never sends both.
        raise HTTPError(400, "Only one of before_id and after_id may be given.")
    raw = query.get("limit")
    if not raw:
        return before_id, after_id, 20
    try:
        limit = int(raw)
    except ValueError:
        raise HTTPError(400, "limit: Input should be a valid integer, unable to parse string as an integer") from None
    if limit < 1:
        raise HTTPError(400, "limit: Input should be greater than or equal to 1")
    if limit > 1000:
        raise HTTPError(400, "limit: Input should be less than or equal to 1000")
    return before_id, after_id, limit


# ---------------------------------------------------------------------------- each request's params (asynchronous)
def params_problem(params: dict[str, Any], *, beta: bool = False) -> str | None:
    """The ``invalid_request_error`` message the batch reports for one request's ``params``, or
    None when the Messages API would take it; ``beta``: the create used the beta namespace."""
    for name in ("model", "messages", "max_tokens"):
        if name not in params:
            return f"{name}: Field required"  # captures: ``messages: Field required``
    if not isinstance(params["model"], str):
        return "model: Input should be a valid string"
    max_tokens = params["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return "max_tokens: Input should be a valid integer"
    if max_tokens < 1:
        return "max_tokens: must be greater than or equal to 1"  # captures, verbatim
    limit = _max_output_tokens(params["model"])
    if limit is not None and max_tokens > limit:
        # captures, verbatim but for the numbers and the model as the request names it
        return (f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output tokens for "
                f"{params['model']}")
    messages = params["messages"]
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    known = BETA_PARAMS_FIELDS if beta else PARAMS_FIELDS
    sdk_types = "anthropic.types.beta.message_create_params" if beta else "anthropic.types.message_create_params"
    # a field the user's newer SDK declares is one the API it was written for takes
    extra = next((key for key in params if key not in known
                  and key not in sdk_declared_fields(sdk_types, "MessageCreateParamsBase")), None)
    if extra is not None:
        return f"{extra}: {_EXTRA}"
    if params.get("stream"):
        return '"stream=True" is not supported in the Message Batches API'  # captures, verbatim
    if not messages:
        # langgenius/dify#25953 (2025-09), DevoxxGenie#567
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        problem = _message_problem(index, message, last=index == len(messages) - 1)
        if problem is not None:
            return problem
    return _sampling_problem(params) or _thinking_problem(params, max_tokens) or _tools_problem(params)


def _tools_problem(params: dict[str, Any]) -> str | None:
    """A tool's ``input_schema`` that is no object: the pydantic type error of the module's other
    fields (wording unverified for tools). A schema that is an object but unusable fails when
    the request runs (``invalid_schema_message``)."""
    tools = params.get("tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        if isinstance(tool, dict) and "input_schema" in tool and not isinstance(tool["input_schema"], dict):
            return f"tools.{index}.custom.input_schema: Input should be a valid dictionary"
    return None


def _max_output_tokens(model: str) -> int | None:
    """The listed limit of ``model``: its alias, or a dated id of it (``claude-opus-4-20250514``)."""
    return next((limit for alias, limit in MAX_OUTPUT_TOKENS
                 if model == alias or model.startswith(f"{alias}-20")), None)


def _message_problem(index: int, message: Any, *, last: bool) -> str | None:
    if not isinstance(message, dict):
        return f"messages.{index}: {_DICT}"
    for name in ("role", "content"):
        if name not in message:
            return f"messages.{index}.{name}: Field required"
    role = message["role"]
    if role == "system":
        # ianarawjo/ChainForge#271 (2024-04), verbatim
        return ('messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
                'not "system" as an input message role.')
    if role not in ROLES:
        # langchain-ai/langchain#16563 (``Unexpected role "ai"``), verbatim but for the role
        return f'messages: Unexpected role {json.dumps(role)}. Allowed roles are "user" or "assistant"'
    content = message["content"]
    if not isinstance(content, str | list):
        return f"messages.{index}.content: Input should be a valid list"
    if not content and not (last and role == "assistant"):
        # anthropics/claude-code#4416 (2025-07) and #6774 (2025-08), verbatim
        return f"messages.{index}: all messages must have non-empty content except for the optional final " \
               "assistant message"
    return None


def _sampling_problem(params: dict[str, Any]) -> str | None:
    if "temperature" not in params:
        return None
    temperature = params["temperature"]
    if not isinstance(temperature, int | float) or isinstance(temperature, bool):
        return "temperature: Input should be a valid number"
    if not 0 <= temperature <= 1:
        # anthropic-sdk-python#893: ``temperature: range: -1 or 0..1`` (2025-03); -1 is rejected
        # since (maintainer, 2026-08-05), so the emulator states the range that is left.
        return "temperature: range: 0..1"
    return None


def _thinking_problem(params: dict[str, Any], max_tokens: int) -> str | None:
    if not thinking_enabled(params):
        return None
    problem = _budget_problem(params["thinking"], max_tokens)
    if problem is not None:
        return problem
    choice = params.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        # BerriAI/litellm#8883 (2025-02), verbatim; the extended-thinking guide: only ``auto`` and
        # ``none`` go with thinking (run-llama/llama_index#19641 quotes it), adaptive included
        # (llm-exe/llm-exe#720).
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _budget_problem(thinking: dict[str, Any], max_tokens: int) -> str | None:
    if thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        return "thinking.enabled.budget_tokens: Field required" if budget is None else \
            "thinking.enabled.budget_tokens: Input should be a valid integer"
    if budget < MIN_THINKING_BUDGET:
        # themaximalist/llm.js#30 (2026-08), verbatim
        return f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_THINKING_BUDGET}"
    if max_tokens <= budget:
        # liuw1535/antigravity2api-nodejs#149 (2026-02), verbatim
        return ("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
    return None


def thinking_enabled(params: dict[str, Any]) -> bool:
    """Whether the request asks for extended thinking (``enabled`` with a budget, or ``adaptive``):
    the answer then opens with a ``thinking`` block (realdata curator reasoning recording)."""
    thinking = params.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


# ---------------------------------------------------------------------------- a schema it cannot use
#: a tool's input_schema the API cannot use: live, with the tool's index (anthropic-sdk-java#241,
#: 2025-04; claude-code#86665, 2026-08, whose link is the current one); no detail follows it
TOOL_SCHEMA_INVALID = ("tools.{index}.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft "
                       "2020-12 (https://json-schema.org/draft/2020-12). Learn more about tool use at "
                       "https://platform.claude.com/docs/en/agents-and-tools/tool-use/overview.")


def invalid_schema_message(params: dict[str, Any], schema_name: str | None, detail: str) -> str:
    """The ``errored`` result's message for a request whose structured-output schema or forced
    tool's ``input_schema`` the API cannot use. ``output_config.format.schema: Invalid schema:
    <what>`` is live (langgenius/dify-official-plugins#3886, 2026-09: ``…: Invalid schema: Schema
    type is missing for schema: …``), the detail after it this emulator's; the beta
    ``output_format`` is worded the same by analogy (unverified)."""
    for path in ("output_config", "output_format"):
        holder = params.get(path)
        fmt = holder.get("format") if path == "output_config" and isinstance(holder, dict) else holder
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and fmt.get("schema") is not None:
            where = "output_config.format" if path == "output_config" else "output_format"
            return f"{where}.schema: Invalid schema: {detail}"
    tools = params.get("tools") if isinstance(params.get("tools"), list) else []
    index = next((i for i, tool in enumerate(tools) if isinstance(tool, dict) and tool.get("name") == schema_name), 0)
    return TOOL_SCHEMA_INVALID.format(index=index)
