"""The bodies of OpenAI batch output rows: a ``chat.completion`` for /v1/chat/completions, a
``response`` for /v1/responses, as the live endpoints answer them today.

Fields follow the newest SDK types (openai 3.57 types/chat/chat_completion.py,
types/completion_usage.py, types/responses/response.py) and what the API sends for the model
and request at hand; tests/sim/test_fidelity_openai.py lists, with reasons, each declared field
the API leaves out for these requests. The state (which answer, which outcome) is
backends/openai.py's.
"""

from __future__ import annotations

from typing import Any

from ..ids import IdFactory
from ..responders import BatchItem
from .base import REFUSAL_TEXT, approx_tokens

#: the dated snapshot an alias resolves to: answers (and the batch's ``model``) name it, as in the
#: recording's ``gpt-3.5-turbo`` -> ``gpt-3.5-turbo-0125`` (realdata/curator
#: openai_basic_batch_completion) and the models page's snapshot lists. Other names echo as sent.
SNAPSHOTS = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
}
#: the emulator's stand-in for the build a response was served by (a string for current models,
#: wire-formats.md D.1 example)
SYSTEM_FINGERPRINT = "fp_pytest_batch"


def snapshot(model: str) -> str:
    return SNAPSHOTS.get(model, model)


def reasons(model: str) -> bool:
    """Whether ``model`` is a reasoning model (o-series, gpt-5 family): its usage reports
    reasoning tokens > 0, counted within the output tokens (the reasoning guide)."""
    return model.startswith(("o1", "o3", "o4", "gpt-5"))


def reasoning_tokens(model: str, text_tokens: int) -> int:
    """A plausible, deterministic count of hidden reasoning tokens for an answer of
    ``text_tokens`` visible tokens (0 for a model that does not reason)."""
    return 64 + 4 * text_tokens if reasons(model) else 0


def chat_completion(ids: IdFactory, item: BatchItem, text: str, outcome: str, created: int) -> dict[str, Any]:
    """A chat.completion body. Not sent for a plain text answer (so not here): ``message.audio``
    (audio output only), ``message.tool_calls``/``function_call`` (only when the model calls a
    tool), ``moderation`` (only when moderated completions were requested)."""
    refused = outcome == "refusal"
    message = {"role": "assistant", "content": None if refused else text,
               "refusal": REFUSAL_TEXT if refused else None, "annotations": []}
    prompt_tokens, text_tokens = approx_tokens(item.prompt), approx_tokens(text)
    reasoning = reasoning_tokens(item.model, text_tokens)
    completion_tokens = text_tokens + reasoning
    body: dict[str, Any] = {
        "id": ids.openai_chat_completion(), "object": "chat.completion", "created": created,
        "model": snapshot(item.model),
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "length" if outcome == "truncated" else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  # the breakdowns openai 3.57's types/completion_usage.py declares
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "cache_write_tokens": 0,
                                            "image_tokens": 0, "text_tokens": prompt_tokens},
                  "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
                                                "text_tokens": text_tokens}},
        "service_tier": "default", "system_fingerprint": SYSTEM_FINGERPRINT}
    if item.body.get("metadata") is not None:
        # the request's metadata, "attached to the object" (chat_completion.py) [UNVERIFIED echo]
        body["metadata"] = item.body["metadata"]
    return body


def response(ids: IdFactory, item: BatchItem, text: str, outcome: str, created: int) -> dict[str, Any]:
    """A Responses API ``response`` body: the request's settings echoed (null or the default when
    not given, as in the reference's example), a reasoning item before the message for
    reasoning models."""
    request = item.body
    if outcome == "refusal":
        content = [{"type": "refusal", "refusal": REFUSAL_TEXT}]
    else:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    truncated = outcome == "truncated"
    prompt_tokens, text_tokens = approx_tokens(item.prompt), approx_tokens(text)
    reasoning = reasoning_tokens(item.model, text_tokens)
    output: list[dict[str, Any]] = []
    if reasons(item.model):
        output.append({"id": "rs_" + ids.hex(48), "type": "reasoning", "summary": []})
    output.append({"id": ids.openai_message(), "type": "message", "status": "incomplete" if truncated else "completed",
                   "role": "assistant", "content": content})
    text_config = {"format": {"type": "text"}, "verbosity": "medium", **(request.get("text") or {})}
    effort = (request.get("reasoning") or {}).get("effort") or ("medium" if reasons(item.model) else None)
    return {
        "id": ids.openai_response(), "object": "response", "created_at": created,
        "status": "incomplete" if truncated else "completed",
        # "Only present when the status is `completed`" (types/responses/response.py)
        **({} if truncated else {"completed_at": created}),
        "background": False, "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "instructions": request.get("instructions"), "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"), "model": snapshot(item.model), "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "prompt_cache_retention": request.get("prompt_cache_retention"),
        "reasoning": {"effort": effort, "summary": (request.get("reasoning") or {}).get("summary")},
        "safety_identifier": request.get("safety_identifier"), "service_tier": "default",
        "store": request.get("store", True), "temperature": request.get("temperature", 1.0), "text": text_config,
        "tool_choice": request.get("tool_choice", "auto"), "tools": request.get("tools", []),
        "top_logprobs": request.get("top_logprobs", 0), "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation", "disabled"),
        "usage": {"input_tokens": prompt_tokens,
                  "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                  "output_tokens": text_tokens + reasoning, "output_tokens_details": {"reasoning_tokens": reasoning},
                  "total_tokens": prompt_tokens + text_tokens + reasoning},
        "user": request.get("user"), "metadata": request.get("metadata") or {}}
