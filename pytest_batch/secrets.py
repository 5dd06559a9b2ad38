"""What an API key looks like, and how to keep one out of text: cassettes, errors, output.

``redact`` is the one redaction every message that can show a request or a response goes
through (CLI errors, processor errors, cassette errors and mismatch diffs, logs); ``redact_bytes``
is the same for bodies that need not be text (an upload in any encoding).
"""

from __future__ import annotations

import codecs
import os
import re

#: the variables the SDKs read their keys from (E: "Auth headers and secrets to scrub").
KEY_ENV_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY", "GEMINI_API_KEY",
                "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")

#: what a real key looks like, wherever it appears (an env value, a key passed in code, a key in
#: a prompt or an upload); REDACTED placeholders never match. Each pattern starts with its literal
#: (the "no key character before it" check is a lookbehind after it): a regex that starts with a
#: lookbehind is tried at every offset, 40 times slower on a 200 MB upload.
KEY_PATTERNS: dict[str, re.Pattern[str]] = {
    "Anthropic API key (sk-ant-…)": re.compile(r"sk-ant-(?<![A-Za-z0-9_-]sk-ant-)[A-Za-z0-9_-]{20,}"),
    "OpenAI API key (sk-…)": re.compile(r"sk-(?<![A-Za-z0-9_-]sk-)(?!ant-)[A-Za-z0-9_-]{20,}"),
    "Google API key (AIza…)": re.compile(r"AIza(?<![A-Za-z0-9_-]AIza)[0-9A-Za-z_-]{30,}"),
    "Bearer token": re.compile(r"Bearer\s+(?!REDACTED)[A-Za-z0-9._~+/=-]{16,}"),
    "key= query parameter": re.compile(r"key=(?:(?<=[?&]key=)|(?<=[?&]api_key=))(?!REDACTED)[^&\s\"'#<>]{8,}"),
    # Azure OpenAI keys are long alphanumeric strings with no recognisable prefix: found by the
    # header that carries them (wire-formats.md E, "openai Azure")
    "Azure api-key header": re.compile(
        r"[Aa]pi-[Kk]ey(?<![A-Za-z0-9_-][Aa]pi-[Kk]ey)[\"']?\s*[:=]\s*[\"']?(?!REDACTED)[A-Za-z0-9]{32,}"),
}
#: the same patterns over bytes (keys are ASCII, so they read the same in any ASCII-compatible encoding)
KEY_BYTE_PATTERNS: dict[str, re.Pattern[bytes]] = {
    kind: re.compile(pattern.pattern.encode("ascii")) for kind, pattern in KEY_PATTERNS.items()}
_MIN_ENV_SECRET = 8
#: what ``redact`` keeps of a match, so the message still says where the key was
_KEPT_PREFIXES = ("Bearer ", "key=")
_API_KEY_HEADER = re.compile(r"[Aa]pi-[Kk]ey[\"']?\s*[:=]\s*[\"']?")


#: parameter names whose value is a secret, in any case (``?KEY=``, ``&Token=``, ``;api_key=``)
SECRET_PARAMETERS = ("key", "api_key", "apikey", "api-key", "token", "access_token", "auth_token", "id_token",
                     "secret", "client_secret", "password", "sig", "signature")
#: what ``redact`` (messages and logs, not cassettes: ``scrub.py`` has its own rules) also hides in
#: a URL: a secret parameter's value, however short and whatever its case, and a key-prefixed path
#: segment or value shorter than ``KEY_PATTERNS`` ask for (``/openai/v1/sk-proj-INPATH12345/batches``)
_URL_SECRET_PATTERNS = (
    re.compile("=(?:" + "|".join(f"(?<=[?&;]{re.escape(name)}=)" for name in SECRET_PARAMETERS)
               + r")(?!\*\*\*|REDACTED)[^&;\s\"'#<>]+", re.IGNORECASE),
    re.compile(r"sk-(?<=[/=]sk-)[A-Za-z0-9_-]{6,}"),
    re.compile(r"AIza(?<=[/=]AIza)[A-Za-z0-9_-]{6,}"),
)


def env_secrets() -> dict[str, str]:
    """The provider key values in the environment (long enough to be real), by variable name."""
    names = set(KEY_ENV_VARS) | {name for name in os.environ if name.endswith("_API_KEY")}
    return {name: value for name in sorted(names)
            if len(value := os.environ.get(name, "").strip()) >= _MIN_ENV_SECRET}


def redact(text: str, replacement: str = "***") -> str:
    """``text`` without any key from the environment and anything shaped like a key."""
    for value in env_secrets().values():
        text = text.replace(value, replacement)
    text = redact_key_shapes(text, replacement)
    for pattern in _URL_SECRET_PATTERNS:
        text = pattern.sub(lambda match: "=" + replacement if match.group(0).startswith("=") else replacement, text)
    return text


def redact_key_shapes(text: str, replacement: str = "***") -> str:
    """``text`` with everything shaped like a key (``KEY_PATTERNS``) replaced, whoever's key it is."""
    for pattern in KEY_PATTERNS.values():
        text = pattern.sub(lambda match: _keep_prefix(match.group(0), replacement), text)
    return text


def redact_bytes(raw: bytes, replacement: str = "***") -> bytes:
    """``redact`` for a body that need not be UTF-8: keys are found as ASCII bytes in any encoding
    that keeps ASCII (UTF-8, Latin-1, binary with text inside), and in UTF-16 text that starts with
    its byte-order mark."""
    for value in env_secrets().values():
        raw = raw.replace(value.encode("utf-8"), replacement.encode("utf-8"))
    for pattern in KEY_BYTE_PATTERNS.values():
        raw = pattern.sub(lambda match: _keep_prefix(match.group(0).decode("latin-1"), replacement).encode(), raw)
    return _redact_utf16(raw, replacement)


def find_key_shapes(raw: bytes) -> list[tuple[str, str]]:
    """``(kind, value)`` for every key-shaped string in ``raw`` (ASCII bytes, or UTF-16 text with a BOM)."""
    found = [(kind, match.group(0).decode("latin-1"))
             for kind, pattern in KEY_BYTE_PATTERNS.items() for match in pattern.finditer(raw)]
    text = _utf16_text(raw)
    if text is not None:
        found += [(kind, match.group(0)) for kind, pattern in KEY_PATTERNS.items() for match in pattern.finditer(text)]
    return found


def _utf16_text(raw: bytes) -> str | None:
    if not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or len(raw) % 2:
        return None
    try:
        return raw.decode("utf-16")
    except UnicodeDecodeError:
        return None


def _redact_utf16(raw: bytes, replacement: str) -> bytes:
    text = _utf16_text(raw)
    if text is None:
        return raw
    redacted = redact(text, replacement)
    if redacted == text:
        return raw
    encoding = "utf-16-le" if raw.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
    return raw[:2] + redacted.encode(encoding)


def _keep_prefix(found: str, replacement: str) -> str:
    # keep what says where the key was ("Bearer ", "key=", "api-key: ") so the message still reads
    for prefix in _KEPT_PREFIXES:
        if found.startswith(prefix):
            return prefix + replacement
    header = _API_KEY_HEADER.match(found)
    return header.group(0) + replacement if header else replacement
