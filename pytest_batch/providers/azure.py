"""Azure OpenAI: the OpenAI Files + Batch API on the user's own resource (docs/azure-batch.md).

Everything the OpenAI provider does applies (request lines, result files, statuses), with
what Azure changes:

- ``azure/<name>`` names a *deployment*, and a batch runs only on a ``Global-Batch`` (or
  ``Data Zone Batch``) deployment; each request line's ``model`` is that deployment's name,
  the same on every line ("Getting started with Azure OpenAI batch deployments",
  learn.microsoft.com/azure/ai-foundry/openai/how-to/batch).
- Two ways in. The classic API: ``openai.AzureOpenAI`` sends ``{endpoint}/openai/files`` and
  ``/openai/batches`` with ``?api-version=`` and an ``api-key`` header (or an Entra ID bearer
  token); request lines say ``"url": "/chat/completions"``. The v1 API (GA since August 2025):
  the plain ``openai.OpenAI`` client at ``{endpoint}/openai/v1/``, key as a bearer token, no
  api-version ("Azure OpenAI API version lifecycle", learn.microsoft.com/azure/ai-foundry/openai/
  api-version-lifecycle). An endpoint ending in ``/openai/v1`` selects the v1 API.
- Up to 100,000 requests and 200 MB per file (Azure's "Batch limits").
- A prompt the content filter blocks comes back as an HTTP 400 row whose error code is
  ``content_filter``: a refusal, like an answer withheld with ``finish_reason: content_filter``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from ..endpoints import API_KEY_ENV, AZURE_API_VERSION, AZURE_VERSION_ENV, BASE_URL_ENV
from ..errors import ConfigurationError, MissingAPIKeyError
from ..models import BatchError, BatchItem, ErrorKind
from . import Limits
from .openai import PRICES, OpenAIProvider, parse_row

#: the request-line urls (and batch endpoints) of Azure's classic API, as its batch guide writes them
CHAT = "/chat/completions"
RESPONSES = "/responses"
ENDPOINT_ENV = BASE_URL_ENV["azure"]
VERSION_ENV = AZURE_VERSION_ENV
#: the api-version used when OPENAI_API_VERSION is unset
DEFAULT_API_VERSION = AZURE_API_VERSION
_KEY_ENV, _TOKEN_ENV = API_KEY_ENV["azure"]


class AzureProvider(OpenAIProvider):
    name = "azure"
    label = "Azure OpenAI"
    env_keys = API_KEY_ENV["azure"]
    limits = Limits(max_requests=100_000, max_bytes=200 * 1024 * 1024)
    # Azure's global batch is half the global standard price, which follows OpenAI's list price;
    # a deployment named after its model finds it here (register_price("azure/<name>", ...) otherwise)
    prices = PRICES
    client_names = ("openai.AzureOpenAI", "openai.AsyncAzureOpenAI")
    # the v1 API's REST examples write the request lines' urls with /v1: both forms are accepted
    endpoints = (CHAT, RESPONSES, "/v1/chat/completions", "/v1/responses")

    def new_client(self, key: str | None, base_url: str | None, *, async_client: bool = False) -> Any:
        """An ``AzureOpenAI`` client for the resource at ``base_url`` (default: AZURE_OPENAI_ENDPOINT),
        or a plain ``OpenAI`` client when the endpoint is the v1 API's ``.../openai/v1``."""
        import openai

        endpoint = resource_endpoint(base_url or os.environ.get(ENDPOINT_ENV))
        if key is None:  # what the SDK would read: the Entra ID token wins over the key (lib/azure.py)
            key = os.environ.get(_TOKEN_ENV) or os.environ.get(_KEY_ENV)
        if is_v1(endpoint):
            return (openai.AsyncOpenAI if async_client else openai.OpenAI)(api_key=key, base_url=endpoint + "/")
        # a key that is the environment's Entra ID token goes in Authorization, not api-key
        is_token = key is not None and key == os.environ.get(_TOKEN_ENV) and key != os.environ.get(_KEY_ENV)
        credential = {"azure_ad_token": key} if is_token else {"api_key": key}
        cls = openai.AsyncAzureOpenAI if async_client else openai.AzureOpenAI
        return cls(azure_endpoint=endpoint, api_version=api_version(), **credential)

    def make_client(self, *, async_client: bool) -> Any:
        if not any(os.environ.get(name) for name in self.env_keys):
            raise MissingAPIKeyError(f"{_KEY_ENV} environment variable is not set (or {_TOKEN_ENV} for Microsoft "
                                     "Entra ID, or pass client= to BatchProcessor)")
        return self.new_client(None, None, async_client=async_client)

    def parse_row(self, row: dict[str, Any], response_model: type[BaseModel] | None, endpoint: str) -> BatchItem:
        response = row.get("response") or {}
        error = ((response.get("body") or {}).get("error") or {}) if isinstance(response, dict) else {}
        if error.get("code") == "content_filter":
            # the prompt tripped the content filter: the request ran and was refused
            # ("Content filtering", learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter)
            return BatchError(row["custom_id"], ErrorKind.REFUSAL,
                              f"the content filter blocked the prompt: {error.get('message') or 'content_filter'}",
                              response.get("status_code"), row)
        return parse_row(row, response_model, endpoint)


def resource_endpoint(value: str | None) -> str:
    """The resource endpoint without a trailing ``/`` or ``/openai`` (AzureOpenAI adds ``/openai``
    itself, so an endpoint that already ends in it would reach ``/openai/openai/...``); a clear
    error when none is configured."""
    endpoint = (value or "").strip().rstrip("/")
    if not endpoint:
        raise ConfigurationError(f"{ENDPOINT_ENV} environment variable is not set: set it to your Azure OpenAI "
                                 "resource's endpoint, e.g. https://my-resource.openai.azure.com (or pass client= "
                                 "to BatchProcessor)")
    if not urlsplit(endpoint).scheme:
        raise ConfigurationError(f"{ENDPOINT_ENV} must be a URL such as https://my-resource.openai.azure.com, got "
                                 f"{endpoint!r}")
    return endpoint.removesuffix("/openai")


def is_v1(endpoint: str) -> bool:
    """Whether ``endpoint`` is the v1 API's base URL (``https://<resource>.openai.azure.com/openai/v1``)."""
    return urlsplit(endpoint).path.rstrip("/").endswith("/openai/v1")


def api_version() -> str:
    return os.environ.get(VERSION_ENV) or DEFAULT_API_VERSION
