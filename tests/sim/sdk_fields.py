"""Which fields an SDK type declares that the emulator did not send.

The newest SDKs declare every field the live API can send: openai's and anthropic's types
(``openai.types.Batch``, ``anthropic.types.Message``…) and google-genai's (``types.BatchJob``,
``GenerateContentResponse``…) are pydantic models, and an object the SDK parsed from a response
remembers which keys the response carried (``model_fields_set``). Walking the parsed object
therefore lists what the emulator left out, and an SDK upgrade that adds a field makes that list
grow, which is how a test built on this notices that the API moved.

Each provider's test keeps the fields the live API would *not* send for the call at hand
(``errors`` on a batch that did not fail, ``thinking`` blocks without extended thinking…) in a
mapping of path to reason, and ``unexplained`` checks both ways: a field neither sent nor
explained fails, and so does an explanation for a field the SDK no longer declares or the
emulator now sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


def declared_fields(obj: BaseModel) -> dict[str, str]:
    """The fields ``obj``'s type declares, as {python name: wire key}."""
    return {name: info.alias or name for name, info in type(obj).model_fields.items()}


def unsent_fields(obj: Any, path: str = "") -> set[str]:
    """Dotted wire paths of fields declared by the types of ``obj`` (and of every model object
    nested in it, list items included, ``[]`` marking a list) that the parsed response did not
    carry. Extra keys the SDK does not declare are ignored here."""
    missing: set[str] = set()
    if isinstance(obj, BaseModel):
        sent = obj.model_fields_set
        for name, key in declared_fields(obj).items():
            where = f"{path}.{key}".lstrip(".")
            if name not in sent:
                missing.add(where)
            else:
                missing |= unsent_fields(getattr(obj, name), where)
    elif isinstance(obj, list | tuple):
        for item in obj:
            missing |= unsent_fields(item, f"{path}[]")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, BaseModel | list | dict):
                missing |= unsent_fields(value, f"{path}.{key}".lstrip("."))
    return missing


def unexplained(obj: Any, not_sent_by_the_api: Mapping[str, str]) -> list[str]:
    """What is wrong with the emulated ``obj`` against its SDK types: each declared field it
    lacks that ``not_sent_by_the_api`` ({path: why the live API leaves it out here}) does not
    explain, and each explanation that no longer applies. Empty when all is well."""
    missing = unsent_fields(obj)
    problems = [f"{where}: declared by {_type_name(obj)}'s SDK types, not emulated (add it, or say "
                "in the test why the live API leaves it out)" for where in sorted(missing - not_sent_by_the_api.keys())]
    problems += [f"{where}: explained as not sent ({why!r}), but the emulator sends it or the SDK no "
                 "longer declares it" for where, why in sorted(not_sent_by_the_api.items()) if where not in missing]
    return problems


def _type_name(obj: Any) -> str:
    return type(obj).__qualname__
