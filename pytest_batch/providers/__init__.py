"""The provider registry and what every provider file shares.

Each provider file holds everything one provider knows: how a request line looks, which
SDK calls submit/poll/list/cancel/delete, how a result row becomes a ``BatchSuccess`` or a
``BatchError``. Adding a provider means one file and one entry in ``PROVIDERS``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigurationError, MissingAPIKeyError
from ..models import BatchError, BatchItem, BatchJob, BatchSuccess, ErrorKind, Usage

#: provider name -> "module:class"; the module is imported only when the provider is used.
PROVIDERS: dict[str, str] = {
    "openai": "pytest_batch.providers.openai:OpenAIProvider",
    "anthropic": "pytest_batch.providers.anthropic:AnthropicProvider",
    "google": "pytest_batch.providers.google:GoogleProvider",
    "azure": "pytest_batch.providers.azure:AzureProvider",
}

Message = dict[str, Any]
Prompt = str | Sequence[Message]
#: makes one request line from (custom_id, messages); see ``Provider.line_builder``
LineBuilder = Callable[[str, list[Message]], dict[str, Any]]
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Limits:
    """How much one batch may hold; input beyond them is split into several batches.

    ``inline_bytes`` (Gemini only): above it the input is uploaded as a file.
    """

    max_requests: int
    max_bytes: int
    inline_bytes: int | None = None

    def with_(self, **changes: int | None) -> Limits:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def get_provider(model: str) -> tuple[Provider, str]:
    """The provider and bare model name of a ``provider/model-name`` string."""
    if not isinstance(model, str) or "/" not in model:
        from ..model_catalog import DEFAULT_MODELS

        raise ConfigurationError(f"Model must be in format 'provider/model-name' (e.g. '{DEFAULT_MODELS['openai']}'; "
                                 f"`pytest-batch list-models` lists them), got {model!r}")
    name, _, bare = model.partition("/")
    if name not in PROVIDERS:
        raise ConfigurationError(f"Unsupported provider: {name}. Supported providers: {', '.join(PROVIDERS)}")
    if not bare:
        raise ConfigurationError(f"Model must be in format 'provider/model-name'; {model!r} has no model name")
    return provider_named(name), bare


def provider_named(name: str) -> Provider:
    """The provider called ``name`` (one of ``PROVIDERS``)."""
    module, _, cls = PROVIDERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def normalize_prompt(prompt: Prompt, index: int) -> list[Message]:
    """A prompt as chat messages: a string is one user message; message lists are checked."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, dict) or not isinstance(prompt, Sequence) or not prompt:
        raise ConfigurationError(f"prompt {index + 1}: expected a string or a non-empty list of "
                                 f"{{'role', 'content'}} messages, got {type(prompt).__name__}")
    messages = []
    for message in prompt:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(message.get("content"), str):
            raise ConfigurationError(f"prompt {index + 1}: each message needs a role in {ROLES} and a string "
                                     f"content, got {message!r}")
        messages.append({"role": role, "content": message["content"]})
    return messages


def plain_messages(messages: Any) -> list[Message] | None:
    """``messages`` as ``{"role", "content"}`` dicts when each is plain text in a known role, else None."""
    if not isinstance(messages, list) or not messages:
        return None
    plain = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(message.get("content"), str):
            return None
        plain.append({"role": role, "content": message["content"]})
    return plain


def first_jobs(pages: Iterable[Any], limit: int, to_job: Callable[[Any], BatchJob]) -> list[BatchJob]:
    """The first ``limit`` batches of an SDK list pager, as BatchJobs (the pager fetches more pages)."""
    return [to_job(batch) for batch in islice(pages, limit)]


async def afirst_jobs(pages: AsyncIterator[Any], limit: int, to_job: Callable[[Any], BatchJob]) -> list[BatchJob]:
    """``first_jobs`` for an async pager."""
    jobs: list[BatchJob] = []
    if limit <= 0:
        return jobs
    async for batch in pages:  # stop as soon as there are enough: no extra page is fetched
        jobs.append(to_job(batch))
        if len(jobs) >= limit:
            break
    return jobs


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    """(the system messages joined, or None; the other messages). Without a system message the
    list itself is returned, not a copy (a build makes this split for every line)."""
    for message in messages:
        if message["role"] == "system":
            break
    else:
        return None, messages
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    return system or None, [m for m in messages if m["role"] != "system"]


