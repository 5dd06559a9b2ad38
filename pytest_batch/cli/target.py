"""Where the CLI sends requests: the live API, a server at ``--base-url``, or a simulated
emulator whose state persists between invocations in a state directory.

Every function here is shared by ``pytest_batch.cli`` and ``examples/run_batch_test.py``;
SDKs and the emulator are imported lazily so ``pytest-batch --help`` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..endpoints import API_KEY_ENV, BASE_URL_ENV, NEEDS_BASE_URL, PROVIDERS, SDK_BASE_URLS, provider_of_host
from ..model_catalog import CATALOG, DEFAULT_MODELS


#: what each provider's base URL looks like on ``pytest-batch serve`` (below its root URL; Azure's
#: is the emulated resource's endpoint, its v1 API at AZURE_V1_SUFFIX).
SERVER_SUFFIXES = {"openai": "/openai/v1", "anthropic": "/anthropic", "google": "/google", "azure": "/azure"}
AZURE_V1_SUFFIX = "/azure/openai/v1"

DEFAULT_STATE_DIR = ".pytest-batch"
STATE_FILE = "emulator.pickle"

_TRUE = ("1", "true", "yes", "on")



class CLIError(Exception):
    """A failure the CLI reports as one line (``❌ ...``) and a non-zero exit code."""

    def __init__(self, message: str, *, prefix: str = "❌ Error: ", code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.prefix = prefix
        self.code = code

    def line(self) -> str:
        return f"{self.prefix}{self.message}"


# --------------------------------------------------------------------------- models
#: the characters the providers' model names are made of: OpenAI's "gpt-4o-2024-08-06" and
#: fine-tunes "ft:gpt-4o-mini:org:name:id", Anthropic's "claude-3-5-sonnet-20241022" (and
#: "claude-sonnet-4-5@20250929" on Vertex), Google's "gemini-2.0-flash-001" and
#: "tunedModels/name". Anything else (a space, a quote, a bracket, a non-ASCII look-alike) is a typo.
MODEL_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:@/")


def parse_model(model: str | None, source: str | None = None) -> tuple[str, str]:
    """``"openai/gpt-4o-mini"`` -> ``("openai", "gpt-4o-mini")``, with the seed's error messages.

    A bad ``--model`` is bad usage (exit 2); with ``source`` (where a configured model came
    from) the message names it and the exit code is 1. Every message is one line: user text
    that could break it (a newline, a control character) is quoted with ``repr``."""
    code = 1 if source else 2
    if not model:
        raise CLIError("--model is required, in format 'provider/model-name' (see `pytest-batch list-models`)",
                       code=code)
    where = f"{source}: {model!r}: " if source else ""
    provider, slash, name = model.partition("/")
    if not slash or not provider or not name:
        # the seed README's line, then an example and where to find more
        raise CLIError(f"{where}Model must be in format 'provider/model-name' (e.g. {DEFAULT_MODELS['openai']}; "
                       "see `pytest-batch list-models`)", code=code)
    if provider not in PROVIDERS:
        shown = provider if provider.isascii() and provider.isprintable() and " " not in provider else repr(provider)
        if source:
            raise CLIError(f"{where}Unsupported provider: {shown} (use {', '.join(PROVIDERS)})", code=code)
        # the seed README's line, then what to use instead
        raise CLIError(f"Unsupported provider: {shown}. Supported providers: {', '.join(PROVIDERS)}", prefix="❌ ",
                       code=code)
    problem = _model_name_problem(name)
    if problem is not None:
        what = where or f"--model {model!r}: "
        raise CLIError(f"{what}the model name {name!r} {problem}; model names use only letters, digits and "
                       f"- . _ : @ / (see `pytest-batch list-models`)", code=code)
    return provider, name


def _model_name_problem(name: str) -> str | None:
    """What makes ``name`` no provider's model name (None: nothing)."""
    for char in name:
        if char in MODEL_NAME_CHARACTERS:
            continue
        if char.isspace():
            return "contains whitespace"
        if not char.isascii():
            return f"contains the non-ASCII character {char!r} (U+{ord(char):04X})"
        return f"contains {char!r}"
    if name.startswith("/") or name.endswith("/"):
        return "starts or ends with '/'"
    if "//" in name:
        return "has an empty part between slashes"
    return None


def configured_models(cwd: Path | None = None) -> list[str]:
    """Extra models from ``PYTEST_BATCH_MODELS`` (comma or whitespace separated) and from
    ``[tool.pytest-batch] models = [...]`` in ``./pyproject.toml``."""
    from_env = os.environ.get("PYTEST_BATCH_MODELS", "").replace(",", " ").split()
    for entry in from_env:
        parse_model(entry, "PYTEST_BATCH_MODELS")
    extra = list(from_env)
    pyproject = (cwd or Path.cwd()) / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CLIError(f"{pyproject}: cannot read [tool.pytest-batch] models ({exc})") from None
        models = data.get("tool", {}).get("pytest-batch", {}).get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise CLIError(f"{pyproject}: [tool.pytest-batch] models must be a list of 'provider/model-name' strings")
        for entry in models:
            parse_model(entry, f"{pyproject} [tool.pytest-batch] models")
        extra.extend(models)
    return extra


def all_models() -> dict[str, list[str]]:
    """Every known model by provider: the catalog's first (model_catalog.CATALOG: current, legacy,
    deprecated, retired), configured ones after, no duplicates."""
    table = {provider: [f"{provider}/{entry.name}" for entry in entries] for provider, entries in CATALOG.items()}
    for model in configured_models():
        provider, _ = parse_model(model)
        if model not in table[provider]:
            table[provider].append(model)
    return table


# --------------------------------------------------------------------------- targets
@dataclass
class Target:
    """How to reach one provider: ``mode`` is "live", "server" (a base URL), "simulate", or
    "build" (nothing is sent: requests are only written to a file)."""

    provider: str
    mode: str
    base_url: str | None = None
    emulator: Any = None
    state_file: Path | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.mode == "simulate"

    def client(self) -> Any:
        """The SDK client to inject into the BatchProcessor (None: it builds one from the env)."""
        if self.provider in self._clients:
            return self._clients[self.provider]
        if self.mode == "simulate":
            made = getattr(self.emulator, f"{self.provider}_client")()
        elif self.mode == "build":
            return None
        elif self.mode == "server":
            made = sdk_client(self.provider, self.base_url, api_key(self.provider) or _placeholder_key(self.provider))
        else:
            made = None
        self._clients[self.provider] = made
        return made

    @property
    def url(self) -> str | None:
        """Where requests go (None when simulated in process)."""
        if self.mode == "simulate":
            return None
        if self.mode == "server":
            return self.base_url
        configured = os.environ.get(BASE_URL_ENV[self.provider])
        return configured or (None if self.provider in NEEDS_BASE_URL else SDK_BASE_URLS[self.provider])

    def describe(self) -> str:
        if self.mode == "simulate":
            return f"simulated ({self.state_file})"
        if self.mode == "server":
            return f"server {self.base_url}"
        env_url = os.environ.get(BASE_URL_ENV[self.provider])
        host = urlsplit(env_url).netloc if env_url else None
        if host and not _is_live_host(env_url):  # a key and a base URL: not the live API
            return f"{host} from {BASE_URL_ENV[self.provider]}"
        return "live API"


def api_key(provider: str) -> str | None:
    for var in API_KEY_ENV[provider]:
        value = os.environ.get(var)
        if value:
            return value
    return None


def _placeholder_key(provider: str) -> str:
    from ..sim.clients import FAKE_KEYS

    return FAKE_KEYS[provider]


def _is_live_host(url: str) -> bool:
    """Whether ``url`` is on a real service's host (a base URL there is used exactly as given)."""
    return provider_of_host(urlsplit(url).hostname) is not None


def simulate_requested(flag: bool | None) -> bool:
    return bool(flag) or os.environ.get("PYTEST_BATCH_SIMULATE", "").strip().lower() in _TRUE


def provider_base_url(provider: str, base_url: str) -> str:
    """The base URL for ``provider``: a ``pytest-batch serve`` root URL or any of its
    per-provider base URLs becomes this provider's (``<root>/openai/v1``, ``<root>/anthropic``,
    ``<root>/google``, ``<root>/azure``; Azure's v1 URL ``<root>/azure/openai/v1`` stays as given
    for azure); any other URL (a proxy, the real host) is used as given."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise CLIError(f"--base-url {base_url!r} is not a URL; expected e.g. http://127.0.0.1:8765 "
                       "(the root `pytest-batch serve` prints)", code=2)
    if _is_live_host(url) or (provider == "azure" and url.endswith(AZURE_V1_SUFFIX)):
        return url
    root = url
    for suffix in (AZURE_V1_SUFFIX, *SERVER_SUFFIXES.values()):
        if url.endswith(suffix):
            root = url[: -len(suffix)]
            break
    else:
        if parts.path not in ("", "/"):
            return url
    return root + SERVER_SUFFIXES[provider]


def sdk_client(provider: str, base_url: str | None, key: str) -> Any:
    """An official SDK client for ``provider`` at ``base_url`` (None: the SDK's default)."""
    from ..providers import provider_named

    return provider_named(provider).new_client(key, base_url)


def resolve_target(provider: str, *, simulate: bool | None = None, base_url: str | None = None,
                   state_dir: str | Path | None = None, need_key: bool = True) -> Target:
    """Decide where requests for ``provider`` go: ``--base-url``, then ``--simulate`` (or
    PYTEST_BATCH_SIMULATE=1), then the SDK's base-URL environment variable, then the live API,
    which needs the provider's key."""
    if simulate and base_url:
        raise CLIError("--simulate and --base-url exclude each other: --simulate runs the emulator "
                       "in process, --base-url sends requests to a server", code=2)
    if base_url:
        return Target(provider, "server", base_url=provider_base_url(provider, base_url))
    if simulate_requested(simulate):
        return Target(provider, "simulate", state_file=state_path(state_dir))
    env_url = os.environ.get(BASE_URL_ENV[provider])
    if env_url and not api_key(provider) and not _is_live_host(env_url):
        # the exports `pytest-batch serve` prints set base URLs but no keys
        return Target(provider, "server", base_url=provider_base_url(provider, env_url))
    if need_key and not api_key(provider):
        raise CLIError(f"{API_KEY_ENV[provider][0]} environment variable is not set "
                       "(or pass --simulate to use the local emulator, or --base-url for `pytest-batch serve`)")
    if need_key and provider in NEEDS_BASE_URL and not env_url:
        raise CLIError(f"{BASE_URL_ENV[provider]} environment variable is not set: set it to your Azure OpenAI "
                       "resource's endpoint, e.g. https://my-resource.openai.azure.com (or pass --simulate to use the "
                       "local emulator, or --base-url for `pytest-batch serve`)")
    return Target(provider, "live")


def state_path(state_dir: str | Path | None = None) -> Path:
    directory = Path(state_dir or os.environ.get("PYTEST_BATCH_STATE_DIR") or DEFAULT_STATE_DIR)
    return directory / STATE_FILE


# --------------------------------------------------------------------------- simulated state
