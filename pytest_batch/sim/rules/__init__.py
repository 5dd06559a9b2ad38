"""What each provider's live API accepts, one module per provider: the checks on request
bodies, query parameters, headers and names, and on each line of a batch's input, with the
provider's status code, error envelope and message. The backends call these; each rule cites
the docs page or recording it comes from."""

from __future__ import annotations

import functools
import importlib
from typing import Any


def json_type(value: Any) -> str:
    """A decoded JSON value's type, in JSON Schema's words: null, boolean, integer, number (a
    decimal), string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@functools.cache
def sdk_declared_fields(module: str, type_name: str) -> frozenset[str]:
    """The fields the installed SDK's request type ``module.type_name`` declares: a TypedDict's
    keys, or a pydantic model's field names and wire aliases; empty without that SDK.

    Each rules module writes out the fields it knows (the emulator does not import an SDK to
    check a body). The user's SDK may be newer than that list: a field it declares is one the
    live API it was written for takes, so a rule consults this before refusing a field as
    unknown, rather than failing the user's valid request. Read only on that rare path."""
    try:
        declared = getattr(importlib.import_module(module), type_name)
    except (ImportError, AttributeError):
        return frozenset()
    if hasattr(declared, "model_fields"):
        return frozenset(name for field_name, info in declared.model_fields.items()
                         for name in (field_name, info.alias) if name)
    return frozenset(getattr(declared, "__required_keys__", ())) | frozenset(
        getattr(declared, "__optional_keys__", ()))


#: which rules module words a provider's errors (Azure OpenAI answers in OpenAI's words)
_RULES = {"openai": "openai", "azure": "openai", "anthropic": "anthropic", "google": "google"}


def invalid_schema_message(provider: str, body: dict, schema_name: str | None, detail: str) -> str:
    """The per-request message for a structured-output schema the API cannot use, in
    ``provider``'s words (``detail``: what is wrong with it). Imported lazily: only a failing
    request needs it, and the provider modules import this package."""
    module = importlib.import_module(f"{__name__}.{_RULES.get(provider, 'openai')}")
    return module.invalid_schema_message(body, schema_name, detail)
