"""Access path 2: send every SDK client made inside a ``with`` block to the emulator.

The SDKs' default transports (httpx2.HTTPTransport, and httpx.HTTPTransport for older
SDKs) are patched, the same seam vcrpy uses, so clients constructed by third-party code
from environment variables are caught too. Requests for a provider host go to the
emulator; every other outbound connection fails with a message naming the host.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from unittest import mock

from .core import PROVIDER_HOSTS

if TYPE_CHECKING:
    from .core import Emulator

LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


class NetworkBlocked(ConnectionError):
    """A real connection was attempted where pytest-batch forbids the network."""


#: what a blocked connection's message suggests, unless the caller knows better
OFFLINE_HINT = "Tests run offline: use --batch-mode=simulate, replay a cassette, or record with --batch-mode=record."


def blocked_message(host: str, why: str, hint: str = OFFLINE_HINT) -> str:
    return f"pytest-batch blocked a real connection to {host!r} ({why}). {hint}"


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
        if request.url.host in PROVIDER_HOSTS:
            return sync_cls(emulator).handle_request(request)
        return real_sync(self, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        if request.url.host in PROVIDER_HOSTS:
            return await async_cls(emulator).handle_async_request(request)
        return await real_async(self, request)

    return [mock.patch.object(httpx_module.HTTPTransport, "handle_request", handle_request),
            mock.patch.object(httpx_module.AsyncHTTPTransport, "handle_async_request", handle_async_request)]


def _aiohttp_patches() -> list[Any]:
    """Keep google-genai's async calls on httpx2/httpx, where the transport patches see them.

    google-genai sends ``client.aio`` calls through aiohttp whenever aiohttp is installed and no
    async httpx client or transport was injected (``BaseApiClient._use_aiohttp``, wire-formats.md
    0.1), which would bypass the emulator and hit the socket block instead.
    """
    if importlib.util.find_spec("google") is None or importlib.util.find_spec("google.genai") is None:
        return []
    from google.genai import _api_client

    if not hasattr(_api_client.BaseApiClient, "_use_aiohttp"):  # older releases: httpx only
        return []
    return [mock.patch.object(_api_client.BaseApiClient, "_use_aiohttp", lambda self: False)]


def _socket_patches(allow_hosts: tuple[str, ...], why: str, hint: str = OFFLINE_HINT) -> list[Any]:
    """Refuse name lookups and connections for every host but ``allow_hosts``.

    At the socket, not the transport: every HTTP library is covered, httpcore turns the
    error into a ConnectError that keeps the message, and vcrpy (which patches the
    transports) keeps seeing the real ones.
    """
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def check(host: Any) -> None:
        host = host.decode() if isinstance(host, bytes) else str(host)
        if host not in allow_hosts:
            raise NetworkBlocked(blocked_message(host, why, hint))

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address[0])
        return real_connect(self, address)

    return [mock.patch.object(socket, "getaddrinfo", getaddrinfo),
            mock.patch.object(socket.socket, "connect", connect)]


@contextlib.contextmanager
def block_network(allow_hosts: tuple[str, ...] = LOOPBACK, *, why: str = "network access is off",
                  hint: str = OFFLINE_HINT) -> Iterator[None]:
    """Fail every outbound connection except to ``allow_hosts``, naming the host."""
    with _patched(_socket_patches(allow_hosts, why, hint)):
        yield


@contextlib.contextmanager
def intercept(emulator: Emulator, allow_hosts: tuple[str, ...] = LOOPBACK) -> Iterator[Emulator]:
    """Route every httpx2/httpx request for api.openai.com, api.anthropic.com and
    generativelanguage.googleapis.com to ``emulator`` (google-genai's async calls included, kept
    off aiohttp); block every other host."""
    patches = [*_transport_patches("httpx2", emulator), *_transport_patches("httpx", emulator), *_aiohttp_patches(),
               *_socket_patches(allow_hosts, "only the pytest-batch emulator is reachable here")]
    with _patched(patches):
        yield emulator


@contextlib.contextmanager
def _patched(patches: list[Any]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield
