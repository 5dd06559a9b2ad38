"""Where each provider's API lives and which environment variables its SDK reads.

Names only: no SDK import, so every layer (emulator, cassettes, plugin, CLI) can share them
at no cost. Hosts and variables: ../shared/docs/wire-formats.md 0.1, "Base URL overrides";
Azure OpenAI: docs/azure-batch.md.
"""

from __future__ import annotations

#: every provider pytest-batch speaks, in the order tables list them.
PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google", "azure")

#: what ``--batch-provider=all`` (the plugin's default) runs: the public APIs. Azure OpenAI runs
#: only when named (``--batch-provider=azure`` or ``all,azure``): it needs the user's own resource
#: to record or run live, and has no cassettes until they record some.
DEFAULT_PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google")

#: the environment variable(s) each SDK reads its key from; the first is named in messages.
API_KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    # openai.AzureOpenAI reads both; with both set the SDK prefers the Entra ID token (lib/azure.py)
    "azure": ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN"),
}

#: the environment variable each SDK reads its base URL from (Azure: the resource's endpoint).
BASE_URL_ENV: dict[str, str] = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "google": "GOOGLE_GEMINI_BASE_URL",
    "azure": "AZURE_OPENAI_ENDPOINT",
}

#: the api-version an Azure client uses when OPENAI_API_VERSION is unset: the latest GA release,
#: which has the Batch API (the batch guide's "API support" table; docs/azure-batch.md)
AZURE_API_VERSION = "2024-10-21"
#: the variable openai.AzureOpenAI reads its api-version from
AZURE_VERSION_ENV = "OPENAI_API_VERSION"

#: providers with no public host: their BASE_URL_ENV must name the user's own endpoint before
#: anything reaches the live service.
NEEDS_BASE_URL: frozenset[str] = frozenset({"azure"})

#: scheme and host of each live service. Azure OpenAI lives on each user's own resource
#: (``https://<resource>.openai.azure.com``); this stand-in resource is what the in-process
#: emulator answers on and what cassettes store every Azure host as.
DEFAULT_HOSTS: dict[str, str] = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com",
    "azure": "https://pytest-batch.openai.azure.com",
}

#: the base URL each SDK calls when none is configured. Azure has none (the user's resource
#: endpoint is always configured): its entry is the stand-in resource, which replay uses because
#: cassettes store every Azure host as it; ``NEEDS_BASE_URL`` says not to call it live.
SDK_BASE_URLS: dict[str, str] = {
    "openai": DEFAULT_HOSTS["openai"] + "/v1",
    "anthropic": DEFAULT_HOSTS["anthropic"],
    "google": DEFAULT_HOSTS["google"],
    "azure": DEFAULT_HOSTS["azure"],
}

#: the hosts the SDKs call by default, and whose API each is.
PROVIDER_HOSTS: dict[str, str] = {url.removeprefix("https://"): name for name, url in DEFAULT_HOSTS.items()}

#: the domains of Azure OpenAI resources: ``<resource>.openai.azure.com``, and the endpoints
#: Azure AI services and AI Foundry resources give the same API (docs/azure-batch.md).
AZURE_HOST_SUFFIXES: tuple[str, ...] = (".openai.azure.com", ".cognitiveservices.azure.com",
                                        ".services.ai.azure.com")

#: the hosts a base URL counts as "this machine" on (an emulator server, never the live API).
LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")

#: the addresses a blocked test may always connect to: this machine (an emulator server on it)
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def provider_of_host(host: str | None) -> str | None:
    """The provider whose live API ``host`` is (any Azure resource counts as "azure"), else None."""
    if not host:
        return None
    host = host.lower()
    provider = PROVIDER_HOSTS.get(host)
    if provider is None and host.endswith(AZURE_HOST_SUFFIXES):
        provider = "azure"
    return provider
