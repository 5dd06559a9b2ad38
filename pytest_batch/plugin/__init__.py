"""pytest-batch's pytest plugin: options, ini settings, the ``batch`` marker, fixtures, hooks.

This file only wires: what a test runs against is decided in ``options.py``, what its mode
means (client, keys, waits, spend guard) in ``modes.py``, where the test's own SDK clients and
processors go (emulator, cassette, live API) in ``environment.py``, counted and printed by
``summary.py``, asserted by ``pytest_batch.assertions``; cassettes live in
``pytest_batch.cassettes`` and the emulator in ``pytest_batch.sim``. Nothing heavy is imported at module level,
so loading the plugin costs almost nothing and needs no API key.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import environment, modes, summary
from . import options as cfg

if TYPE_CHECKING:
    from ..sim.core import Emulator
    from .environment import BatchEnvironment

_SESSION = pytest.StashKey["cfg.SessionOptions"]()
_STATS = pytest.StashKey["summary.RunStats"]()
_CLIENTS = pytest.StashKey[dict]()  # SDK clients reused across tests of the same provider, key and URL
_CASSETTE_REPORT = pytest.StashKey["summary.CassetteCheck"]()
_SPENT = pytest.StashKey["modes.RequestLedger"]()  # requests submitted in record/live mode by this run
_CLASHES = pytest.StashKey[dict]()  # under xdist: test id -> why its cassette clashes (fails at setup)
_DESELECTED = pytest.StashKey[list]()  # items -k/-m/--deselect left out: their cassettes still count as used
_ENVIRONMENT = pytest.StashKey["BatchEnvironment"]()  # the running batch test's environment
#: the fixtures that talk to the provider: a test using one needs its key (record/live) and cassette (replay)
_TALKING_FIXTURES = ("batch_env",)


# ---------------------------------------------------------------------- options and ini
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("batch", "pytest-batch: test LLM batch-API pipelines")
    group.addoption("--batch-provider", dest="batch_provider", default=None, metavar="NAMES",
                    help="providers to run batch tests against: openai, anthropic, google, azure, a comma "
                         "list, or all (default: all = openai, anthropic, google; Azure OpenAI runs when named, "
                         "e.g. all,azure).")
    group.addoption("--batch-mode", dest="batch_mode", default=None, choices=cfg.MODES,
                    help="auto (default: replay the test's cassette if it exists, else simulate; never the "
                         "network), simulate (in-process emulator), replay (cassettes only), record (live API "
                         "writing cassettes) or live (live API, no cassettes).")
    group.addoption("--batch-cassette-dir", dest="batch_cassette_dir", default=None, metavar="DIR",
                    help="where cassettes live, relative to the current directory (the ini setting: "
                         "relative to the ini file; default: cassettes under the rootdir).")
    group.addoption("--batch-model", dest="batch_model", action="append", default=None, metavar="PROVIDER/MODEL",
                    help="override a provider's default model, e.g. --batch-model=openai/gpt-6-sol (repeatable). "
                         "Defaults: " + ", ".join(cfg.DEFAULT_MODELS.values()) + ".")
    group.addoption("--batch-record-timeout", dest="batch_record_timeout", default=None, metavar="SECONDS",
                    help="in record mode, how long to wait for a live batch before leaving the recording "
                         "pending (the test is skipped; rerun to finish it).")
    group.addoption("--batch-max-requests", dest="batch_max_requests", default=None, metavar="N",
                    help="live-spend guard: in record/live mode refuse to submit more than N requests in "
                         "this run (all xdist workers together).")
    group.addoption("--batch-check-cassettes", dest="batch_check_cassettes", action="store_true", default=False,
                    help="after collection, list stale cassettes (no collected test uses them), cassettes that "
                         "hold a secret and pending recordings; the run fails if any are found. Fastest with "
                         "--collect-only -q; not under xdist.")
    group.addoption("--batch-allow-hosts", dest="batch_allow_hosts", default=None, metavar="HOSTS",
                    help="hosts (names or IPs, comma separated) a test may still connect to where pytest-batch "
                         "blocks the network; loopback (an emulator server) always is.")
    group.addoption("--batch-block-network", dest="batch_block_network", action="store_true", default=False,
                    help="block real connections in every test of the run, not only batch tests (loopback and "
                         "--batch-allow-hosts stay reachable).")
    for name, help_text in (
        ("batch_provider", "default for --batch-provider"),
        ("batch_allow_hosts", "default for --batch-allow-hosts"),
        ("batch_block_network", "true: --batch-block-network for every run"),
        ("batch_mode", "default for --batch-mode"),
        ("batch_cassette_dir", "default for --batch-cassette-dir"),
        ("batch_record_timeout", "default for --batch-record-timeout"),
        ("batch_max_requests", "default for --batch-max-requests"),
    ):
        parser.addini(name, help_text, default="")
    parser.addini("batch_model", "default for --batch-model: provider/model entries", type="args", default=[])
    parser.addini("batch_response_model", "the pydantic model batch_processor extracts, as module:Class "
                  "(default: pytest_batch.seed:User); @pytest.mark.batch(response_model=) wins", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", cfg.MARKER_DOC)
    try:
        config.stash[_SESSION] = cfg.SessionOptions.from_pytest(config)
    except cfg.BatchConfigError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[_STATS] = summary.RunStats()
    if config.getoption("batch_check_cassettes") and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--batch-check-cassettes needs every test collected in one process: "
                                "run it without -n (e.g. pytest --batch-check-cassettes --collect-only -q)")
    if config.stash[_SESSION].mode in ("replay", "record"):
        from ..cassettes import preload

        preload()  # vcrpy must see the real transports before anything patches them


def _marker(node: Any) -> cfg.MarkerOptions:
    try:
        return cfg.MarkerOptions.from_markers(node.iter_markers("batch"))
    except cfg.BatchConfigError as error:
        raise pytest.UsageError(f"{node.nodeid}: {error}") from None


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object) -> Any:
    """A test with a ``batch`` marker is a batch test even without a batch fixture: it runs once per
    provider with its SDK clients routed by mode (``usefixtures("batch_provider")`` makes it so
    before pytest works out its fixtures)."""
    if inspect.isfunction(obj) and collector.istestfunction(obj, name):
        own = [mark for mark in getattr(obj, "pytestmark", []) if getattr(mark, "name", None) == "batch"]
        if own or any(True for _ in collector.iter_markers("batch")):
            pytest.mark.usefixtures("batch_provider")(obj)
    return (yield)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "batch_provider" not in metafunc.fixturenames:
        return
    providers = cfg.selected_providers(metafunc.config.stash[_SESSION], _marker(metafunc.definition))
    metafunc.parametrize("batch_provider", providers, ids=list(providers), indirect=True)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture
def batch_provider(request: pytest.FixtureRequest) -> str:
    """The provider this parametrized test runs against ("openai", "anthropic", "google" or "azure")."""
    return request.param


def _resolve(config: pytest.Config, node: Any, provider: str) -> cfg.TestOptions:
    """This test's options for ``provider``: session options, then its ``batch`` markers."""
    return cfg.resolve(config.stash[_SESSION], _marker(node), provider, module_name=node.path.stem,
                       test_name=_test_name(node, provider), programs_emulator="batch_sim" in node.fixturenames,
                       nodeid=node.nodeid)


