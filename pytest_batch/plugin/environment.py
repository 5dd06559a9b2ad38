"""Where a batch test's own code goes in each mode: its SDK clients, its processors, its cassette.

While a batch test runs, every SDK client built in it (by the test, the user's pipeline or a
library they use; openai, anthropic and google-genai, sync and async, aiohttp transports
included) goes where the mode says:

- simulate: the test's emulator (``sim.patch.intercept``: the SDKs' default httpx2/httpx
  transports answer provider hosts from it); placeholder keys; every other host blocked.
- replay: the test's cassette (vcrpy patches the same transports, whatever the host: a loopback
  server's URLs match under the providers' default hosts); placeholder keys; every connection
  that still reaches the socket is blocked.
- record: the live API or the server a *_BASE_URL names, through the cassette, which saves it.
- live: the live API; nothing is changed.

In record and live mode a provider whose *_BASE_URL is an emulator server on loopback and
that has no key gets a placeholder key (the server takes any; the SDKs refuse to start without).

Clients on aiohttp transports are moved onto httpx2's default transport in every mode but live
(``sim.patch.httpx_only``), so one seam serves all modes. Every ``BatchProcessor`` built during
the test is adopted like the fixture's own: it waits on the emulator's clock (simulate) or not
at all (replay), is counted in the summary, obeys --batch-max-requests, and in record mode
leaves its cassette pending at --batch-record-timeout.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import modes
from . import options as cfg

if TYPE_CHECKING:
    from ..sim.core import Emulator

#: ``factory(response_model=...)`` left out: the model configured for the test
CONFIGURED: Any = type("Configured", (), {"__repr__": lambda self: "<the configured response model>"})()

#: what a blocked connection says in each offline mode
OFFLINE_HINT = ("Only --batch-mode=record and --batch-mode=live reach the network, and only when asked for on the "
                "command line or in a marker.")
SIMULATE_HINT = ("The emulator answers the providers' own hosts (api.openai.com, api.anthropic.com, "
                 "generativelanguage.googleapis.com, any <resource>.openai.azure.com): build SDK clients without "
                 "base_url= (*_BASE_URL variables are cleared while the test runs, and AZURE_OPENAI_ENDPOINT names "
                 "a stand-in resource). " + OFFLINE_HINT)


@dataclass
class BatchEnvironment:
    """What the ``batch_env`` fixture gives a test: its provider, model and mode, the emulator
    (simulate only) and the cassette (replay and record), while every SDK client the test's code
    builds goes where the mode says."""

    provider: str
    model: str
    mode: str
    #: the test's emulator in simulate mode (program it, read its journal), else None
    emulator: Emulator | None = None
    #: the test's cassette file in replay and record mode, else None
    cassette: Path | None = None
    _options: cfg.TestOptions | None = field(default=None, repr=False)
    _request: Any = field(default=None, repr=False)
    _clients: dict[Any, Any] = field(default_factory=dict, repr=False)
    _response_model: Any = field(default=CONFIGURED, repr=False)

    @property
    def response_model(self) -> type:
        """The pydantic model this test extracts: ``@pytest.mark.batch(response_model=)``, else the
        ``batch_response_model`` ini setting, else the seed's ``User``."""
        if self._response_model is CONFIGURED:
            self._response_model = _import_response_model(self._options, self._request)
        return self._response_model

    def processor(self, response_model: Any = CONFIGURED, model: str | None = None, **kwargs: Any) -> Any:
        """A ``BatchProcessor`` for this test's provider and mode (what ``batch_processor_factory``
        returns). ``model`` defaults to the test's; a bare name (``"gpt-4.1"``) gets the test's
        provider. Other keyword arguments go to ``BatchProcessor``."""
        from ..processor import BatchProcessor

        options = self._options
        assert options is not None
        model = self._model(model)
        if response_model is CONFIGURED:
            response_model = self.response_model
        if "client" not in kwargs:
            kwargs["client"] = (modes.emulator_client(self.emulator, options) if self.emulator is not None
                                else modes.real_client(options, self._clients))
        return BatchProcessor(model, response_model=response_model, **kwargs)

    def _model(self, model: str | None) -> str:
        if model is None:
            return self.model
        if "/" not in model:
            return f"{self.provider}/{model}"
        if model.partition("/")[0] != self.provider:
            bare = self.model.partition("/")[2]
            modes.fail_test(f"pytest-batch: batch_processor_factory(model={model!r}) in a test running "
                            f"{self.provider}: give a {self.provider} model (or a bare name such as {bare!r}). The "
                            "test runs once per provider; narrow it with @pytest.mark.batch(providers=...).")
        return model


def _import_response_model(options: cfg.TestOptions | None, request: Any) -> type:
    spec = options.response_model if options is not None else None
    if spec is None:
        from ..seed import User

        return User
    if not isinstance(spec, str):
        return spec
    from ..response_models import ResponseModelImportError, import_response_model

    folders = [Path(request.config.rootpath)]
    if getattr(request.node, "path", None) is not None:
        folders.insert(0, Path(request.node.path).parent)
    try:
        return import_response_model(spec, where=f"{options.response_model_source} {spec!r}", search=folders)
    except ResponseModelImportError as error:
        message = str(error)
    modes.fail_test(message)  # outside the except block: no "During handling..." chain
    raise AssertionError("unreachable")


def run(request: pytest.FixtureRequest, options: cfg.TestOptions, *, explicit: bool,
        clients: dict[Any, Any], stats: Any, ledger: Callable[[], modes.RequestLedger]) -> Iterator[BatchEnvironment]:
    """Set up the test's environment for its mode, yield it, and tear it down (the cassette is
    saved, left pending, or reported as a mismatch). ``explicit``: the test asked for it
    (``batch_env``, ``batch_processor``, ``batch_processor_factory``), so a missing key or
    replay cassette fails at setup; otherwise a cassette is used when there is one and written
    only when the test sent something."""
    env = BatchEnvironment(options.provider, options.model, options.mode, _options=options, _request=request,
                           _clients=clients)
    guard = modes.SpendGuard(ledger(), options) if options.mode in cfg.NETWORK_MODES else None
    with contextlib.ExitStack() as stack:
        if options.mode == "simulate":
            env.emulator = request.getfixturevalue("batch_sim")
            from ..sim.patch import intercept

            stack.enter_context(intercept(env.emulator, options.allow_hosts, why=_never_touches_network(options),
                                          hint=SIMULATE_HINT, providers=[options.provider]))
            sleeps: tuple[Any, Any] = (modes.emulated_sleep(env.emulator), modes.emulated_async_sleep(env.emulator))
        elif options.mode == "replay":
            from ..cassettes import preload
            from ..sim.patch import block_network, httpx_only, placeholder_environment

            preload()  # vcrpy must see the real transports before anything patches them
            stack.enter_context(placeholder_environment(keep_base_urls=True))
            stack.enter_context(httpx_only([options.provider]))
            why, hint = _never_touches_network(options), OFFLINE_HINT
            if not explicit and not options.cassette.is_file():
                why, hint = _no_cassette(request, options)
            stack.enter_context(block_network(options.allow_hosts, why=why, hint=hint))
            sleeps = (modes.no_sleep, modes.no_async_sleep)
        else:
            from ..sim.patch import environment, httpx_only

            if explicit:
                modes.check_api_key(options)
            stack.enter_context(environment(modes.emulator_server_keys()))
            if options.mode == "record":
                stack.enter_context(httpx_only([options.provider]))
            sleeps = (None, None)
        session_holder: list[Any] = []
        pending: list[BaseException] = []
        stack.enter_context(_adopting_processors(options, stats, guard, session_holder, pending, sleeps))
        cassette = None
        if options.uses_cassette and (explicit or options.mode == "record" or options.cassette.is_file()):
            cassette, session = _enter_cassette(request, options)
            session_holder.append(session)
            env.cassette = options.cassette
            if guard is not None and session.resuming:
                guard.enabled = False  # a resumed recording replays a batch paid for in an earlier run
        yield env
        if cassette is not None:
            _exit_cassette(request, cassette, session_holder[0], pending, keep_empty=explicit)


