"""Ready-made SDK clients wired to an emulator through the in-process transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .transport import AsyncEmulatorTransport, EmulatorTransport

if TYPE_CHECKING:
    from .core import Emulator

#: keys the emulator accepts; they look nothing like real keys, so no scanner flags them.
FAKE_KEYS = {"openai": "sim-openai-key", "anthropic": "sim-anthropic-key", "google": "sim-google-key"}


def openai_client(emulator: Emulator, *, async_client: bool = False, **kwargs: Any) -> Any:
    import httpx2
    import openai

    kwargs.setdefault("api_key", FAKE_KEYS["openai"])
    kwargs.setdefault("base_url", "https://api.openai.com/v1")
    if async_client:
        return openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=AsyncEmulatorTransport(emulator)), **kwargs)
    return openai.OpenAI(http_client=httpx2.Client(transport=EmulatorTransport(emulator)), **kwargs)


def anthropic_client(emulator: Emulator, *, async_client: bool = False, **kwargs: Any) -> Any:
    import anthropic
    import httpx2

    kwargs.setdefault("api_key", FAKE_KEYS["anthropic"])
    kwargs.setdefault("base_url", "https://api.anthropic.com")
    if async_client:
        return anthropic.AsyncAnthropic(http_client=httpx2.AsyncClient(transport=AsyncEmulatorTransport(emulator)),
                                        **kwargs)
    return anthropic.Anthropic(http_client=httpx2.Client(transport=EmulatorTransport(emulator)), **kwargs)


def google_client(emulator: Emulator, *, http_options: Any = None, **kwargs: Any) -> Any:
    """A google-genai Client; ``client.aio`` goes through the async transport too (always inject
    an async client, or google-genai uses aiohttp when it is installed: wire-formats.md 0.1).

    ``http_options`` (a dict or ``HttpOptions``) is kept, e.g. ``{"api_version": "v1beta"}``;
    only the HTTP clients are the emulator's, and the base URL defaults to Google's.
    """
    import httpx2
    from google import genai
    from google.genai import types

    kwargs.setdefault("api_key", FAKE_KEYS["google"])
    options = types.HttpOptions.model_validate(http_options or {})
    options = options.model_copy(update={
        "base_url": options.base_url or "https://generativelanguage.googleapis.com/",
        "httpx_client": httpx2.Client(transport=EmulatorTransport(emulator)),
        "httpx_async_client": httpx2.AsyncClient(transport=AsyncEmulatorTransport(emulator)),
    })
    return genai.Client(http_options=options, **kwargs)