def _test_name(node: Any, provider: str) -> str:
    """The test's name in its cassette's file name: no provider id, the class name in front."""
    test_name = _name_without_provider(node.name, provider)
    return f"{node.cls.__name__}.{test_name}" if node.cls is not None else test_name


@pytest.fixture
def _batch_options(request: pytest.FixtureRequest, batch_provider: str) -> cfg.TestOptions:
    clash = request.config.stash.get(_CLASHES, {}).get(_test_id(request.node, batch_provider))
    if clash:
        modes.fail_test(clash)
    options = _resolve(request.config, request.node, batch_provider)
    if options.skip_reason:
        modes.skip_test(options.skip_reason)
    stats = request.config.stash[_STATS].for_provider(batch_provider)
    stats.tests += 1
    stats.modes.add(options.mode)
    return options


def _test_id(node: Any, provider: str) -> str:
    """``a/test_x.py::test_users[openai]`` -> ``a/test_x.py::test_users``: the test, whatever the provider."""
    return f"{node.nodeid.rpartition('::')[0]}::{_name_without_provider(node.name, provider)}"


def _name_without_provider(name: str, provider: str) -> str:
    """``test_x[openai]`` -> ``test_x``; ``test_x[openai-big]`` -> ``test_x[big]`` (the cassette
    directory already names the provider)."""
    head, bracket, ids = name.partition("[")
    if not bracket:
        return name
    parts = [part for part in ids[:-1].split("-") if part != provider]
    return f"{head}[{'-'.join(parts)}]" if parts else head


@pytest.fixture(autouse=True)
def _batch_environment(request: pytest.FixtureRequest) -> Iterator[None]:
    """While a batch test runs, every SDK client and processor built in it goes where its mode says
    (``environment.py``): the emulator, the cassette, or the live API."""
    if "batch_provider" not in request.fixturenames:
        yield
        return
    options: cfg.TestOptions = request.getfixturevalue("_batch_options")
    config = request.config

    def ledger() -> modes.RequestLedger:
        if _SPENT not in config.stash:
            config.stash[_SPENT] = modes.request_ledger(config)
        return config.stash[_SPENT]

    explicit = any(name in request.fixturenames for name in _TALKING_FIXTURES)
    for env in environment.run(request, options, explicit=explicit, clients=config.stash.setdefault(_CLIENTS, {}),
                               stats=config.stash[_STATS].for_provider(options.provider), ledger=ledger):
        request.node.stash[_ENVIRONMENT] = env
        yield


