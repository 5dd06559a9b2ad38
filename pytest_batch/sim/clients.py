"""Ready-made SDK clients wired to an emulator through the in-process transport.

Each factory hands the SDK an HTTP client from the library that SDK is built on: httpx2 for
openai 3.x, anthropic >= 1.0 and google-genai 3.x, httpx for older releases (wire-formats.md
0.1, "Transports and interception": openai 3.x and anthropic >= 1.0 reject httpx objects).
"""

from __future__ import annotations

import importlib
import os
import types
from typing import Any

from ..endpoints import AZURE_API_VERSION, DEFAULT_HOSTS
from .http import RequestHandler
from .transport import AsyncEmulatorTransport, EmulatorTransport

#: keys the emulator accepts; they look nothing like real keys, so no scanner flags them.
FAKE_KEYS = {"openai": "sim-openai-key", "anthropic": "sim-anthropic-key", "google": "sim-google-key",
             "azure": "sim-azure-key"}
HTTP_MODULES = ("httpx2", "httpx")


def http_module_of(module_name: str) -> str:
    """"httpx2" or "httpx": the library the SDK module ``module_name`` (its base client, e.g.
    ``openai._base_client``) imports. openai and anthropic import exactly one of the two."""
    module = importlib.import_module(module_name)
    names = {value.__name__ for value in vars(module).values()
             if isinstance(value, types.ModuleType) and value.__name__ in HTTP_MODULES}
    for name in HTTP_MODULES:
        if name in names:
            return name
    raise RuntimeError(f"pytest-batch cannot tell whether {module_name} uses httpx2 or httpx (it imports "
                       "neither); build the client yourself with emulator.transport(module=...)")


def google_http_module() -> str:
    """The library google-genai sends through: 3.x chooses (GOOGLE_GENAI_HTTP_CLIENT, then httpx2
    if installed); 2.x and older only know httpx."""
    from google.genai import _api_client

    choose = getattr(_api_client, "_get_http_client_backend", None)
    return choose() if choose is not None else "httpx"


def _clients(emulator: RequestHandler, module_name: str, *, async_client: bool) -> Any:
    httpx_module = importlib.import_module(module_name)
    if async_client:
        return httpx_module.AsyncClient(transport=AsyncEmulatorTransport(emulator, module_name))
    return httpx_module.Client(transport=EmulatorTransport(emulator, module_name))


def openai_client(emulator: RequestHandler, *, async_client: bool = False, **kwargs: Any) -> Any:
    import openai

    kwargs.setdefault("api_key", FAKE_KEYS["openai"])
    kwargs.setdefault("base_url", "https://api.openai.com/v1")
    http_client = _clients(emulator, http_module_of("openai._base_client"), async_client=async_client)
    return (openai.AsyncOpenAI if async_client else openai.OpenAI)(http_client=http_client, **kwargs)


def anthropic_client(emulator: RequestHandler, *, async_client: bool = False, **kwargs: Any) -> Any:
    import anthropic

    kwargs.setdefault("api_key", FAKE_KEYS["anthropic"])
    kwargs.setdefault("base_url", "https://api.anthropic.com")
    http_client = _clients(emulator, http_module_of("anthropic._base_client"), async_client=async_client)
    return (anthropic.AsyncAnthropic if async_client else anthropic.Anthropic)(http_client=http_client, **kwargs)


def azure_client(emulator: RequestHandler, *, async_client: bool = False, v1: bool = False, **kwargs: Any) -> Any:
    """``openai.AzureOpenAI`` for the emulated resource ``https://pytest-batch.openai.azure.com``
    (``azure_endpoint=`` picks another, any ``*.openai.azure.com`` is served), api-version from
    OPENAI_API_VERSION as the SDK reads it, else 2024-10-21; ``v1=True``: the plain ``openai.OpenAI``
    client of the v1 API at ``<endpoint>/openai/v1/``. Other keyword arguments go to the client."""
    import openai

    http_client = _clients(emulator, http_module_of("openai._base_client"), async_client=async_client)
    endpoint = kwargs.pop("azure_endpoint", DEFAULT_HOSTS["azure"]).rstrip("/")
    if v1:
        kwargs.setdefault("api_key", FAKE_KEYS["azure"])
        kwargs.setdefault("base_url", f"{endpoint}/openai/v1/")
        return (openai.AsyncOpenAI if async_client else openai.OpenAI)(http_client=http_client, **kwargs)
    if not {"api_key", "azure_ad_token", "azure_ad_token_provider"} & set(kwargs):
        kwargs["api_key"] = FAKE_KEYS["azure"]
    kwargs.setdefault("api_version", os.environ.get("OPENAI_API_VERSION") or AZURE_API_VERSION)
    if "base_url" not in kwargs:
        kwargs["azure_endpoint"] = endpoint
    cls = openai.AsyncAzureOpenAI if async_client else openai.AzureOpenAI
    return cls(http_client=http_client, **kwargs)


def google_client(emulator: RequestHandler, *, http_options: Any = None, **kwargs: Any) -> Any:
    """A google-genai Client; ``client.aio`` goes through the async transport too (always inject
    an async client, or google-genai uses aiohttp when it is installed: wire-formats.md 0.1).

    ``http_options`` (a dict or ``HttpOptions``) is kept, e.g. ``{"api_version": "v1beta"}``;
    only the HTTP clients are the emulator's, and the base URL defaults to Google's.

    google-genai before 1.50 takes no HTTP client, only ``client_args``/``async_client_args``
    for the httpx clients it makes: the emulator's transports go in there. Releases before 1.25
    send ``client.aio`` through aiohttp whenever it is installed, whatever was passed: there,
    reach the emulator with ``intercept()`` or the server.
    """
    from google import genai
    from google.genai import types as genai_types

    kwargs.setdefault("api_key", FAKE_KEYS["google"])
    module_name = google_http_module()
    options = genai_types.HttpOptions.model_validate(http_options or {})
    update: dict[str, Any] = {"base_url": options.base_url or "https://generativelanguage.googleapis.com/"}
    if "httpx_client" in genai_types.HttpOptions.model_fields:
        update["httpx_client"] = _clients(emulator, module_name, async_client=False)
        update["httpx_async_client"] = _clients(emulator, module_name, async_client=True)
    else:
        update["client_args"] = {**(options.client_args or {}), "transport": EmulatorTransport(emulator, module_name)}
        update["async_client_args"] = {**(options.async_client_args or {}),
                                       "transport": AsyncEmulatorTransport(emulator, module_name)}
    return genai.Client(http_options=options.model_copy(update=update), **kwargs)
