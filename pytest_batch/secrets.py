"""What an API key looks like, and how to keep one out of text: cassettes, errors, output."""

from __future__ import annotations

import os
import re

#: the variables the SDKs read their keys from (E: "Auth headers and secrets to scrub").
KEY_ENV_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY", "GEMINI_API_KEY")

#: what a real key looks like; REDACTED placeholders never match.
KEY_PATTERNS: dict[str, re.Pattern[str]] = {
    "Anthropic API key (sk-ant-…)": re.compile(r"(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}"),
    "OpenAI API key (sk-…)": re.compile(r"(?<![A-Za-z0-9_-])sk-(?!ant-)[A-Za-z0-9_-]{20,}"),
    "Google API key (AIza…)": re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{30,}"),
    "Bearer token": re.compile(r"Bearer\s+(?!REDACTED)[A-Za-z0-9._~+/=-]{16,}"),
    "key= query parameter": re.compile(r"[?&](?:api_)?key=(?!REDACTED)[^&\s\"'#<>]{8,}"),
}
_MIN_ENV_SECRET = 8


def env_secrets() -> dict[str, str]:
    """The provider key values in the environment (long enough to be real), by variable name."""
    names = set(KEY_ENV_VARS) | {name for name in os.environ if name.endswith("_API_KEY")}
    return {name: value for name in sorted(names)
            if len(value := os.environ.get(name, "").strip()) >= _MIN_ENV_SECRET}


def redact(text: str, replacement: str = "***") -> str:
    """``text`` without any key from the environment and anything shaped like a key."""
    for value in env_secrets().values():
        text = text.replace(value, replacement)
    for pattern in KEY_PATTERNS.values():
        text = pattern.sub(lambda match: _keep_prefix(match.group(0), replacement), text)
    return text


def _keep_prefix(found: str, replacement: str) -> str:
    # keep what says where the key was ("Bearer ", "?key=") so the message still reads
    for prefix in ("Bearer ", "?key=", "&key=", "?api_key=", "&api_key="):
        if found.startswith(prefix):
            return prefix + replacement
    return replacement
