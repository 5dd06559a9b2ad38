"""Access path 2: send every SDK client made inside a ``with`` block to the emulator.

The SDKs' default transports (httpx2.HTTPTransport, and httpx.HTTPTransport for older
SDKs) are patched, the same seam vcrpy uses, so clients constructed by third-party code
from environment variables are caught too. Requests for a provider host go to the
emulator; every other outbound connection fails with a message naming the host. aiohttp
requests that ``httpx_only`` cannot move to httpx (google-genai 1.22-1.24, the httpx-aiohttp
package, any library on aiohttp) reach the emulator served on loopback (``_aiohttp_to_emulator``).

Three more pieces serve the pytest plugin in every mode, so that the same transport seam
answers whatever the mode says (the emulator here, vcrpy's cassette in replay and record):

- ``httpx_only()``: clients on aiohttp transports are brought back onto httpx2's default
  transport (google-genai's ``client.aio``, the openai and anthropic SDKs'
  ``DefaultAioHttpClient``); only then can either patch see them.
- ``placeholder_environment()``: placeholder API keys and no base-URL override, so a client
  built from the environment needs no real key and talks to the default host.
- ``block_network()``: every other connection fails at the socket, naming the host.

Why transport patching rather than respx (which the architecture names): vcrpy already
patches exactly these class methods for cassettes, so patching them for the emulator too
means one seam for all modes, in the order vcrpy expects (it captures the real methods at
import); respx would add a second layer under httpcore2 that must be ordered against vcrpy's,
and reaches aiohttp no better. (For a suite's own respx router, see ``pytest_batch.sim.respx``.)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import socket
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from unittest import mock

from ..endpoints import (
    API_KEY_ENV,
    AZURE_API_VERSION,
    AZURE_VERSION_ENV,
    BASE_URL_ENV,
    DEFAULT_HOSTS,
    LOOPBACK_HOSTS,
    NEEDS_BASE_URL,
    PROVIDERS,
    provider_of_host,
)

if TYPE_CHECKING:
    from .core import Emulator

LOOPBACK = LOOPBACK_HOSTS

#: environment variables that send an SDK client somewhere else than the provider's default
#: host, or make it use another credential: cleared while placeholder keys are in force.
#: (GOOGLE_GENAI_USE_VERTEXAI switches google-genai to Vertex AI, which the emulator does not serve;
#: ANTHROPIC_AUTH_TOKEN is sent beside the key by the anthropic SDK.)
REDIRECTING_ENV = (*BASE_URL_ENV.values(), "GOOGLE_VERTEX_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI",
                   "ANTHROPIC_AUTH_TOKEN")


class NetworkBlocked(ConnectionError):
    """A real connection was attempted where pytest-batch forbids the network."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # aiohttp shows an OSError's strerror, not its message ("Cannot connect to host h:443
        # ssl:default [<strerror>]"); without it the explanation would read [None]
        self.strerror = message


#: what a blocked connection's message suggests, unless the caller knows better
OFFLINE_HINT = "Tests run offline: use --batch-mode=simulate, replay a cassette, or record with --batch-mode=record."


def blocked_message(host: str, why: str, hint: str = OFFLINE_HINT) -> str:
    return f"pytest-batch blocked a real connection to {host!r} ({why}). {hint}"


# ---------------------------------------------------------------------- the environment
@contextlib.contextmanager
def environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set (a string) or remove (None) environment variables while inside; restore them after."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def placeholder_keys(providers: Any = None) -> dict[str, str | None]:
    """The environment changes giving ``providers`` (default: all) a placeholder API key: the
    first variable its SDK reads gets the key, the others are removed (google-genai warns when
    GOOGLE_API_KEY and GEMINI_API_KEY are both set)."""
    from .clients import FAKE_KEYS

    changes: dict[str, str | None] = {}
    for provider in providers or API_KEY_ENV:
        first, *others = API_KEY_ENV[provider]
        changes[first] = FAKE_KEYS[provider]
        changes.update(dict.fromkeys(others))
    return changes