@pytest.fixture(scope="session")
def _batch_emulator() -> Emulator:
    from ..sim import Emulator

    return Emulator()


@pytest.fixture
def batch_sim(request: pytest.FixtureRequest, _batch_emulator: Emulator, _batch_options: cfg.TestOptions) -> Emulator:
    """This test's emulator (one per worker, reset before each test), lifecycle, faults and answers
    from the ``batch`` marker. What a request gets back: the test's own ``expect(...)`` calls
    first, then the marker's ``responses=`` file, then the ten seed prompts' users, then a
    schema-valid synthetic answer. Program it with ``expect``, ``respond_with``, ``faults``,
    ``set_lifecycle`` and ``advance``; read ``journal``."""
    from ..sim.clock import FrozenClock

    emulator = _batch_emulator
    emulator.clock = FrozenClock()
    emulator.reset()
    emulator.set_lifecycle(_batch_options.lifecycle or "immediate")
    problem: str | None = None
    if _batch_options.responses:
        try:
            emulator.respond_with(modes.file_answers(request.node.path.parent / _batch_options.responses))
        except ValueError as error:
            problem = f"@pytest.mark.batch(responses={_batch_options.responses!r}): {error}"
    emulator.respond_with(modes.seed_answers())
    try:
        cfg.apply_faults(emulator, _batch_options.faults)
    except cfg.BatchConfigError as error:
        problem = problem or str(error)
    if problem is not None:  # failed outside the except block: no "During handling..." chain
        modes.fail_test(problem)
    return emulator


@pytest.fixture
def batch_model(_batch_options: cfg.TestOptions) -> str:
    """The "provider/model" this test uses (see --batch-model)."""
    return _batch_options.model


@pytest.fixture
def batch_messages() -> list[str]:
    """The ten seed prompts of the canonical extraction example."""
    from ..seed import SEED_PROMPTS

    return list(SEED_PROMPTS)


@pytest.fixture
def expected_users() -> list[Any]:
    """The ten ``User`` objects the seed prompts describe, in prompt order."""
    from ..seed import EXPECTED_USERS

    return list(EXPECTED_USERS)


@pytest.fixture
def batch_env(request: pytest.FixtureRequest, batch_provider: str, _batch_environment: None) -> BatchEnvironment:
    """This test's batch environment: ``provider``, ``model``, ``mode``, ``response_model``,
    ``emulator`` (simulate) and ``cassette`` (replay/record). Every SDK client the test's code
    builds goes where the mode says (simulate: the emulator; replay: the cassette; record: the
    live API into the cassette; live: the live API); offline no API key is needed."""
    return request.node.stash[_ENVIRONMENT]


@pytest.fixture
def batch_processor_factory(batch_env: BatchEnvironment) -> Callable[..., Any]:
    """``factory(response_model=Invoice, model=None, **processor_kwargs)``: a new ``BatchProcessor``
    for this test's provider and mode, as many as the test needs. ``response_model`` defaults to
    the configured one, ``model`` to the test's (a bare name gets the test's provider)."""
    return batch_env.processor


@pytest.fixture
def batch_processor(batch_env: BatchEnvironment) -> Any:
    """A ``BatchProcessor`` for this test's provider and mode, extracting the configured model
    (``@pytest.mark.batch(response_model=)``, the ``batch_response_model`` ini setting, else
    ``User``): on the emulator (simulate), a cassette (replay/record) or the live API (live)."""
    return batch_env.processor()


