"""The emulator in a respx router: for suites that already mock HTTP with respx.

``mount_respx(emulator, router)`` (or ``emulator.mount_respx(router)``) adds one route to the
router (yours, or pytest's ``respx_mock``) that answers every request for a provider host
(api.openai.com, api.anthropic.com, generativelanguage.googleapis.com, Azure OpenAI resources)
from the emulator; everything else stays with your own routes, and respx's own features keep
working: ``assert_all_called``, ``route.calls``, ``pass_through()``.

respx patches httpx and httpcore only, so it never sees the requests of SDKs built on httpx2
(openai 3.x, anthropic >= 1.0, google-genai 3.x). This module registers the respx mockers that
do, selected the way respx selects any mocker:

- ``respx.mock(using="httpcore2")``: httpx2 clients (the mocker pytest-httpx2 also registers;
  it is the same one when pytest-httpx2 is installed);
- ``respx.mock(using="httpcore+httpcore2")``: httpx and httpx2 clients in one router, for a
  suite whose own code is on httpx while its SDKs are on httpx2.

Each mocker patches the connection pools, so a pass-through request really goes out (and
pytest-batch's network block still applies to it).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from typing import Any

import httpx
import respx
from respx.mocks import HTTPCoreMocker, Mocker

from ..endpoints import AZURE_HOST_SUFFIXES, PROVIDER_HOSTS, PROVIDERS
from .http import RequestHandler
from .transport import EmulatorTransport

HTTPCORE2 = "httpcore2"
HTTPCORE_AND_HTTPCORE2 = "httpcore+httpcore2"


def _pools(module: str) -> list[str]:
    """The connection-pool classes respx's httpcore mocker patches, in ``module``."""
    return [f"{module}._{kind}.{name}" for kind, prefix in (("sync", ""), ("async", "Async"))
            for name in (f"connection.{prefix}HTTPConnection", f"connection_pool.{prefix}ConnectionPool",
                         f"http_proxy.{prefix}HTTPProxy")]


class _HTTPCore2Responses(HTTPCoreMocker):
    """respx's httpcore mocker, answering a pool of httpcore2 in httpcore2's own types: its
    Response, and its exceptions for a side effect that raises an httpx transport error (what
    ``route.mock(side_effect=httpx.ConnectError)`` means), so httpx2 maps them as it maps real ones."""

    name = ""  # a base, not a mocker of its own (respx registers every subclass by name)

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: httpx.Response, target: Any, **kwargs: Any) -> Any:
        if not type(target).__module__.startswith("httpcore2"):
            return super().from_sync_httpx_response(httpx_response, target, **kwargs)
        import httpcore2

        return httpcore2.Response(status=httpx_response.status_code, headers=httpx_response.headers.raw,
                                  content=httpx_response.stream, extensions=httpx_response.extensions)

    @classmethod
    def _send_sync_request(cls, httpx_request: httpx.Request, *, target_spec: Any, instance: Any,
                           **kwargs: Any) -> Any:
        try:
            return super()._send_sync_request(httpx_request, target_spec=target_spec, instance=instance, **kwargs)
        except httpx.TransportError as error:
            raise _in_httpcore2(error, instance) from error

    @classmethod
    async def _send_async_request(cls, httpx_request: httpx.Request, *, target_spec: Any, instance: Any,
                                  **kwargs: Any) -> Any:
        try:
            return await super()._send_async_request(httpx_request, target_spec=target_spec, instance=instance,
                                                     **kwargs)
        except httpx.TransportError as error:
            raise _in_httpcore2(error, instance) from error


def _in_httpcore2(error: httpx.TransportError, pool: Any) -> Exception:
    """``error`` as the httpcore2 exception of the same name when ``pool`` is httpcore2's."""
    if not type(pool).__module__.startswith("httpcore2"):
        return error
    import httpcore2

    kind = getattr(httpcore2, type(error).__name__, None)
    return kind(str(error)) if isinstance(kind, type) and issubclass(kind, Exception) else error


def _register(name: str, targets: list[str]) -> type[Mocker]:
    """The respx mocker called ``name``: the one registered already (pytest-httpx2 registers
    "httpcore2" when imported, and respx allows one mocker per name), else ours."""
    if name == HTTPCORE2 and name not in Mocker.registry and importlib.util.find_spec("pytest_httpx2") is not None:
        importlib.import_module("pytest_httpx2")  # registers its "httpcore2": importing it later would clash
    if name in Mocker.registry:
        return Mocker.registry[name]
    return type(f"PytestBatch{name.title().replace('+', '')}Mocker", (_HTTPCore2Responses,),
                {"name": name, "targets": list(targets), "__module__": __name__})


HTTPCore2Mocker = _register(HTTPCORE2, _pools("httpcore2"))
HTTPCoreAndHTTPCore2Mocker = _register(HTTPCORE_AND_HTTPCORE2, _pools("httpcore") + _pools("httpcore2"))


def _start_late_mocker(router: respx.Router) -> None:
    """Start this module's mocker for a router entered before the module was imported.

    ``respx.mock(using="httpcore2")`` looks its mocker up when the router starts; if this module
    registered it only afterwards (``emulator.mount_respx(router)`` inside the ``with``), the
    router found none and patches nothing. It is started here, as the router's start would have.
    """
    using = getattr(router, "using", None)
    if using in (HTTPCORE2, HTTPCORE_AND_HTTPCORE2) and getattr(router, "Mocker", False) is None:
        router.Mocker = Mocker.registry[using]
        router.Mocker.register(router)
        router.Mocker.start()


def mount_respx(emulator: RequestHandler, router: respx.Router, providers: tuple[str, ...] | list[str] = PROVIDERS, *,
          name: str = "pytest-batch") -> respx.Route:
    """Add a route to ``router`` that answers every request for the hosts of ``providers`` from
    ``emulator``; returns it (``route.called``, ``route.calls`` are respx's statistics).

    One route for all of them, so a router that asserts every route was called (respx's default)
    is satisfied by whichever provider the test uses. A route added earlier for the same host
    wins, as respx routes always do: mount after routes that should take precedence.
    """
    unknown = [provider for provider in providers if provider not in PROVIDERS]
    if unknown or not providers:
        raise ValueError(f"providers must be some of {', '.join(PROVIDERS)}, got {list(providers)!r}")
    _start_late_mocker(router)
    hosts = [re.escape(host) for host, provider in PROVIDER_HOSTS.items() if provider in providers]
    if "azure" in providers:  # any Azure OpenAI resource, as the emulator serves them (endpoints.provider_of_host)
        hosts += [rf"[^/]+{re.escape(suffix)}" for suffix in AZURE_HOST_SUFFIXES]
    # the side effect receives an httpx.Request whichever library the SDK uses: respx converts
    transport = EmulatorTransport(emulator, "httpx")
    return router.route(name=name, host__regex=rf"^(?:{'|'.join(hosts)})$").mock(side_effect=transport.handle_request)
