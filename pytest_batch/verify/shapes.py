"""What ``pytest-batch verify`` compares between a recorded (or live) response and the emulator's.

Compared, per response (``compare_responses``):

- the HTTP status code, exactly;
- the body kind (JSON, JSON Lines, text, bytes): a results file that came back as JSONL must
  come back as JSONL;
- every key path of a JSON body, lists collapsed to ``[]`` (``data[].status``), with the JSON
  type(s) found there (object, array, string, integer, number, boolean, null). A path only one
  side has is ``missing`` (recorded, not emulated) or ``extra`` (emulated, not recorded); a
  missing and an extra path under the same parent with the same types are reported once, as
  ``renamed``. For JSON Lines the paths of every line are pooled;
- enumerated values: the values at keys that hold a closed set of names (``ENUM_KEYS``:
  object types, statuses, states, error codes, stop reasons, roles), compared as sets per path;
- the response headers the SDKs read (``SDK_HEADERS``, wire-formats.md 0 and E): the media
  type of ``content-type`` and ``x-goog-upload-status`` by value, the rest by presence.

Not compared: values of ids, timestamps, token counts, texts and every other free value (they
differ by nature; their types are compared), header values such as dates or request ids, and
anything a request carried.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ..sim.rules import json_type

#: keys whose values are names from a closed set: a changed value is drift, not data.
ENUM_KEYS = frozenset({
    "object", "type", "@type", "status", "processing_status", "state", "code", "done", "finish_reason",
    "finishReason", "stop_reason", "role", "endpoint", "purpose", "completion_window", "status_code",
    "blockReason", "reason",
})

#: response headers an SDK reads: compared by value (True) or by presence (False).
SDK_HEADERS: dict[str, bool] = {
    "content-type": True,          # how the SDK parses the body
    "x-goog-upload-status": True,  # google-genai's resumable upload fails without "final"
    "x-goog-upload-url": False,    # google-genai's upload target
    "retry-after": False,          # the Stainless SDKs' and the processor's back-off
    "retry-after-ms": False,
    "x-should-retry": True,        # overrides the Stainless SDKs' retry decision
    "x-request-id": False,         # openai's ``_request_id``
    "request-id": False,           # anthropic's ``_request_id``
    "content-disposition": False,  # file downloads
}


@dataclass(frozen=True)
class Difference:
    """One way the emulator's answer differs from the recorded one."""

    kind: str        # status | body | missing | extra | renamed | type | value | header
    path: str        # a key path, a header name, or "" for the whole response
    recorded: str    # what the recording has there
    emulated: str    # what the emulator answered

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def shape_of(value: Any, path: str = "", shape: dict[str, set[str]] | None = None,
             enums: dict[str, set[str]] | None = None) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Every key path of ``value`` with the JSON types found there, and the enumerated values."""
    shape = {} if shape is None else shape
    enums = {} if enums is None else enums
    shape.setdefault(path or "$", set()).add(json_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            shape_of(item, child, shape, enums)
            if key in ENUM_KEYS and (item is None or isinstance(item, str | bool | int)):
                enums.setdefault(child, set()).add(json.dumps(item))
    elif isinstance(value, list):
        for item in value:
            shape_of(item, f"{path}[]", shape, enums)
    return shape, enums


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("[]"))
    return path[:cut] if cut > 0 else ""


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def compare_shapes(recorded: Any, emulated: Any) -> list[Difference]:
    """Key paths, types and enumerated values of two parsed bodies (see the module docstring)."""
    recorded_shape, recorded_enums = shape_of(recorded)
    emulated_shape, emulated_enums = shape_of(emulated)
    missing = [p for p in recorded_shape if p not in emulated_shape]
    extra = [p for p in emulated_shape if p not in recorded_shape]
    # only the top of a missing subtree is worth naming: its children are missing with it
    missing = [p for p in missing if _parent(p) not in missing]
    extra = [p for p in extra if _parent(p) not in extra]
    out: list[Difference] = []
    for path in list(missing):
        twin = next((p for p in extra if _parent(p) == _parent(path)
                     and emulated_shape[p] == recorded_shape[path]), None)
        if twin is not None:
            extra.remove(twin)
            missing.remove(path)
            out.append(Difference("renamed", path, _leaf(path), _leaf(twin)))
    out += [Difference("missing", p, _types(recorded_shape[p]), "-") for p in missing]
    out += [Difference("extra", p, "-", _types(emulated_shape[p])) for p in extra]
    for path, types in recorded_shape.items():
        other = emulated_shape.get(path)
        if other is not None and other != types:
            out.append(Difference("type", path, _types(types), _types(other)))
    for path, values in recorded_enums.items():
        other = emulated_enums.get(path)
        if other is not None and other != values:
            out.append(Difference("value", path, ", ".join(sorted(values)), ", ".join(sorted(other))))
    return out


def _types(types: set[str]) -> str:
    return "|".join(sorted(types))


def _media_type(value: str | None) -> str | None:
    return value.split(";")[0].strip().lower() if value is not None else None


def compare_headers(recorded: dict[str, str], emulated: dict[str, str]) -> list[Difference]:
    recorded = {k.lower(): v for k, v in recorded.items()}
    emulated = {k.lower(): v for k, v in emulated.items()}
    out = []
    for name, by_value in SDK_HEADERS.items():
        mine, theirs = recorded.get(name), emulated.get(name)
        if (mine is None) != (theirs is None):
            out.append(Difference("header", name, "absent" if mine is None else "present",
                                  "absent" if theirs is None else "present"))
        elif by_value and mine is not None:
            if name == "content-type":
                mine, theirs = _media_type(mine), _media_type(theirs)
            if mine != theirs:
                out.append(Difference("header", name, str(mine), str(theirs)))
    return out


def body_kind(stored: Any) -> str:
    """``json``, ``jsonl``, ``string``, ``base64``, ``multipart`` or ``empty`` (cassettes/format.py's views)."""
    if not stored:
        return "empty"
    if isinstance(stored, dict):
        kind = next((k for k in ("json", "jsonl", "multipart", "base64", "string") if k in stored), "string")
        return "empty" if kind == "string" and not stored.get("string") else kind
    return "string"


def compare_responses(recorded: dict[str, Any], emulated: dict[str, Any]) -> list[Difference]:
    """Two responses, each ``{"status": int, "headers": {...}, "body": <stored body view>}``."""
    out: list[Difference] = []
    if recorded["status"] != emulated["status"]:
        out.append(Difference("status", "", str(recorded["status"]), str(emulated["status"])))
    kinds = body_kind(recorded["body"]), body_kind(emulated["body"])
    if kinds[0] != kinds[1]:
        out.append(Difference("body", "", kinds[0], kinds[1]))
    elif kinds[0] in ("json", "jsonl"):
        out += compare_shapes(recorded["body"][kinds[0]], emulated["body"][kinds[1]])
    out += compare_headers(recorded["headers"], emulated["headers"])
    return out
