"""Keeping secrets out of cassettes and making recordings replay against the real hosts.

Two jobs, both applied to every interaction before vcrpy keeps it (``before_record_*``)
and to every request replay matches:

- scrubbing: the auth headers, identifying headers, ``?key=``/``upload_id`` query values
  and every value of a provider key environment variable become ``REDACTED``
  (wire-formats.md E lists what each SDK sends), and so does anything shaped like a key
  (``secrets.KEY_PATTERNS``: a key passed in code, in a prompt, in an upload of any encoding)
  wherever it travels: URL, headers, bodies, decoded first (gzip) and read as bytes;
- URL normalisation: a recording made against the emulator's loopback server
  (``http://127.0.0.1:P/openai/v1/...``) is stored under the provider's default host
  (``https://api.openai.com/v1/...``), in request URIs and inside response headers and
  bodies (Anthropic ``results_url``, Gemini ``x-goog-upload-url`` and ``downloadUri``),
  so replay with the SDK defaults follows them. An Azure OpenAI recording is stored under the
  stand-in resource ``https://pytest-batch.openai.azure.com`` whatever resource it was made
  on: replay needs no endpoint, and the cassette does not name the user's resource.

``find_secrets`` is the last line of defence: it scans the final text for anything that
still looks like a key, inside the ``base64:`` blocks of non-UTF-8 bodies too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..endpoints import AZURE_HOST_SUFFIXES, DEFAULT_HOSTS, LOOPBACK_HOSTS
from ..secrets import KEY_PATTERNS, env_secrets, find_key_shapes, redact_bytes, redact_key_shapes

REDACTED = "REDACTED"


# wire-formats.md E: what carries a credential or identifies an account.
SECRET_REQUEST_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie",
    "openai-organization", "openai-project", "x-goog-user-project", "x-amz-security-token",
})
SECRET_RESPONSE_HEADERS = frozenset({
    "set-cookie", "openai-organization", "openai-project", "anthropic-organization-id",
})
# Volatile noise that changes every run and never affects a replay.
NOISY_REQUEST_HEADERS = frozenset({
    "user-agent", "x-goog-api-client", "content-length", "accept-encoding", "connection", "host",
})
NOISY_RESPONSE_HEADERS = frozenset({
    "content-length", "transfer-encoding", "connection", "keep-alive", "cf-ray", "cf-cache-status",
})
SECRET_QUERY_PARAMS = frozenset({"key", "api_key", "upload_id"})
URL_HEADERS = frozenset({"x-goog-upload-url", "location", "content-location", "link"})

_LOOPBACK_PREFIXED = re.compile(
    r"https?://(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0)(?::\d+)?/(openai|anthropic|google|azure)(?=[/?#\"'\s]|$)")
#: any Azure OpenAI resource's endpoint (docs/azure-batch.md)
_AZURE_RESOURCE = re.compile(r"https://[A-Za-z0-9-]+(?:" + "|".join(re.escape(s) for s in AZURE_HOST_SUFFIXES)
                             + r")(?::443)?(?=[/?#\"'\s]|$)", re.IGNORECASE)
_LOOPBACK_BARE = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0)(?::\d+)?(?=[/?#\"'\s]|$)")
_URL = re.compile(r"https?://[^\s\"'<>]+")

def _scrub_text(text: str, secrets: dict[str, str]) -> str:
    """Env key values become ``REDACTED-<VARIABLE>`` (so a reader knows which), then any other key ``REDACTED``."""
    for name, value in secrets.items():
        if value in text:
            text = text.replace(value, f"{REDACTED}-{name}")
    return redact_key_shapes(text, REDACTED)


def _scrub_bytes(raw: bytes, secrets: dict[str, str]) -> bytes:
    for name, value in secrets.items():
        encoded = value.encode("utf-8")
        if encoded in raw:
            raw = raw.replace(encoded, f"{REDACTED}-{name}".encode())
    return redact_bytes(raw, REDACTED)


def scrub_query(url: str) -> str:
    """``url`` with the values of secret query parameters replaced."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name.lower() in SECRET_QUERY_PARAMS for name, _ in pairs):
        return url
    query = urlencode([(name, REDACTED if name.lower() in SECRET_QUERY_PARAMS else value) for name, value in pairs])
    return urlunsplit(parts._replace(query=query))


def to_default_hosts(text: str, provider: str | None) -> str:
    """Rewrite loopback emulator URLs in ``text`` to the providers' default hosts."""
    text = _LOOPBACK_PREFIXED.sub(lambda m: DEFAULT_HOSTS[m.group(1)], text)
    if provider in DEFAULT_HOSTS:
        text = _LOOPBACK_BARE.sub(DEFAULT_HOSTS[provider], text)
    if provider == "azure":
        text = _AZURE_RESOURCE.sub(DEFAULT_HOSTS["azure"], text)
    return text


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK_HOSTS


def normalize_url(url: str, provider: str | None, secrets: dict[str, str]) -> str:
    return scrub_query(_scrub_text(to_default_hosts(url, provider), secrets))


def _scrub_urls_in(text: str) -> str:
    return _URL.sub(lambda m: scrub_query(m.group(0)), text)


def scrub_request(request: Any, provider: str | None) -> Any:
    """vcrpy ``before_record_request`` body: scrub and normalise a (copied) vcrpy Request."""
    secrets = env_secrets()
    request.uri = normalize_url(request.uri, provider, secrets)
    headers: dict[str, str] = {}
    encoding = ""
    for name, value in request.headers.items():
        lower = name.lower()
        if lower == "content-encoding":
            encoding = str(value).lower()
            continue
        if lower in NOISY_REQUEST_HEADERS or lower.startswith("x-stainless-"):
            continue
        headers[lower] = REDACTED if lower in SECRET_REQUEST_HEADERS else _scrub_text(str(value), secrets)
    body = request.body
    if isinstance(body, bytes | bytearray):
        body = bytes(body)
        if encoding in ("gzip", "deflate"):
            from vcr.filters import decompress_deflate, decompress_gzip

            body = (decompress_gzip if encoding == "gzip" else decompress_deflate)(body)
        elif encoding:
            headers["content-encoding"] = encoding
        body = _scrub_bytes(to_default_hosts_bytes(body, provider), secrets)
        request.body = body
    request.headers = headers
    return request


def to_default_hosts_bytes(raw: bytes, provider: str | None) -> bytes:
    if b"://" not in raw:
        return raw
    try:
        return to_default_hosts(raw.decode("utf-8"), provider).encode("utf-8")
    except UnicodeDecodeError:
        return raw


def scrub_response(response: dict[str, Any], provider: str | None) -> dict[str, Any]:
    """vcrpy ``before_record_response`` body (after gzip decoding): scrub and normalise a response dict."""
    secrets = env_secrets()
    headers: dict[str, list[str]] = {}
    for name, values in (response.get("headers") or {}).items():
        lower = name.lower()
        if lower in NOISY_RESPONSE_HEADERS:
            continue
        values = values if isinstance(values, list) else [values]
        if lower in SECRET_RESPONSE_HEADERS:
            headers[name] = [REDACTED for _ in values]
            continue
        cleaned = []
        for value in values:
            value = _scrub_text(to_default_hosts(str(value), provider), secrets)
            if lower in URL_HEADERS:
                value = _scrub_urls_in(value)
            cleaned.append(value)
        headers[name] = cleaned
    response["headers"] = headers
    body = response.get("body") or {}
    raw = body.get("string")
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if isinstance(raw, bytes):
        raw = to_default_hosts_bytes(raw, provider)
        if b"upload_id=" in raw:
            try:
                raw = _scrub_urls_in(raw.decode("utf-8")).encode("utf-8")
            except UnicodeDecodeError:
                pass
        body["string"] = _scrub_bytes(raw, secrets)
        response["body"] = body
    return response


@dataclass(frozen=True)
class SecretFinding:
    """Something that looks like a credential, found in a cassette's text."""

    kind: str
    line: int
    preview: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind} ({self.preview})"


def _preview(value: str) -> str:
    return value[:6] + "…" if len(value) > 6 else "…"


#: a stored non-UTF-8 body (format.py): ``base64: <data>``, plain or quoted, on one line
_BASE64_BLOCK = re.compile(r"""\bbase64:[ \t]+['"]?([A-Za-z0-9+/]+={0,2})['"]?[ \t]*$""", re.MULTILINE)


def find_secrets(text: str, extra_values: Iterable[tuple[str, str]] | None = None) -> list[SecretFinding]:
    """Every key-like string and every provider key env value in ``text`` (never the full value),
    in the bytes of its ``base64:`` blocks too: a body that is not UTF-8 is stored that way, and a key
    inside it would be one ``base64 -d`` away."""
    findings: list[SecretFinding] = []
    values = list(extra_values if extra_values is not None else env_secrets().items())

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    for name, value in values:
        start = text.find(value)
        if start >= 0:
            findings.append(SecretFinding(f"value of ${name}", line_of(start), _preview(value)))
    for kind, pattern in KEY_PATTERNS.items():
        for match in pattern.finditer(text):
            findings.append(SecretFinding(kind, line_of(match.start()), _preview(match.group(0))))
    for block in _BASE64_BLOCK.finditer(text):
        try:
            raw = base64.b64decode(block.group(1), validate=True)
        except (binascii.Error, ValueError):
            continue
        line = line_of(block.start())
        hidden = [(f"value of ${name}", value) for name, value in values if value.encode("utf-8") in raw]
        for kind, value in hidden + find_key_shapes(raw):
            findings.append(SecretFinding(f"{kind} in a base64 body", line, _preview(value)))
    findings.sort(key=lambda f: f.line)
    return findings
