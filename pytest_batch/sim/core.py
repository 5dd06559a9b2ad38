"""The emulator core: one object holding all three providers' state, answering SimRequests.

Routing: a request for a provider's real host (api.openai.com, api.anthropic.com,
generativelanguage.googleapis.com, any ``<resource>.openai.azure.com``) goes to that provider; on
any other host (the loopback server) the first path segment names it: ``/openai/v1/...``,
``/anthropic/v1/...``, ``/google/v1beta/...``, ``/azure/openai/...``. Adapters (transport.py,
server.py) only translate HTTP.

Many clients may call at once (the server answers each on its own thread): ``lock`` guards
the state for the moment a call reads or changes it, and a batch's slow work runs outside
it (backends/base.py), so one client's big upload or batch never holds up another's poll.
"""

from __future__ import annotations

import contextlib
import gc
import math
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..endpoints import PROVIDERS, provider_of_host
from .bulk_lane import BulkLane
from .clock import Clock, FrozenClock
from .faults import Faults
from .gc_pause import paused_gc, release_frozen
from .http import DroppedConnection, HTTPError, SimRequest, SimResponse
from .ids import IdFactory, bare_id
from .journal import Journal, JournalEntry
from .lifecycle import Lifecycle
from .responders import Expectation, Responder, ResponderFn, SynthesisError


class Emulator:
    """All three batch APIs, in memory.

    ``lifecycle`` is the default progression of every batch ("immediate", "polls:N",
    "seconds:S" or "manual"); ``clock`` defaults to a frozen clock, so nothing moves by
    itself; ``seed`` fixes ids and synthetic answers.
    """

    #: whether a status read may leave a batch's slow work (answers, results) to a background
    #: thread and answer with the batch as it stands (backends/base.py ``BackendBase.locked``):
    #: set by the server, where many clients poll; never saved with the state
    background_work = False

    def __init__(self, *, seed: int = 0, lifecycle: str | Lifecycle = "immediate", clock: Clock | None = None,
                 expectations: str | Path | Iterable[Expectation | Mapping[str, Any]] | None = None,
                 shuffle_results: bool = False) -> None:
        self.seed = seed
        self.clock = clock or FrozenClock()
        self.lifecycle = Lifecycle.parse(lifecycle)
        #: what reset() restores: the lifecycle the emulator was made with
        self.initial_lifecycle = self.lifecycle
        self.shuffle_results = shuffle_results
        self.responder = Responder(seed)
        self.faults = Faults(seed)
        self.journal = Journal()
        #: guards files, batches, faults and the journal while a call reads or changes them; held
        #: briefly (parsing, answering and rendering happen outside it: backends/base.py)
        self.lock = threading.RLock()
        #: one bulk job (a batch's parse, answers, ending, a chunk of its results) at a time: bulk_lane.py
        self.bulk_lane = BulkLane()
        self._batch_lifecycles: dict[str, Lifecycle] = {}
        self._next_lifecycles: list[Lifecycle] = []
        self._make_backends()
        if expectations is not None:
            self.responder.load(expectations)

    def _make_backends(self) -> None:
        from .backends.anthropic import AnthropicBackend
        from .backends.azure import AzureBackend
        from .backends.google import GoogleBackend
        from .backends.openai import OpenAIBackend
        from .routes.anthropic import AnthropicRoutes
        from .routes.azure import AzureRoutes
        from .routes.google import GoogleRoutes
        from .routes.openai import OpenAIRoutes

        self.ids = IdFactory(self.seed)
        self.openai = OpenAIBackend(self)
        self.anthropic = AnthropicBackend(self)
        self.google = GoogleBackend(self)
        self.azure = AzureBackend(self)
        self._routes = {
            "openai": OpenAIRoutes(self.openai),
            "anthropic": AnthropicRoutes(self.anthropic),
            "google": GoogleRoutes(self.google),
            "azure": AzureRoutes(self.azure),
        }

    # ------------------------------------------------------------------ control
    def expect(self, *response: Any, **where: Any) -> Expectation:
        """Answer matching requests with ``response``: ``expect({"name": "Alice"}, match="Alice")``;
        a wrong type or a missing response raises ``ExpectationError`` here, not when a batch runs."""
        return self.responder.expect(*response, **where)

    def load_expectations(self, source: str | Path | Iterable[Expectation | Mapping[str, Any]]) -> None:
        self.responder.load(source)

    def respond_with(self, fn: ResponderFn) -> None:
        """Answer requests with ``fn(item)`` (an Answer, a value, or None to pass). When the server
        answers several clients at once, ``fn`` may run on several threads at once: one batch per
        thread, that batch's requests in order."""
        self.responder.add(fn)

    def set_lifecycle(self, spec: str | Lifecycle, *, batch_id: str | None = None, next_batch: bool = False) -> None:
        """Change the lifecycle for every batch, one existing batch (its id, or a Gemini
        ``batches/{id}`` name), or the next batch created."""
        lifecycle = Lifecycle.parse(spec)
        with self.lock:
            if batch_id is not None:
                self._batch_lifecycles[bare_id(batch_id)] = lifecycle
            elif next_batch:
                self._next_lifecycles.append(lifecycle)
            else:
                self.lifecycle = lifecycle

    def lifecycle_for(self, batch_id: str) -> Lifecycle:
        return self._batch_lifecycles.get(batch_id, self.lifecycle)

    def claim_lifecycle(self, batch_id: str) -> None:
        """Called by a backend when it creates a batch: a queued per-batch lifecycle applies."""
        if self._next_lifecycles:
            self._batch_lifecycles[batch_id] = self._next_lifecycles.pop(0)

    def advance(self, seconds: float = 0.0, *, batch_id: str | None = None) -> None:
        """Move the clock by ``seconds``; with no seconds, finish every open batch (or one,
        by id or Gemini ``batches/{id}`` name)."""
        with self.lock:
            if seconds:
                self.clock.advance(seconds)
                for backend in (self.openai, self.anthropic, self.google, self.azure):
                    backend.clock_advanced()
                return
            for backend in (self.openai, self.anthropic, self.google, self.azure):
                backend.finish(None if batch_id is None else bare_id(batch_id))

    def reset(self) -> None:
        """Forget every file, batch, expectation, fault and journal entry, undo every clock advance and
        lifecycle change (back to the lifecycle the emulator was made with; ids start over), and give
        the memory they held back."""
        with self.lock:
            self.lifecycle = self.initial_lifecycle
            self.responder.reset()
            self.faults.reset()
            self.journal.clear()
            self._batch_lifecycles.clear()
            self._next_lifecycles.clear()
            self.clock.reset()
            held = sum(len(record) for backend in (self.openai, self.anthropic, self.google, self.azure)
                       for record in backend.batches.values())
            self._make_backends()
        release_frozen()
        if held >= 10_000:  # worth a full collection (tests reset small emulators after every test)
            _release_memory()

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write all state (files, batches, expectations, faults, clock) to ``path``, atomically.

        Callables added with ``respond_with`` are not saved: they live in the caller's code.
        """
        import os
        import pickle

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with self.lock:
            state = pickle.dumps(self)
        tmp.write_bytes(state)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> Emulator:
        """Read an emulator written by ``save`` (only load files you wrote yourself: pickle)."""
        import pickle

        emulator = pickle.loads(Path(path).read_bytes())
        if not isinstance(emulator, cls):
            raise TypeError(f"{path} does not hold a pytest-batch emulator state")
        return emulator

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["lock"], state["bulk_lane"]
        state.pop("background_work", None)
        state["responder"] = Responder(self.seed)
        state["responder"].expectations = list(self.responder.expectations)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()
        self.bulk_lane = BulkLane()
        self.__dict__.setdefault("initial_lifecycle", self.lifecycle)  # saved before reset restored it
        if "azure" not in state:  # saved before pytest-batch spoke Azure OpenAI (a CLI state): an empty resource
            from .backends.azure import AzureBackend
            from .routes.azure import AzureRoutes

            self.azure = AzureBackend(self)
            self._routes = {**self._routes, "azure": AzureRoutes(self.azure)}

    # ------------------------------------------------------------------ HTTP
    def provider_for(self, request: SimRequest) -> str | None:
        provider = provider_of_host(request.host)
        if provider is not None:
            return provider
        head, _, rest = request.path.lstrip("/").partition("/")
        if head in PROVIDERS:
            request.path = "/" + rest
            request.base_url = f"{request.base_url}/{head}"
            return head
        return None

    def handle(self, request: SimRequest) -> SimResponse:
        provider = self.provider_for(request)
        if provider is None:
            return _not_routed(request)
        routes = self._routes[provider]
        fault = None
        if self.faults.http:  # most calls meet no call fault: they skip the lock
            with self.lock:
                fault = self.faults.take_http_fault(provider, request.method, request.path)
        if fault is not None and fault.status is None:
            self._log(provider, request, 0, "dropped connection")
            raise DroppedConnection(f"pytest-batch emulator dropped the connection to {request.url} (injected fault)")
        try:
            if fault is not None:
                headers = {}
                if fault.retry_after is not None:
                    headers["retry-after"] = str(math.ceil(fault.retry_after))
                    headers["retry-after-ms"] = str(max(1, round(fault.retry_after * 1000)))
                raise HTTPError(fault.status, fault.message or _FAULT_MESSAGES.get(fault.status, "injected fault"),
                                headers=headers)
            with paused_gc():
                response = routes.handle(request)
        except HTTPError as error:
            response = routes.render_error(error)
        except SynthesisError as exc:  # a schema the synthetic responder cannot satisfy: say which field
            response = routes.render_error(HTTPError(
                500, f"pytest-batch emulator cannot answer {request.method} {request.path}: {exc}",
                headers={"x-should-retry": "false"}))
        except Exception as exc:  # an emulator bug: answer like a server would, and say so
            response = routes.render_error(HTTPError(
                500, f"pytest-batch emulator error while answering {request.method} {request.path}: {exc!r}. "
                "Please report it with this message.", headers={"x-should-retry": "false"}))
        response.headers.setdefault("x-pytest-batch-emulator", "1")
        self._log(provider, request, response.status, f"HTTP {fault.status}" if fault else None)
        return response

    def _log(self, provider: str, request: SimRequest, status: int, fault: str | None) -> None:
        # list.append is atomic: concurrent calls each add their entry without the lock
        self.journal.append(JournalEntry(provider, request.method, request.path, dict(request.query), status,
                                         self.clock.now(), fault))

    # ------------------------------------------------------------------ clients
    def transport(self, *, async_transport: bool = False, module: str = "httpx2") -> Any:
        """An httpx2 (or, with module="httpx", httpx) transport answering from this emulator."""
        from .transport import AsyncEmulatorTransport, EmulatorTransport

        return (AsyncEmulatorTransport if async_transport else EmulatorTransport)(self, module)

    def openai_client(self, *, async_client: bool = False, **kwargs: Any) -> Any:
        from .clients import openai_client

        return openai_client(self, async_client=async_client, **kwargs)

    def anthropic_client(self, *, async_client: bool = False, **kwargs: Any) -> Any:
        from .clients import anthropic_client

        return anthropic_client(self, async_client=async_client, **kwargs)

    def google_client(self, **kwargs: Any) -> Any:
        from .clients import google_client

        return google_client(self, **kwargs)

    def azure_client(self, *, async_client: bool = False, v1: bool = False, **kwargs: Any) -> Any:
        """An ``openai.AzureOpenAI`` client of the emulated resource (``v1=True``: the plain
        ``openai.OpenAI`` client of its v1 API, ``<endpoint>/openai/v1/``)."""
        from .clients import azure_client

        return azure_client(self, async_client=async_client, v1=v1, **kwargs)

    def mount_respx(self, router: Any, providers: tuple[str, ...] | list[str] = PROVIDERS, *,
                    name: str = "pytest-batch") -> Any:
        """A route in a respx router answering the providers' hosts from this emulator (see
        ``pytest_batch.sim.respx``; ``respx.mock(using="httpcore2")`` reaches httpx2 SDKs)."""
        from .respx import mount_respx

        return mount_respx(self, router, providers, name=name)


def _release_memory() -> None:
    """Collect what a reset let go of and hand freed heap pages back to the system (glibc's
    malloc_trim): without it a server that held a 100 MB batch keeps that much resident."""
    gc.collect()
    with contextlib.suppress(Exception):  # not glibc, or no ctypes: the memory is reused, not returned
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


_FAULT_MESSAGES = {
    400: "Bad request (injected by pytest-batch).",
    401: "Invalid API key (injected by pytest-batch).",
    404: "Not found (injected by pytest-batch).",
    408: "Request timed out (injected by pytest-batch).",
    409: "Conflict (injected by pytest-batch).",
    413: "Request too large (injected by pytest-batch).",
    429: "Rate limit reached (injected by pytest-batch).",
    500: "The server had an error while processing your request (injected by pytest-batch).",
    502: "Bad gateway (injected by pytest-batch).",
    503: "Service unavailable (injected by pytest-batch).",
    529: "Overloaded (injected by pytest-batch).",
}


def _not_routed(request: SimRequest) -> SimResponse:
    from .http import json_response

    return json_response(404, {"error": {
        "message": (f"pytest-batch emulator: no provider serves {request.method} {request.path}. "
                    "Use base URLs <server>/openai/v1, <server>/anthropic or <server>/google, or the Azure "
                    "endpoint <server>/azure."),
        "type": "invalid_request_error", "param": None, "code": "unknown_url"}})