def sdk_version(distribution: str) -> tuple[int, ...]:
    """The release of an installed SDK as numbers, e.g. ``(1, 55, 3)`` for openai 1.55.3, for the
    few places an older SDK generation needs another call (README "SDK versions")."""
    from importlib.metadata import version

    return tuple(int(part) for part in re.findall(r"\d+", version(distribution))[:3])


def api_key(*names: str) -> str:
    """The first of the environment variables ``names`` that is set, or a clear error."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise MissingAPIKeyError(f"{names[0]} environment variable is not set "
                             "(or pass client= to BatchProcessor)")


def validation_message(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_url=False)[:3]:
        loc = ".".join(str(p) for p in detail.get("loc", ())) or "value"
        parts.append(f"{loc}: {detail['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_text(custom_id: str, text: str | None, response_model: type[BaseModel] | None, usage: Usage,
               raw: Any) -> BatchItem:
    """The model's text as a success (validated) or an invalid_json/validation_error."""
    if text is None:
        return BatchError(custom_id, ErrorKind.INVALID_JSON, "the answer has no text content", 200, raw, usage)
    if response_model is None:
        return BatchSuccess(custom_id, text, usage, raw)
    try:
        return BatchSuccess(custom_id, response_model.model_validate_json(text), usage, raw)
    except ValidationError as error:
        kind = ErrorKind.INVALID_JSON if error.errors()[0]["type"] == "json_invalid" else ErrorKind.VALIDATION_ERROR
        return BatchError(custom_id, kind, validation_message(error), 200, raw, usage)


def parse_object(custom_id: str, value: Any, response_model: type[BaseModel] | None, usage: Usage,
                 raw: Any) -> BatchItem:
    """An already-decoded object (Anthropic tool input) validated against the model."""
    if response_model is None:
        return BatchSuccess(custom_id, value, usage, raw)
    try:
        return BatchSuccess(custom_id, response_model.model_validate(value), usage, raw)
    except ValidationError as error:
        return BatchError(custom_id, ErrorKind.VALIDATION_ERROR, validation_message(error), 200, raw, usage)


class Provider:
    """What the processor asks of a provider. Subclasses implement every method."""

    name = ""
    #: the environment variable(s) holding the key; the first is named in errors.
    env_keys: tuple[str, ...] = ()
    limits = Limits(max_requests=0, max_bytes=0)
    #: the rule custom_ids must follow, or None when the provider documents none.
    custom_id_pattern: re.Pattern[str] | None = None
    #: the key of a request line that holds its id.
    id_field = "custom_id"
    #: the keys every request line of this provider has (a JSONL missing one was built for another).
    line_keys: tuple[str, ...] = ("custom_id",)
    #: batch price per million tokens (input, output) by model name; 50% is applied on top.
    prices: dict[str, tuple[float, float]] = {}
    #: the SDK's client classes, for messages: (sync, async)
    client_names: tuple[str, str] = ("", "")
    #: a method of the SDK client (attribute path) that is a coroutine function exactly on async clients
    client_probe: tuple[str, ...] = ("batches", "create")

    # -- pure
    def check_custom_id(self, custom_id: str) -> None:
        if not isinstance(custom_id, str) or not custom_id:
            raise ConfigurationError(f"custom_id must be a non-empty string, got {custom_id!r}")
        if self.custom_id_pattern is not None and not self.custom_id_pattern.fullmatch(custom_id):
            raise ConfigurationError(f"invalid custom_id {custom_id!r} for {self.name}: it must match "
                                     f"{self.custom_id_pattern.pattern}")

    def check_mode_and_endpoint(self, mode: str, endpoint: str | None) -> None:
        """Refuse options this provider has no use for (overridden where they mean something)."""
        if mode not in ("structured", "tools"):
            raise ConfigurationError(f"mode must be 'structured' or 'tools', got {mode!r}")
        if mode == "tools":
            raise ConfigurationError(f"mode='tools' is for anthropic; {self.name} uses structured outputs")
        if endpoint is not None:
            raise ConfigurationError(f"endpoint= is for openai and azure; {self.name} has one batch endpoint")

    def line_builder(self, model: str, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> LineBuilder:
        """A function making this provider's request line from (custom_id, messages).

        Everything the lines of one build share (the response model's schema above all) is
        computed here, once: a build of 50,000 lines converts the schema once, not 50,000 times.
        The lines share those values (the schema dicts), so copy a line before changing them."""
        raise NotImplementedError

    def request_line(self, custom_id: str, messages: list[Message], model: str,
                     response_model: type[BaseModel] | None, options: dict[str, Any]) -> dict[str, Any]:
        """One request line (for many, make a ``line_builder`` once)."""
        return self.line_builder(model, response_model, options)(custom_id, messages)

    def line_messages(self, line: dict[str, Any]) -> list[Message] | None:
        """The chat messages a request line of this provider carries (the inverse of the line
        builder), or None when they are not plain text in the system/user/assistant roles
        (content blocks, tool messages): ``retry_failed`` resends a line from them."""
        raise NotImplementedError

    def new_client(self, key: str | None, base_url: str | None, *, async_client: bool = False) -> Any:
        """The SDK client for ``key`` at ``base_url`` (None: what the SDK itself would use)."""
        raise NotImplementedError

    def make_client(self, *, async_client: bool) -> Any:
        """The SDK client from the environment; a missing key is a clear error."""
        raise NotImplementedError

    def async_view(self, client: Any) -> Any:
        """The part of an SDK client that async calls go through (google-genai: ``client.aio``)."""
        return client

    def close_client(self, client: Any) -> None:
        close = getattr(client, "close", None)
        if close is not None:
            close()

    async def aclose_client(self, client: Any) -> None:
        view = self.async_view(client)
        close = getattr(view, "aclose", None) or getattr(view, "close", None)
        if close is not None and inspect.isawaitable(outcome := close()):
            await outcome

    def check_client(self, client: Any, *, async_client: bool) -> None:
        """Refuse an injected client of the wrong SDK, or sync where async is needed (and back),
        before anything is sent."""
        method = self.async_view(client) if async_client else client
        for attribute in self.client_probe:
            method = getattr(method, attribute, None)
        sync_name, async_name = self.client_names
        wanted = async_name if async_client else sync_name
        if method is None:
            raise ConfigurationError(f"client= must be a client of the {self.name} SDK ({wanted}), got "
                                     f"{type(client).__name__}")
        if inspect.iscoroutinefunction(method) != async_client:
            if async_client:
                raise ConfigurationError(f"client= is a synchronous {type(client).__name__}: AsyncBatchProcessor "
                                         f"needs {async_name} (or use BatchProcessor)")
            raise ConfigurationError(f"client= is an async {type(client).__name__}: use AsyncBatchProcessor, or "
                                     f"give BatchProcessor a {sync_name}")

    # -- sync SDK calls
    def submit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
               options: dict[str, Any]) -> BatchJob:
        raise NotImplementedError

    def retrieve(self, client: Any, batch_id: str) -> BatchJob:
        raise NotImplementedError

    def list(self, client: Any, limit: int) -> list[BatchJob]:
        raise NotImplementedError

    def cancel(self, client: Any, batch_id: str) -> BatchJob:
        raise NotImplementedError

    def delete(self, client: Any, batch_id: str) -> None:
        raise NotImplementedError

    def iter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                     options: dict[str, Any]) -> Iterator[BatchItem]:
        raise NotImplementedError

    def submitted_ids(self, client: Any, job: BatchJob) -> list[str] | None:
        """The custom_ids a batch known only by its id was submitted with, in order, where the
        provider still has them; None where it does not (the default)."""
        return None

    async def asubmitted_ids(self, client: Any, job: BatchJob) -> list[str] | None:
        return None

    def submitted_prompts(self, client: Any, job: BatchJob) -> dict[str, list[Message]] | None:
        """custom_id -> the messages a batch known only by its id was submitted with, where the
        provider keeps the batch's input; None where it does not (the default: Anthropic and
        Gemini return no requests)."""
        return None

    async def asubmitted_prompts(self, client: Any, job: BatchJob) -> dict[str, list[Message]] | None:
        return None

    # -- async SDK calls
    async def asubmit(self, client: Any, lines: list[dict[str, Any]], data: bytes, model: str,
                      options: dict[str, Any]) -> BatchJob:
        raise NotImplementedError

    async def aretrieve(self, client: Any, batch_id: str) -> BatchJob:
        raise NotImplementedError

    async def alist(self, client: Any, limit: int) -> list[BatchJob]:
        raise NotImplementedError

    async def acancel(self, client: Any, batch_id: str) -> BatchJob:
        raise NotImplementedError

    async def adelete(self, client: Any, batch_id: str) -> None:
        raise NotImplementedError

    def aiter_results(self, client: Any, job: BatchJob, response_model: type[BaseModel] | None,
                      options: dict[str, Any]) -> AsyncIterator[BatchItem]:
        raise NotImplementedError
