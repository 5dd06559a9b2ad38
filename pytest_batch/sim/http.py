"""The emulator's own request/response types: what every adapter (transport, server) speaks.

The emulator core never sees an httpx or http.server object; adapters translate to and
from these two dataclasses, so the same routes serve every access path.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit


class DroppedConnection(Exception):
    """An injected fault: the adapter must fail the call as if the socket closed."""


class RequestHandler(Protocol):
    """What an adapter (transport, client factory, server) serves: the Emulator, or anything shaped like it.
    ``handle`` may be called from several threads at once: it guards its own state."""

    def handle(self, request: SimRequest) -> SimResponse: ...


@dataclass
class SimRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    #: scheme://host[:port][/prefix] under which this provider is reached; used to build
    #: the absolute URLs some providers hand back (Anthropic results_url, Gemini upload URL).
    base_url: str = ""
    #: the path below the provider's mount point, percent-decoded (Gemini ``%3A`` verbs).
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, method: str, url: str, headers: dict[str, str], body: bytes) -> SimRequest:
        parts = urlsplit(url)
        return cls(
            method=method.upper(),
            url=url,
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
            base_url=f"{parts.scheme}://{parts.netloc}",
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        )

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def json(self) -> Any:
        return parse_json(self.body or b"null")


def parse_json(raw: str | bytes) -> Any:
    """``json.loads``, where JSON nested deeper than Python's recursion limit (``{"a":`` * 100000,
    a schema a thousand levels deep) is a ``ValueError`` like any other unparsable body: the
    routes answer it 400 in their provider's envelope, never a 500."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to parse (more than about "
                         f"{sys.getrecursionlimit()} levels of objects and arrays)") from None


@dataclass
class SimResponse:
    status: int
    headers: dict[str, str]
    #: bytes, or an iterable of chunks for streamed bodies (file contents, results).
    body: bytes | Iterable[bytes] = b""

    def iter_bytes(self) -> Iterator[bytes]:
        if isinstance(self.body, bytes | bytearray):
            yield bytes(self.body)
        else:
            yield from self.body

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())


_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    body = _compact(payload).encode()
    return SimResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def jsonl_stream(rows: Iterable[Any], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Serialise rows as JSONL in chunks of about ``chunk_size`` bytes, never holding the file.

    No blank lines: Anthropic's JSONLDecoder json.loads every newline-terminated chunk
    (wire-formats.md B.5), so an empty line would crash the client.
    """
    dumps = _compact
    buffer: list[str] = []
    size = 0
    for row in rows:
        line = dumps(row) + "\n"
        buffer.append(line)
        size += len(line)
        if size >= chunk_size:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


Route = tuple[str, "re.Pattern[str]", str]


def find_route(routes: list[Route], request: SimRequest) -> tuple[str, dict[str, str]] | None:
    """The handler name and path parameters of the first route matching the request."""
    for method, pattern, name in routes:
        if method == request.method:
            match = pattern.match(request.path)
            if match:
                return name, match.groupdict()
    return None


class HTTPError(Exception):
    """Raised inside a backend; the provider's routes render it in that provider's envelope."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def content_disposition(filename: str) -> str:
    """``attachment`` naming ``filename`` safely (RFC 6266): a plain ASCII ``filename=`` without
    quotes, backslashes or line breaks, and the exact name percent-encoded in ``filename*=``.
    A name is the client's text: it must never break out of its header."""
    from urllib.parse import quote

    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    if plain == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
