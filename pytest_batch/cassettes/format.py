"""How a cassette looks on disk: readable YAML with bodies stored as data, not strings.

vcrpy keeps every body as bytes in memory; this module is the only place that turns them
into something a reviewer can read in a diff, and back. A stored body is a mapping with
exactly one of these keys:

- ``json``: a JSON document, as YAML data;
- ``jsonl``: JSON Lines, one YAML item per line (``final_newline: false`` when the last
  line had no newline, ``style: compact`` when written without spaces, so the replayed
  bytes are the recorded ones);
- ``multipart``: a multipart/form-data upload, one item per part (``name``,
  ``filename``, ``content_type`` and the part's own ``json``/``jsonl``/``string``/``base64``);
  the boundary is not stored in the body (it is random per upload);
- ``string``: any other UTF-8 text;
- ``base64``: bytes that are not UTF-8.

The same views drive request matching (``body_view``): two bodies match when their views
are equal, so JSON key order, whitespace and multipart boundaries never matter.

A cassette starts with ``HEADER`` and ends with ``FOOTER`` (two YAML comments), so a file cut
short anywhere (a copy, a merge, a full disk) is told from a complete one even when what is left
still parses. Files without the header (written before it existed) are read as they are. Any
file that is not a cassette raises ``CassetteFormatError`` saying what is wrong with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import marshal
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml when present: the same output, faster
    from yaml import CSafeDumper as _SafeDumper
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

#: the first and last lines of every cassette written (see the module docstring)
HEADER = '# pytest-batch cassette: a complete file ends with the line "# end of cassette"\n'
FOOTER = "# end of cassette\n"
_FOOTER_LINE = re.compile(r"^# end of cassette[ \t]*$", re.MULTILINE)  # lines added after it are a reader's edit


class CassetteFormatError(ValueError):
    """The text is no cassette: not YAML, cut short, or not shaped like one (the message says which)."""


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_DISPOSITION_PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# ---------------------------------------------------------------------------- body views

def _as_text(raw: bytes | str) -> str | None:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


#: how JSON Lines were written, so a replay gives back the same bytes: the default (no
#: ``style`` key) is json.dumps' own ``{"a": 1}``; real and emulated files are often compact.
_STYLES = {
    "spaced": {"ensure_ascii": False},
    "compact": {"separators": (",", ":"), "ensure_ascii": False},
    "spaced ascii": {"ensure_ascii": True},
    "compact ascii": {"separators": (",", ":"), "ensure_ascii": True},
}


def _jsonl(text: str) -> tuple[list[Any], bool, str | None] | None:
    final_newline = text.endswith("\n")
    lines = text[:-1].split("\n") if final_newline else text.split("\n")
    if not lines or any(not line.strip() for line in lines):
        return None
    try:
        values = [json.loads(line) for line in lines]
    except ValueError:
        return None
    style = next((name for name, options in _STYLES.items()
                  if all(json.dumps(value, **options) == line for value, line in zip(values, lines, strict=True))),
                 None)
    return values, final_newline, style


def _encode_content(raw: bytes | str, content_type: str | None = None, filename: str | None = None) -> dict[str, Any]:
    """The stored form of a non-multipart body (see the module docstring)."""
    text = _as_text(raw)
    if text is None:
        return {"base64": base64.b64encode(raw).decode("ascii")}  # type: ignore[arg-type]
    if not text:
        return {"string": ""}
    jsonl_hint = any("jsonl" in (hint or "").lower() or "ndjson" in (hint or "").lower()
                     for hint in (content_type, filename))
    if not jsonl_hint:
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    parsed = _jsonl(text)
    if parsed is not None:
        lines, final_newline, style = parsed
        stored: dict[str, Any] = {"jsonl": lines}
        if not final_newline:
            stored["final_newline"] = False
        if style and style != "spaced":
            stored["style"] = style
        return stored
    if jsonl_hint:
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    return {"string": text}


def _decode_content(stored: dict[str, Any]) -> bytes:
    if "json" in stored:
        return json.dumps(stored["json"], ensure_ascii=False).encode("utf-8")
    if "jsonl" in stored:
        options = _STYLES.get(stored.get("style") or "spaced", _STYLES["spaced"])
        text = "\n".join(json.dumps(line, **options) for line in stored["jsonl"])
        return (text + ("\n" if stored.get("final_newline", True) else "")).encode("utf-8")
    if "base64" in stored:
        return base64.b64decode(stored["base64"])
    string = stored.get("string")
    return (string or "").encode("utf-8")


def boundary_of(content_type: str | None) -> str | None:
    if not content_type or "multipart/" not in content_type.lower():
        return None
    match = _BOUNDARY.search(content_type)
    return match.group(1) if match else None


def parse_multipart(raw: bytes, boundary: str) -> list[dict[str, Any]] | None:
    """The parts of a multipart body as stored data, or None if it does not parse."""
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = raw.split(delimiter)
    if len(chunks) < 3:
        return None
    parts: list[dict[str, Any]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            return None
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = dict(_DISPOSITION_PARAM.findall(headers.get("content-disposition", "")))
        part: dict[str, Any] = {"name": params.get("name")}
        if "filename" in params:
            part["filename"] = params["filename"]
        if "content-type" in headers:
            part["content_type"] = headers["content-type"]
        part.update(_encode_content(content, headers.get("content-type"), params.get("filename")))
        parts.append(part)
    return parts


def build_multipart(parts: list[dict[str, Any]], boundary: str) -> bytes:
    out = bytearray()
    for part in parts:
        disposition = f'form-data; name="{part.get("name")}"'
        if "filename" in part:
            disposition += f'; filename="{part["filename"]}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if "content_type" in part:
            out += f"Content-Type: {part['content_type']}\r\n".encode()
        out += b"\r\n" + _decode_content(part) + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def encode_body(raw: bytes | str | None, content_type: str | None) -> dict[str, Any] | None:
    """The stored form of a request or response body (None for no body)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    boundary = boundary_of(content_type)
    if boundary:
        parts = parse_multipart(raw, boundary)
        if parts is not None:
            return {"multipart": parts}
    return _encode_content(raw, content_type)


def decode_body(stored: dict[str, Any] | str | bytes | None, content_type: str | None) -> bytes | None:
    """The bytes a stored body stands for (a multipart body is rebuilt with the header's boundary)."""
    if stored is None:
        return None
    if isinstance(stored, bytes):
        return stored
    if isinstance(stored, str):  # a plain vcrpy cassette
        return stored.encode("utf-8")
    if "multipart" in stored:
        return build_multipart(stored["multipart"], boundary_of(content_type) or "pytest-batch-boundary")
    return _decode_content(stored)


def body_view(raw: bytes | str | None, content_type: str | None) -> Any:
    """What matching compares: the stored form, without the boundary or formatting."""
    if raw is None or raw == b"" or raw == "":
        return None
    return encode_body(raw, content_type)


def view_text(view: Any) -> str:
    """A stable text form of a body view, for diffs in mismatch messages."""
    if view is None:
        return "<no body>"
    if isinstance(view, dict) and set(view) == {"json"}:
        return json.dumps(view["json"], indent=2, sort_keys=True, ensure_ascii=False)
    return json.dumps(view, indent=2, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------------- YAML

class _Dumper(_SafeDumper):  # type: ignore[misc,valid-type]
    pass


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_NULL_TAG = "tag:yaml.org,2002:null"


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader, faster on cassettes: a cassette is mostly plain scalars that repeat (JSON
    keys, roles, models), so the tag each plain scalar resolves to is remembered, and the usual
    node types are built by ``_construct`` without the constructor's generator machinery. The
    result is what ``yaml.safe_load`` gives."""

    _resolved: dict[str, str] = {}  # noqa: RUF012 - a memo shared by every load, on purpose

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0]:  # quoted: always a string (SafeLoader has no path resolvers)
                return _STR_TAG
            tag = self._resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._resolved) < 8192 and len(value) < 256:
                    self._resolved[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, faster (see ``_Loader``)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct(loader, node, {})
    finally:
        loader.dispose()


def _construct(loader: Any, node: Any, built: dict[int, Any]) -> Any:
    tag = node.tag
    if tag == _STR_TAG:
        return node.value
    if id(node) in built:  # an alias: the same object, as the constructor gives
        return built[id(node)]
    if tag == _MAP_TAG and not any(key.tag == "tag:yaml.org,2002:merge" for key, _ in node.value):
        mapping: dict[Any, Any] = {}
        built[id(node)] = mapping
        for key, value in node.value:
            mapping[_construct(loader, key, built)] = _construct(loader, value, built)
        return mapping
    if tag == _SEQ_TAG:
        sequence: list[Any] = []
        built[id(node)] = sequence
        sequence.extend(_construct(loader, item, built) for item in node.value)
        return sequence
    if tag == _NULL_TAG:
        return None
    value = loader.construct_object(node, deep=True)  # ints, floats, bools, timestamps, merges, ...
    built[id(node)] = value
    return value


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value.rstrip("\n"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def _flat_headers(headers: dict[str, Any]) -> dict[str, Any]:
    return {name: values[0] if isinstance(values, list) and len(values) == 1 else values
            for name, values in headers.items()}


def _list_headers(headers: dict[str, Any] | None) -> dict[str, list[str]]:
    return {name: [str(v) for v in values] if isinstance(values, list) else [str(values)]
            for name, values in (headers or {}).items()}


def _content_type(headers: dict[str, Any] | None) -> str | None:
    for name, values in (headers or {}).items():
        if name.lower() == "content-type":
            return values[0] if isinstance(values, list) else values
    return None


class CassetteSerializer:
    """A vcrpy serializer (``register_serializer``) writing the readable YAML format.

    ``serialize`` receives vcrpy's cassette dict (bodies as text or bytes) and puts the
    metadata first; ``deserialize`` gives vcrpy back bodies as text/bytes, with a
    ``content-length`` that fits the rebuilt body.
    """

    @staticmethod
    def serialize(data: dict[str, Any]) -> str:
        interactions = []
        for interaction in data.get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            raw_response_body = (response.get("body") or {}).get("string")
            interactions.append({
                "request": {
                    "method": request["method"],
                    "uri": request["uri"],
                    "headers": _flat_headers(request.get("headers") or {}),
                    "body": encode_body(request.get("body"), _content_type(request.get("headers"))),
                },
                "response": {
                    "status": response["status"],
                    "headers": _flat_headers(response.get("headers") or {}),
                    "body": encode_body(raw_response_body if raw_response_body is not None else b"",
                                        _content_type(response.get("headers"))),
                },
            })
        document: dict[str, Any] = {}
        if data.get("metadata"):
            document["metadata"] = data["metadata"]
        document["version"] = data.get("version", 1)
        document["interactions"] = interactions
        # no line folding: a folded scalar could split a key where the final secret scan
        # would not see it, and unfolded lines diff better
        return HEADER + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                                  width=2**31 - 1, default_flow_style=False) + FOOTER

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        compiled = COMPILED.load(text)
        if compiled is not None:
            return compiled
        out = CassetteSerializer._deserialize(text)
        COMPILED.save(text, out)
        return out

    @staticmethod
    def _deserialize(text: str) -> dict[str, Any]:
        document = _checked_document(text)
        interactions = []
        for number, interaction in enumerate(document.get("interactions") or [], 1):
            request, response = _checked_interaction(interaction, number)
            try:
                request_headers = _list_headers(request.get("headers"))
                request_body = decode_body(request.get("body"), _content_type(request_headers))
                response_headers = {name: values for name, values in _list_headers(response.get("headers")).items()
                                    if name.lower() != "content-length"}
                response_body = decode_body(response.get("body"), _content_type(response_headers)) or b""
            except (AttributeError, TypeError, ValueError) as exc:  # a body that is no stored body
                raise CassetteFormatError(f"interaction {number}'s body cannot be read ({exc})") from None
            response_headers["content-length"] = [str(len(response_body))]
            interactions.append({
                "request": {"method": request["method"], "uri": request["uri"], "headers": request_headers,
                            "body": request_body},
                "response": {"status": response["status"], "headers": response_headers,
                             "body": {"string": response_body}},
            })
        out: dict[str, Any] = {"version": document.get("version", 1), "interactions": interactions}
        if document.get("metadata"):
            out["metadata"] = document["metadata"]
        return out


def _checked_document(text: str) -> dict[str, Any]:
    """The parsed top level of a cassette, or CassetteFormatError saying what is wrong with the text."""
    if text.startswith(HEADER) and not _FOOTER_LINE.search(text):
        raise CassetteFormatError(f"the file is cut short: it has no final {FOOTER.strip()!r} line, as every "
                                  "complete cassette does")
    try:
        document = _load_yaml(text)
    except yaml.YAMLError as exc:
        raise CassetteFormatError(describe_yaml_error(exc, text)) from None
    if document is None:
        raise CassetteFormatError("it holds no YAML document (nothing but comments or blank lines)")
    if not isinstance(document, dict):
        raise CassetteFormatError(f"its top level is a {_kind(document)}, not a mapping of metadata, version "
                                  "and interactions")
    if not isinstance(document.get("interactions", []), list):
        raise CassetteFormatError(f"'interactions' is a {_kind(document['interactions'])}, not a list")
    if not isinstance(document.get("metadata") or {}, dict):
        raise CassetteFormatError(f"'metadata' is a {_kind(document['metadata'])}, not a mapping")
    return document


def _checked_interaction(interaction: Any, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(interaction, dict):
        raise CassetteFormatError(f"interaction {number} is a {_kind(interaction)}, not a mapping of request "
                                  "and response")
    request, response = interaction.get("request"), interaction.get("response")
    for part, value, keys in (("request", request, ("method", "uri")), ("response", response, ("status",))):
        if not isinstance(value, dict):
            missing = "has no" if value is None else f"has a {_kind(value)} as its"
            raise CassetteFormatError(f"interaction {number} {missing} {part} (a file cut short, or a bad edit)")
        absent = [key for key in keys if key not in value]
        if absent:
            raise CassetteFormatError(f"interaction {number}'s {part} has no {' or '.join(absent)}")
    return request, response  # type: ignore[return-value]


def _kind(value: Any) -> str:
    return {list: "list", dict: "mapping", str: "string"}.get(type(value), type(value).__name__)


def describe_yaml_error(exc: yaml.YAMLError, text: str) -> str:
    """A YAML error as one line: where (line and column of the file) and what, and whether the file
    looks cut short; never the ``<unicode string>`` snippet PyYAML prints."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    cut = "; the file looks cut short" if not text.endswith("\n") else ""
    return f"it is not valid YAML{where}: {problem}{f' ({context})' if context else ''}{cut}"


class CompiledCassettes:
    """Parsed cassettes kept in pytest's cache directory as ``marshal`` files, keyed by a hash of
    the YAML text: parsing the YAML is most of a replay's cost (about 2.5 ms for a ten-request
    lifecycle, more than plain vcrpy's whole replay), loading the compiled form 0.01 ms. An edited
    cassette has another hash, so it is parsed again; the directory is safe to delete. Off (None)
    when pytest runs without its cache provider."""

    #: bump when ``deserialize``'s output changes shape
    FORMAT = 1

    def __init__(self) -> None:
        self.directory: Path | None = None

    def use(self, cache_root: Path | None) -> None:
        tag = f"v{self.FORMAT}-py{sys.version_info[0]}{sys.version_info[1]}-m{marshal.version}"
        self.directory = cache_root / tag if cache_root is not None else None

    def _path(self, text: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}.marshal"

    def load(self, text: str) -> dict[str, Any] | None:
        path = self._path(text)
        if path is None:
            return None
        try:
            data = marshal.loads(path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return None  # not compiled yet, or a damaged file: parse the YAML
        return data if isinstance(data, dict) and isinstance(data.get("interactions"), list) else None

    def save(self, text: str, data: dict[str, Any]) -> None:
        path = self._path(text)
        if path is None:
            return
        try:
            compiled = marshal.dumps(data)
        except ValueError:  # a YAML type marshal cannot hold (a timestamp): leave it uncompiled
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(compiled)
            os.replace(temporary, path)  # atomic: xdist workers may compile the same cassette
        except OSError:
            return


COMPILED = CompiledCassettes()


def read_metadata(text: str) -> dict[str, Any]:
    """The metadata block of a cassette's text (empty if it has none).

    The serializer writes metadata before the interactions, so only that head is parsed:
    vcrpy parses the whole file once more when it loads the cassette.
    """
    head, found, _ = text.partition("\ninteractions:")
    try:
        document = _load_yaml(head if found else text) or {}
    except yaml.YAMLError as exc:
        raise CassetteFormatError(describe_yaml_error(exc, text)) from None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    return metadata if isinstance(metadata, dict) else {}