def _never_touches_network(options: cfg.TestOptions) -> str:
    return f"this test runs --batch-mode={options.mode_label}, which never touches the network"


def _no_cassette(request: pytest.FixtureRequest, options: cfg.TestOptions) -> tuple[str, str]:
    from ..cassettes import record_command

    command = record_command(request.node.nodeid, request.config)
    return (f"this test runs --batch-mode={options.mode_label} and has no cassette at {options.cassette}",
            f"Record it with: {command}")


@contextlib.contextmanager
def _adopting_processors(options: cfg.TestOptions, stats: Any, guard: modes.SpendGuard | None,
                         session_holder: list[Any], pending: list[BaseException],
                         sleeps: tuple[Any, Any]) -> Iterator[None]:
    """While inside, every BatchProcessor / AsyncBatchProcessor constructed gets the mode's sleep
    (unless given one), is counted in the summary, guarded by --batch-max-requests, and in record
    mode waits at most until --batch-record-timeout."""
    from unittest import mock

    from ..processor.base import ProcessorBase
    from . import summary

    real_init = ProcessorBase.__init__

    @functools.wraps(real_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        sleep = sleeps[1] if self._async else sleeps[0]
        if kwargs.get("sleep") is None and sleep is not None:
            kwargs["sleep"] = sleep
        real_init(self, *args, **kwargs)
        summary.instrument(self, stats, options.mode, limit=guard)
        if options.mode == "record" and session_holder:
            modes.wait_within_record_timeout(self, session_holder[0], pending)

    with mock.patch.object(ProcessorBase, "__init__", __init__):
        yield


def _enter_cassette(request: pytest.FixtureRequest, options: cfg.TestOptions) -> tuple[Any, Any]:
    from ..cassettes import CassetteError, use_cassette

    cassette = use_cassette(options.cassette, mode=options.mode, provider=options.provider, model=options.model,
                            recorded_against=cfg.recorded_against(options.provider),
                            record_timeout=options.record_timeout, nodeid=request.node.nodeid, config=request.config)
    try:
        session = cassette.__enter__()
    except CassetteError as error:
        unusable = str(error)
    else:
        request.node.stash[modes.CASSETTE_SESSION] = session
        return cassette, session
    pytest.fail(unusable, pytrace=False)  # outside the except block: no "During handling..." chain
    raise AssertionError("unreachable")


class NothingRecorded(Exception):
    """Tells the cassette not to write a file: the test sent nothing."""


def _exit_cassette(request: pytest.FixtureRequest, cassette: Any, session: Any, pending: list[BaseException], *,
                   keep_empty: bool) -> None:
    """Close the cassette: a failed test records nothing, a pending recording skips, a replay that
    missed a request fails; a test that only happens to be a batch test writes no empty cassette."""
    from ..cassettes import CassetteError, RecordingPending

    failed = request.node.stash.get(modes.CALL_FAILED, None)  # None: the call never reported (Ctrl+C, a later
    # fixture failed): nothing complete was recorded
    error: BaseException | None = (pending[0] if pending else
                                   modes.TestFailed() if failed or failed is None else None)
    if failed is None and request.session.exitstatus == pytest.ExitCode.INTERRUPTED:
        error = KeyboardInterrupt()  # a batch already submitted stays pending, to resume
    if error is None and session.mode == "record" and not keep_empty and not session.cassette.dirty:
        error = NothingRecorded()
    outcome: tuple[Any, str] | None = None
    try:
        cassette.__exit__(type(error) if error else None, error, None)
    except RecordingPending as stopped:
        if not pending:  # not reported by the test call yet
            outcome = (modes.skip_test, str(stopped))
    except CassetteError as mismatch:
        if not failed:  # a failed test already shows the mismatch
            outcome = (modes.fail_test, str(mismatch))
    if outcome is not None:
        report, message = outcome
        report(message)