# ---------------------------------------------------------------------- hooks
@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    cassettes = sys.modules.get("pytest_batch.cassettes")
    if cassettes is None:
        return (yield)
    try:
        return (yield)
    except cassettes.RecordingPending as error:
        report: tuple[Any, str] = (modes.skip_test, str(error))
    except cassettes.ReplayMiss as error:
        report = (modes.fail_test, str(error))
    except Exception as error:
        gone = modes.pending_batch_gone(pyfuncitem, error)
        if gone is None:
            raise
        report = (modes.fail_test, gone)
    # reported outside the except block: no "During handling of the above exception" chain
    outcome, message = report
    outcome(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """--batch-block-network: every other test (setup, call, teardown) runs with real connections
    blocked too; batch tests keep what their mode decides."""
    options = item.config.stash[_SESSION]
    if not options.block_every_test or "batch_provider" in getattr(item, "fixturenames", ()):
        return (yield)
    from ..sim.patch import block_network

    with block_network(options.reachable, why="--batch-block-network blocks real connections in every test",
                       hint="Allow a host with --batch-allow-hosts=HOST (or the batch_allow_hosts ini setting)."):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[modes.CALL_FAILED] = report.failed
        note = modes.not_recorded_note(item) if report.failed else None
        if note:
            report.sections.append(("pytest-batch", note))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    from ..assertions import explaining_synthetic, observe_extractions  # stdlib only: cheap

    reports: list[Any] = []
    emulator = getattr(item.stash.get(_ENVIRONMENT, None), "emulator", None)  # simulate only
    with contextlib.ExitStack() as stack:
        stack.enter_context(observe_extractions(reports.append))
        if emulator is not None:
            stack.enter_context(explaining_synthetic(
                lambda provider, custom_id: (provider, custom_id) in emulator.responder.synthetic))
        try:
            return (yield)
        finally:
            if reports:
                summary.record_accuracy(item.config.stash[_STATS], item, reports)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    from ..assertions import assertrepr_compare

    return assertrepr_compare(op, left, right)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash.setdefault(_DESELECTED, []).extend(items)


def _cassette_owners(config: pytest.Config, items: list[pytest.Item]) -> cfg.CassetteOwners:
    """Every batch test's cassettes, for every provider its marker allows."""
    session_options = config.stash[_SESSION]
    owners = cfg.CassetteOwners()
    for item in items:
        if "batch_provider" not in getattr(item, "fixturenames", ()) or not hasattr(item, "callspec"):
            continue
        provider = item.callspec.params.get("batch_provider")
        if provider not in cfg.PROVIDERS:  # a test whose marker allows none of this run's providers: "[NOTSET]"
            provider = "NOTSET"
        marker = _marker(item)
        paths = cfg.cassette_paths(session_options, marker, module_name=item.path.stem,
                                   test_name=_test_name(item, provider))
        owners.add(_test_id(item, provider), paths, named=marker.cassette)
    return owners


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    items = [*session.items, *config.stash.get(_DESELECTED, [])]
    owners = _cassette_owners(config, items)
    clashes = owners.clashes(config.rootpath)
    if clashes and hasattr(config, "workerinput"):
        # a worker cannot stop the run with a usage error (xdist reports an internal error): the
        # clashing tests fail at setup instead, with the same message
        config.stash[_CLASHES] = {test_id: message for ids, message in clashes.items() for test_id in ids}
    elif clashes:
        raise pytest.UsageError("\n".join(clashes.values()))
    if not config.getoption("batch_check_cassettes") or hasattr(config, "workerinput"):
        return
    from ..cassettes import check_cassettes

    cassette_dir = config.stash[_SESSION].cassette_dir
    narrowed_by = cfg.narrowing(config)
    not_checked: list[Path] = []
    if narrowed_by and cassette_dir.is_dir():
        # a narrowed run cannot tell whether an uncollected module still uses its cassettes
        collected = {cfg.module_folder(item.path.stem) for item in items if getattr(item, "path", None)}
        used = {path.resolve() for path in owners.used}
        not_checked = sorted(path for pattern in ("*.yaml", "*.yml") for path in cassette_dir.rglob(pattern)
                             if path.resolve() not in used and cfg.cassette_module(cassette_dir, path) not in collected)
        if not_checked and set(narrowed_by) <= set(cfg.DEFAULT_NARROWING):  # a module found nowhere else is gone
            from ..cassettes.state import test_modules_outside

            elsewhere = test_modules_outside(config.rootpath, [*cfg.collected_roots(config), cassette_dir],
                                             file_patterns=config.getini("python_files"),
                                             skip_dirs=config.getini("norecursedirs"))
            folders = {cfg.module_folder(stem) for stem in elsewhere}
            not_checked = [path for path in not_checked if cfg.cassette_module(cassette_dir, path) in folders]
    report = check_cassettes(cassette_dir, owners.used | set(not_checked))
    config.stash[_CASSETTE_REPORT] = summary.CassetteCheck(report, not_checked, narrowed_by)


def pytest_sessionfinish(session: pytest.Session) -> None:
    check = session.config.stash.get(_CASSETTE_REPORT, None)
    if check is not None and not check.report.ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[summary.WORKEROUTPUT_KEY] = session.config.stash[_STATS].to_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get(summary.WORKEROUTPUT_KEY)
    if data is not None:
        node.config.stash[_STATS].merge(data)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    check = config.stash.get(_CASSETTE_REPORT, None)
    if check is not None:
        terminalreporter.write_sep("-", "pytest-batch cassette check")
        for line in check.lines():
            terminalreporter.write_line(line)
    stats = config.stash.get(_STATS, None)
    if stats is None:
        return
    if stats.providers:
        terminalreporter.write_sep("-", "pytest-batch summary")
        summary.render(stats, terminalreporter.write_line)
    if stats.accuracy:
        terminalreporter.write_sep("-", "pytest-batch field accuracy (assert_extractions)")
        summary.render_accuracy(stats, terminalreporter.write_line)
