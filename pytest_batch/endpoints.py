"""Where each provider's API lives and which environment variables its SDK reads.

Names only: no SDK import, so every layer (emulator, cassettes, plugin, CLI) can share them
at no cost. Hosts and variables: ../shared/docs/wire-formats.md 0.1, "Base URL overrides".
"""

from __future__ import annotations

PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google")

#: the environment variable(s) each SDK reads its key from; the first is named in messages.
API_KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
}

#: the environment variable each SDK reads its base URL from.
BASE_URL_ENV: dict[str, str] = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "google": "GOOGLE_GEMINI_BASE_URL",
}

#: scheme and host of each live service.
DEFAULT_HOSTS: dict[str, str] = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com",
}

#: the hosts the SDKs call by default, and whose API each is.
PROVIDER_HOSTS: dict[str, str] = {url.removeprefix("https://"): name for name, url in DEFAULT_HOSTS.items()}

#: the hosts a base URL counts as "this machine" on (an emulator server, never the live API).
LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")

#: the addresses a blocked test may always connect to: this machine (an emulator server on it)
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