def placeholder_environment(*, keep_base_urls: bool = False) -> contextlib.AbstractContextManager[None]:
    """Every provider's API key replaced by a placeholder and (unless ``keep_base_urls``) no base URL
    override: a client an SDK builds from the environment needs no key and talks to the provider's
    default host, where the emulator answers. Restored on the way out. (Replay keeps the base URLs:
    a cassette matches a loopback server's URLs under the default hosts, and a gateway's as recorded.)"""
    changes = {**placeholder_keys(), **({} if keep_base_urls else dict.fromkeys(REDIRECTING_ENV))}
    for provider in NEEDS_BASE_URL:
        # no public host to fall back on: openai.AzureOpenAI() needs an endpoint and an api-version.
        # The stand-in resource, where the emulator answers (in replay a resource already set is
        # kept: cassettes match any Azure resource as the stand-in)
        if not (keep_base_urls and os.environ.get(BASE_URL_ENV[provider])):
            changes[BASE_URL_ENV[provider]] = DEFAULT_HOSTS[provider]
    if not os.environ.get(AZURE_VERSION_ENV):
        changes[AZURE_VERSION_ENV] = AZURE_API_VERSION
    return environment(changes)


# ---------------------------------------------------------------------- transports
def _transport_patches(module_name: str, emulator: Emulator) -> list[Any]:
    """Route the default transports' requests for a provider host to ``emulator``."""
    try:
        httpx_module = importlib.import_module(module_name)
    except ImportError:
        return []
    from .transport import transport_classes

    sync_cls, async_cls = transport_classes(module_name)
    real_sync = httpx_module.HTTPTransport.handle_request
    real_async = httpx_module.AsyncHTTPTransport.handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        if provider_of_host(request.url.host) is not None:
            return sync_cls(emulator).handle_request(request)
        return real_sync(self, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        if provider_of_host(request.url.host) is not None:
            return await async_cls(emulator).handle_async_request(request)
        return await real_async(self, request)

    return [mock.patch.object(httpx_module.HTTPTransport, "handle_request", handle_request),
            mock.patch.object(httpx_module.AsyncHTTPTransport, "handle_async_request", handle_async_request)]


def _google_genai_patches(importing: bool) -> list[Any]:
    """Keep google-genai's async calls on httpx2/httpx, where the transport patches see them.

    google-genai sends ``client.aio`` calls through aiohttp whenever aiohttp is installed and no
    async httpx client or transport was injected (``BaseApiClient._use_aiohttp``, wire-formats.md
    0.1). Patched when google-genai is imported already, or when ``importing`` and aiohttp is
    installed (without aiohttp, google-genai never uses it).
    """
    loaded = "google.genai._api_client" in sys.modules
    if not loaded and not (importing and _installed("aiohttp") and _installed("google.genai")):
        return []
    from google.genai import _api_client

    if not hasattr(_api_client.BaseApiClient, "_use_aiohttp"):  # older releases: httpx only
        return []
    return [mock.patch.object(_api_client.BaseApiClient, "_use_aiohttp", lambda self: False)]


#: the aiohttp transports of the SDKs' ``DefaultAioHttpClient`` (openai >= 3, anthropic >= 2 vendor
#: httpx-aiohttp for httpx2): the transport module, and the httpx library its requests belong to.
AIOHTTP_TRANSPORTS = {"openai": ("openai._vendor.httpx_aiohttp.transport", "httpx2"),
                      "anthropic": ("anthropic._vendor.httpx_aiohttp.transport", "httpx2")}
_DELEGATE = "_pytest_batch_httpx_transport"


def _aiohttp_transport_patches(importing: tuple[str, ...]) -> list[Any]:
    """Send the requests of the SDKs' aiohttp transports through an httpx2 default transport.

    ``DefaultAioHttpClient`` (``pip install openai[aiohttp]``) is an httpx2 AsyncClient whose
    transport is aiohttp's: its requests never reach ``httpx2.AsyncHTTPTransport``, so neither
    the emulator nor vcrpy would see them. Handing each request to an ``AsyncHTTPTransport``
    (one per aiohttp transport, closed with it) puts them back on the seam every mode uses.
    Needs aiohttp installed; an SDK is patched when it is imported already or named in
    ``importing``.
    """
    if not _installed("aiohttp"):
        return []
    patches: list[Any] = []
    for sdk, (module_name, httpx_name) in AIOHTTP_TRANSPORTS.items():
        if sdk not in sys.modules and not (sdk in importing and _installed(sdk)):
            continue
        try:
            transport_cls = importlib.import_module(module_name).AiohttpTransport
        except (ImportError, AttributeError):
            continue
        httpx_module = importlib.import_module(httpx_name)
        real_aclose = transport_cls.aclose

        async def handle_async_request(self: Any, request: Any, _httpx: Any = httpx_module) -> Any:
            delegate = self.__dict__.get(_DELEGATE)
            if delegate is None:
                delegate = self.__dict__[_DELEGATE] = _httpx.AsyncHTTPTransport()
            return await delegate.handle_async_request(request)

        async def aclose(self: Any, _real: Any = real_aclose) -> None:
            delegate = self.__dict__.pop(_DELEGATE, None)
            if delegate is not None:
                await delegate.aclose()
            await _real(self)

        patches += [mock.patch.object(transport_cls, "handle_async_request", handle_async_request),
                    mock.patch.object(transport_cls, "aclose", aclose)]
    return patches


def _installed(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


@contextlib.contextmanager
def httpx_only(providers: Iterable[str] = PROVIDERS) -> Iterator[None]:
    """While inside, SDK clients that would send through aiohttp send through httpx2's default
    transport instead (google-genai's ``client.aio``, openai's and anthropic's
    ``DefaultAioHttpClient``), where the emulator's patch and vcrpy's cassettes see them.

    Every SDK imported already is covered; of the others, those of ``providers`` are imported
    to be patched when aiohttp is installed (an SDK costs up to a second or two to import)."""
    importing = tuple(providers)
    if "azure" in importing:  # Azure OpenAI's clients are the openai SDK's
        importing += ("openai",)
    with _patched([*_google_genai_patches("google" in importing), *_aiohttp_transport_patches(importing)]):
        yield


@contextlib.contextmanager
def _aiohttp_to_emulator(emulator: Emulator) -> Iterator[None]:
    """Serve the aiohttp requests for a provider host that ``httpx_only`` cannot move to httpx:
    google-genai 1.22-1.24 (``client.aio`` on aiohttp whenever it is installed, with no switch),
    the httpx-aiohttp package older SDKs' ``DefaultAioHttpClient`` uses, and any other library
    built on aiohttp.

    aiohttp has no transport to swap in (httpx's seam), so the emulator is served on loopback and
    ``ClientSession._request`` sends a provider-host URL there, with the provider's host in the
    Host header, which the server routes on as the in-process transport does: aiohttp itself
    still encodes every request and parses every response. The server starts with the first such
    request and stops when ``intercept`` ends. Absolute URLs the emulator hands back (Anthropic's
    results_url, Gemini's upload URL) carry the provider's host with ``http://``.
    """
    if importlib.util.find_spec("aiohttp") is None:
        yield
        return
    import threading

    import aiohttp
    from multidict import CIMultiDict
    from yarl import URL

    real_request = aiohttp.ClientSession._request
    servers: list[Any] = []
    starting = threading.Lock()

    def served_at() -> tuple[str, int]:
        with starting:
            if not servers:
                from .server import start_server

                servers.append(start_server(emulator))
            return servers[0].server.server_address[:2]

    async def _request(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        if not isinstance(str_or_url, str | URL):  # aiohttp says what is wrong with it
            return await real_request(self, method, str_or_url, **kwargs)
        url = URL(str_or_url)
        if not url.absolute and getattr(self, "_base_url", None) is not None:
            url = self._base_url.join(url)
        if provider_of_host(url.host) is None:
            return await real_request(self, method, str_or_url, **kwargs)
        host, port = served_at()
        headers = CIMultiDict(kwargs.get("headers") or {})
        headers["Host"] = url.host
        kwargs.update(headers=headers, proxy=None)
        kwargs.pop("server_hostname", None)
        local = URL.build(scheme="http", host=host, port=port, path=url.raw_path,
                          query_string=url.raw_query_string, encoded=True)
        return await real_request(self, method, local, **kwargs)

    try:
        with mock.patch.object(aiohttp.ClientSession, "_request", _request):
            yield
    finally:
        for server in servers:
            server.stop()


# ---------------------------------------------------------------------- the network
def _socket_patches(allow_hosts: tuple[str, ...], why: str, hint: str = OFFLINE_HINT) -> list[Any]:
    """Refuse name lookups and every way out of a socket for every host but ``allow_hosts``:
    ``connect``, ``connect_ex``, ``sendto`` and ``sendmsg`` (UDP needs no connect), on
    ``socket.socket`` and on sockets made from the C-level ``_socket.socket`` type, as
    pytest-socket does.

    At the socket, not the transport: every HTTP library is covered (httpx2, httpx, aiohttp,
    raw sockets), httpcore turns the error into a ConnectError that keeps the message, and
    vcrpy (which patches the transports) keeps seeing the real ones.
    """
    import _socket

    allowed = frozenset(allow_hosts)

    def check(host: Any) -> None:
        host = host.decode() if isinstance(host, bytes) else str(host)
        if host not in allowed:
            raise NetworkBlocked(blocked_message(host, why, hint))

    def check_address(sock: Any, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
            check(address[0])

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            check(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded(cls: type) -> dict[str, Any]:
        """Replacements for ``cls``'s methods that name a peer: each checks it, then calls the real one."""
        real_connect, real_connect_ex = cls.connect, cls.connect_ex
        real_sendto, real_sendmsg = cls.sendto, cls.sendmsg

        def connect(self: Any, address: Any) -> Any:
            check_address(self, address)
            return real_connect(self, address)

        def connect_ex(self: Any, address: Any) -> Any:
            check_address(self, address)
            return real_connect_ex(self, address)

        def sendto(self: Any, data: Any, *flags_and_address: Any) -> Any:
            check_address(self, flags_and_address[-1] if flags_and_address else None)
            return real_sendto(self, data, *flags_and_address)

        def sendmsg(self: Any, buffers: Any, *rest: Any) -> Any:
            check_address(self, rest[2] if len(rest) > 2 else None)  # (ancdata, flags, address)
            return real_sendmsg(self, buffers, *rest)

        return {"connect": connect, "connect_ex": connect_ex, "sendto": sendto, "sendmsg": sendmsg}

    # _socket.socket is a C type whose methods cannot be replaced: a subclass stands in for it, so a
    # socket made from ``_socket.socket(...)`` while the block is on is guarded too
    raw_socket = type("GuardedRawSocket", (_socket.socket,), guarded(_socket.socket))
    patches = [mock.patch.object(socket, "getaddrinfo", getaddrinfo),
               mock.patch.object(_socket, "socket", raw_socket)]
    patches += [mock.patch.object(socket.socket, name, method) for name, method in guarded(socket.socket).items()]
    return patches


@contextlib.contextmanager
def block_network(allow_hosts: tuple[str, ...] = LOOPBACK, *, why: str = "network access is off",
                  hint: str = OFFLINE_HINT) -> Iterator[None]:
    """Fail every outbound connection except to ``allow_hosts``, naming the host."""
    with _patched(_socket_patches(allow_hosts, why, hint)):
        yield


@contextlib.contextmanager
def intercept(emulator: Emulator, allow_hosts: tuple[str, ...] = LOOPBACK, *,
              why: str = "only the pytest-batch emulator is reachable here", hint: str = OFFLINE_HINT,
              fake_keys: bool = True, providers: Iterable[str] = PROVIDERS) -> Iterator[Emulator]:
    """Route every httpx2/httpx/aiohttp request for api.openai.com, api.anthropic.com,
    generativelanguage.googleapis.com and any Azure OpenAI resource to ``emulator`` (clients on
    aiohttp transports included: ``httpx_only`` moves the SDKs' to httpx2,
    ``_aiohttp_to_emulator`` serves the rest); block every other host, saying ``why`` and ``hint``.

    With ``fake_keys`` (the default) every provider's API key is a placeholder and no
    base URL is overridden while inside: ``openai.OpenAI()``, ``anthropic.Anthropic()`` and
    ``genai.Client()`` work without a key and reach the emulator; the variables are restored
    after. ``providers``: the SDKs to import for ``httpx_only`` when aiohttp is installed.
    """
    patches = [*_transport_patches("httpx2", emulator), *_transport_patches("httpx", emulator),
               *_socket_patches(allow_hosts, why, hint)]
    with contextlib.ExitStack() as stack:
        if fake_keys:
            stack.enter_context(placeholder_environment())
        stack.enter_context(httpx_only(providers))
        stack.enter_context(_aiohttp_to_emulator(emulator))
        stack.enter_context(_patched(patches))
        yield emulator


@contextlib.contextmanager
def _patched(patches: list[Any]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield
