"""The emulator as an httpx2 (and httpx) transport: access path 1, in process.

The transport is the smallest correct interception point (httpx's MockTransport): the
SDK above it runs unchanged, headers, retries, pagination and all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from .http import DroppedConnection, RequestHandler, SimRequest, SimResponse


def to_sim_request(request: Any) -> SimRequest:
    return SimRequest.build(request.method, str(request.url), dict(request.headers), request.content)


def _transport_classes(module_name: str) -> tuple[type, type]:
    httpx_module = importlib.import_module(module_name)

    class _Stream(httpx_module.SyncByteStream, httpx_module.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: Iterator[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for chunk in self._chunks:
                yield chunk

    def respond(emulator: RequestHandler, request: Any) -> Any:
        try:
            sim = emulator.handle(to_sim_request(request))
        except DroppedConnection as exc:
            raise httpx_module.RemoteProtocolError(str(exc), request=request) from None
        return _to_response(sim, request)

    def _to_response(sim: SimResponse, request: Any) -> Any:
        if isinstance(sim.body, bytes | bytearray):
            return httpx_module.Response(sim.status, headers=sim.headers, content=bytes(sim.body), request=request)
        return httpx_module.Response(sim.status, headers=sim.headers, stream=_Stream(iter(sim.iter_bytes())),
                                     request=request)

    class Transport(httpx_module.BaseTransport):
        def __init__(self, emulator: RequestHandler) -> None:
            self.emulator = emulator

        def handle_request(self, request: Any) -> Any:
            request.read()
            return respond(self.emulator, request)  # the emulator locks its own state

    class AsyncTransport(httpx_module.AsyncBaseTransport):
        def __init__(self, emulator: RequestHandler) -> None:
            self.emulator = emulator

        async def handle_async_request(self, request: Any) -> Any:
            await request.aread()
            return respond(self.emulator, request)

    return Transport, AsyncTransport


_CACHE: dict[str, tuple[type, type]] = {}


def transport_classes(module_name: str = "httpx2") -> tuple[type, type]:
    """(sync, async) transport classes for ``httpx2`` (openai 3.x, anthropic 2.x, google-genai
    3.x) or ``httpx`` (older SDKs)."""
    if module_name not in _CACHE:
        _CACHE[module_name] = _transport_classes(module_name)
    return _CACHE[module_name]


def EmulatorTransport(emulator: RequestHandler, module_name: str = "httpx2") -> Any:  # noqa: N802 - reads like a class
    return transport_classes(module_name)[0](emulator)


def AsyncEmulatorTransport(emulator: RequestHandler, module_name: str = "httpx2") -> Any:  # noqa: N802
    return transport_classes(module_name)[1](emulator)
