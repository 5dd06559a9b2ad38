"""What one batch test runs against: the options object of the pytest plugin.

The session's settings come from the command line, else the ini file (``pytest.ini`` or
``[tool.pytest.ini_options]``), else the defaults below; a test's ``@pytest.mark.batch``
marker then narrows or pins them for that test (like pytest-httpx's ``_options.py``).
The plugin (``plugin/__init__.py``) only wires these into pytest; everything here is plain Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import model_catalog
from ..cassettes.paths import cassette_dir_of, recorded_against
from ..endpoints import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_PROVIDERS,
    LOOPBACK_HOSTS,
    NEEDS_BASE_URL,
    PROVIDERS,
    SDK_BASE_URLS,
)

if TYPE_CHECKING:
    from ..sim.core import Emulator

#: the default model of each provider, the catalog's (override with --batch-model; an Azure model
#: string names a Global-Batch deployment: record with --batch-model=azure/<yours>).
DEFAULT_MODELS: dict[str, str] = model_catalog.DEFAULT_MODELS

MODES: tuple[str, ...] = ("auto", "simulate", "replay", "record", "live")
#: modes that may open real connections (and spend money).
NETWORK_MODES = frozenset({"record", "live"})

MARKER_DOC = ("batch(providers=None, mode=None, cassette=None, lifecycle=None, faults=None, response_model=None, "
              "responses=None): make a test a pytest-batch test (run once per provider, its SDK clients routed by "
              "mode) and configure it: narrow the providers it runs against, pin its mode, name its cassette, set "
              "the emulator's lifecycle ('immediate', 'polls:N', 'seconds:S', 'manual'), inject emulator faults, "
              "name the pydantic model batch_processor extracts (a class or 'module:Class'), or give the "
              "emulator an expectations file (JSONL or YAML, relative to the test file) to answer prompts with.")
_MARKER_KEYS = frozenset({"providers", "mode", "cassette", "lifecycle", "faults", "response_model", "responses"})


class BatchConfigError(ValueError):
    """A bad --batch-* option, ini setting or ``batch`` marker argument."""


# ---------------------------------------------------------------------- parsing
def parse_providers(value: str | Iterable[str] | None, *, source: str = "--batch-provider") -> tuple[str, ...]:
    """``"openai"``, ``"openai,google"``, ``"all"``, ``"all,azure"`` or a list of names -> provider
    tuple (known order). ``all`` is the public APIs (DEFAULT_PROVIDERS); azure runs when named."""
    if value is None:
        return DEFAULT_PROVIDERS
    names = [part.strip().lower() for part in (value.split(",") if isinstance(value, str) else value)]
    names = [name for name in names if name]
    if not names:
        return DEFAULT_PROVIDERS
    unknown = [name for name in names if name not in PROVIDERS and name != "all"]
    if unknown:
        raise BatchConfigError(f"{source}: unknown provider {', '.join(map(repr, unknown))}; "
                               f"choose from {', '.join(PROVIDERS)} or 'all' ({', '.join(DEFAULT_PROVIDERS)})")
    if "all" in names:
        names.extend(DEFAULT_PROVIDERS)
    return tuple(p for p in PROVIDERS if p in names)


def parse_hosts(value: str | list[str] | None) -> tuple[str, ...]:
    """``--batch-allow-hosts`` / ``batch_allow_hosts``: host names or IP addresses, comma or space
    separated (as pytest-socket's allow-hosts)."""
    if not value:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(host for item in items for host in item.replace(",", " ").split())


def parse_mode(value: str | None, *, source: str = "--batch-mode") -> str:
    mode = (value or "auto").strip().lower()
    if mode not in MODES:
        raise BatchConfigError(f"{source}: unknown mode {value!r}; choose from {', '.join(MODES)}")
    return mode


def parse_models(values: Iterable[str] | None, *, source: str = "--batch-model",
                 base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``["openai/gpt-4o", "google/gemini-2.5-flash"]`` -> the full provider -> model table:
    ``base`` (default: the default models) with the named providers replaced."""
    models = dict(DEFAULT_MODELS if base is None else base)
    for raw in values or ():
        for value in str(raw).replace(",", " ").split():
            provider, slash, name = value.partition("/")
            if not slash or not name or provider not in PROVIDERS:
                raise BatchConfigError(f"{source}: {value!r} is not provider/model, e.g. {DEFAULT_MODELS['openai']} "
                                       f"(providers: {', '.join(PROVIDERS)}; `pytest-batch list-models` lists models)")
            models[provider] = value
    return models


def _positive(value: Any, source: str, kind: Callable[[Any], Any]) -> Any:
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise BatchConfigError(f"{source}: expected a number, got {value!r}") from None
    if number <= 0:
        raise BatchConfigError(f"{source}: must be greater than 0, got {value!r}")
    return number


# ---------------------------------------------------------------------- session options
@dataclass(frozen=True)
class SessionOptions:
    """The run's settings: command line first, then ini, then defaults."""

    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    mode: str = "auto"
    cassette_dir: Path = Path("cassettes")
    models: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    record_timeout: float | None = None
    max_requests: int | None = None
    #: the ``batch_response_model`` ini setting ("module:Class"), imported when a test first needs it
    response_model: str | None = None
    #: hosts reachable besides loopback (the emulator server) where the network is blocked
    allow_hosts: tuple[str, ...] = ()
    #: --batch-block-network: block the network in every test of the run, not only batch tests
    block_every_test: bool = False

    @property
    def reachable(self) -> tuple[str, ...]:
        """What a blocked test may still connect to: loopback (an emulator server) and --batch-allow-hosts."""
        return (*LOOPBACK_HOSTS, *self.allow_hosts)

    @classmethod
    def from_pytest(cls, config: Any) -> SessionOptions:
        """Read ``--batch-*`` options, falling back to the ``batch_*`` ini settings."""
        def pick(name: str) -> tuple[Any, str]:
            """The value of ``--batch-x`` or else the ``batch_x`` ini setting, and where it came from."""
            flag = "--" + name.replace("_", "-")
            value = config.getoption(name, default=None)
            if value is not None and value != []:
                return value, flag
            value = config.getini(name)
            return (value if value not in ("", []) else None), f"ini setting {name}"

        cassette_dir = cassette_dir_of(config)
        # per provider: defaults, then the ini's entries, then the command line's
        ini_models = config.getini("batch_model")
        models = parse_models([ini_models] if isinstance(ini_models, str) else ini_models,
                              source="ini setting batch_model")
        models = parse_models(config.getoption("batch_model", default=None), base=models)
        providers, providers_source = pick("batch_provider")
        mode, mode_source = pick("batch_mode")
        record_timeout, record_timeout_source = pick("batch_record_timeout")
        max_requests, max_requests_source = pick("batch_max_requests")
        allow_hosts, _ = pick("batch_allow_hosts")
        block_every_test = bool(config.getoption("batch_block_network", default=False)) or \
            (config.getini("batch_block_network") or "").strip().lower() in ("1", "true", "yes", "on")
        response_model = (config.getini("batch_response_model") or "").strip() or None
        if response_model is not None:
            _check_model_spec(response_model, "ini setting batch_response_model")
        return cls(
            providers=parse_providers(providers, source=providers_source),
            mode=parse_mode(mode, source=mode_source),
            cassette_dir=cassette_dir,
            models=models,
            record_timeout=_positive(record_timeout, record_timeout_source, float),
            max_requests=_positive(max_requests, max_requests_source, int),
            response_model=response_model,
            allow_hosts=parse_hosts(allow_hosts),
            block_every_test=block_every_test,
        )


def _check_model_spec(spec: str, source: str) -> None:
    from ..response_models import split_spec

    if not split_spec(spec)[0]:
        raise BatchConfigError(f"{source}: expected 'module:Class' (e.g. myapp.models:Invoice), got {spec!r}")


# ---------------------------------------------------------------------- per-test options
@dataclass(frozen=True)
class MarkerOptions:
    """The arguments of ``@pytest.mark.batch`` (the closest marker wins per argument)."""

    providers: tuple[str, ...] | None = None
    mode: str | None = None
    cassette: str | None = None
    lifecycle: str | None = None
    faults: Any = None
    #: a pydantic model class, or "module:Class" (imported when a test first needs it)
    response_model: Any = None
    #: an expectations file for the emulator, relative to the test file
    responses: str | None = None

    @classmethod
    def from_markers(cls, markers: Iterable[Any]) -> MarkerOptions:
        """Merge ``batch`` markers, closest first (``node.iter_markers("batch")`` order)."""
        merged: dict[str, Any] = {}
        for marker in markers:
            if marker.args:
                raise BatchConfigError("@pytest.mark.batch takes keyword arguments only: "
                                       + ", ".join(f"{key}=" for key in sorted(_MARKER_KEYS)))
            unknown = set(marker.kwargs) - _MARKER_KEYS
            if unknown:
                raise BatchConfigError(f"@pytest.mark.batch: unknown argument {', '.join(sorted(unknown))}; "
                                       f"use {', '.join(sorted(_MARKER_KEYS))}")
            for key, value in marker.kwargs.items():
                merged.setdefault(key, value)
        providers = merged.get("providers")
        response_model = merged.get("response_model")
        if isinstance(response_model, str):
            _check_model_spec(response_model, "@pytest.mark.batch(response_model=)")
        elif response_model is not None:
            from ..response_models import ResponseModelImportError, check_response_model

            try:
                check_response_model(response_model, where=f"@pytest.mark.batch(response_model={response_model!r})")
            except ResponseModelImportError as error:
                raise BatchConfigError(str(error)) from None
        responses = merged.get("responses")
        if responses is not None and not isinstance(responses, str | os.PathLike):
            raise BatchConfigError(f"@pytest.mark.batch(responses=): expected the path of an expectations file "
                                   f"(JSONL, JSON or YAML), got {type(responses).__name__}")
        return cls(
            providers=parse_providers(providers, source="@pytest.mark.batch(providers=)") if providers else None,
            mode=parse_mode(merged["mode"], source="@pytest.mark.batch(mode=)") if merged.get("mode") else None,
            cassette=merged.get("cassette"),
            lifecycle=merged.get("lifecycle"),
            faults=merged.get("faults"),
            response_model=response_model,
            responses=os.fspath(responses) if responses is not None else None,
        )


def selected_providers(session: SessionOptions, marker: MarkerOptions) -> tuple[str, ...]:
    """The session's providers, narrowed by the marker's ``providers=``."""
    if marker.providers is None:
        return session.providers
    return tuple(p for p in session.providers if p in marker.providers)


@dataclass(frozen=True)
class TestOptions:
    """Everything one parametrized batch test runs with."""

    provider: str
    model: str
    mode: str  # the effective mode: never "auto" (auto resolves to replay or simulate)
    cassette: Path
    lifecycle: str | None
    faults: Any
    record_timeout: float | None
    max_requests: int | None
    #: set when the test cannot run in this mode: the plugin skips it with this reason.
    skip_reason: str | None = None
    #: the mode the user asked for (option, ini or marker), before auto resolved it.
    requested_mode: str | None = None
    #: the marker's response_model=, else the ini's batch_response_model (a class or "module:Class"),
    #: else None: the seed's User
    response_model: Any = None
    #: where ``response_model`` was named, for messages
    response_model_source: str = "ini setting batch_response_model"
    #: the marker's responses=: an expectations file, as written (relative to the test file)
    responses: str | None = None
    #: what the test may still connect to where the network is blocked (loopback, --batch-allow-hosts)
    allow_hosts: tuple[str, ...] = LOOPBACK_HOSTS

    @property
    def mode_label(self) -> str:
        """The mode as the user chose it: ``simulate``, or ``auto (simulating)`` / ``auto (replaying)``."""
        requested = self.requested_mode or self.mode
        if requested == self.mode:
            return self.mode
        return f"{requested} ({'simulating' if self.mode == 'simulate' else 'replaying'})"

    @property
    def blocks_network(self) -> bool:
        return self.mode not in NETWORK_MODES

    @property
    def uses_cassette(self) -> bool:
        return self.mode in ("replay", "record")


def resolve(session: SessionOptions, marker: MarkerOptions, provider: str, *, module_name: str,
            test_name: str, programs_emulator: bool = False, nodeid: str | None = None) -> TestOptions:
    """The effective options of one test for one provider.

    Precedence: a marker's ``mode=`` pins offline modes (simulate/replay/auto); a marker asking
    for ``record``/``live`` only takes effect when the run itself is record or live (a default run
    never reaches the network). Faults exist only in the emulator, so in auto mode a test with
    ``faults=`` always simulates, and in replay/record/live it is skipped. A test that
    ``programs_emulator`` (uses ``batch_sim``) is a simulation test: auto never swaps in a cassette.
    Otherwise auto replays a recorded cassette and simulates without one; a pending cassette (a
    recording left at --batch-record-timeout) simulates with a PytestWarning naming it and the
    command (for ``nodeid``) that finishes it.
    """
    requested = session.mode
    skip = None
    if marker.mode is not None:
        if marker.mode in NETWORK_MODES and session.mode not in NETWORK_MODES:
            skip = (f"marked mode={marker.mode!r}, which needs the network: run with --batch-mode={marker.mode} "
                    f"(this run is --batch-mode={session.mode})")
        else:
            requested = marker.mode
    cassette = _cassette_for(session.cassette_dir, provider, module_name, test_name, marker.cassette)
    mode = requested
    if mode == "auto":
        if marker.faults or programs_emulator:
            mode = "simulate"
        else:
            from ..cassettes import auto_mode

            mode = auto_mode(cassette, nodeid)
    if marker.faults and mode != "simulate" and skip is None:
        skip = (f"injects emulator faults, which only --batch-mode=simulate or auto can do "
                f"(this test resolved to {mode})")
    return TestOptions(provider=provider, model=session.models[provider], mode=mode,
                       cassette=cassette, lifecycle=marker.lifecycle, faults=marker.faults,
                       record_timeout=session.record_timeout, max_requests=session.max_requests, skip_reason=skip,
                       requested_mode=requested, response_model=marker.response_model or session.response_model,
                       response_model_source=("@pytest.mark.batch(response_model=)" if marker.response_model
                                              else "ini setting batch_response_model"),
                       responses=marker.responses, allow_hosts=session.reachable)


def cassette_paths(session: SessionOptions, marker: MarkerOptions, *, module_name: str,
                   test_name: str) -> dict[str, Path]:
    """A test's cassette for every provider its marker allows, whatever this run selected: what
    the stale-cassette check counts as used, and where two tests must not meet."""
    return {provider: _cassette_for(session.cassette_dir, provider, module_name, test_name, marker.cassette)
            for provider in marker.providers or PROVIDERS}


@dataclass
class CassetteOwners:
    """Which test ids map to which cassettes, across every collected test (deselected ones too)."""

    owners: dict[Path, dict[str, bool]] = field(default_factory=dict)  # path -> {test id: named by cassette=}
    providers: dict[Path, dict[str, str | None]] = field(default_factory=dict)  # path -> {provider: cassette=}

    def add(self, test_id: str, paths: Mapping[str, Path], *, named: str | None = None) -> None:
        """``paths``: the test's cassette per provider; ``named``: its marker's ``cassette=``, if any."""
        for provider, path in paths.items():
            self.owners.setdefault(path, {})[test_id] = named is not None
            self.providers.setdefault(path, {})[provider] = named

    @property
    def used(self) -> set[Path]:
        return set(self.owners)

    def clashes(self, rootdir: Path | None = None) -> dict[tuple[str, ...], str]:
        """The test ids that would silently share a cassette, and the message saying so (once per
        group, whatever the providers). Tests that all name the same cassette with ``cassette=``
        share it on purpose and are left alone, unless they run for different providers: a
        cassette holds one provider's traffic."""
        messages: dict[tuple[str, ...], str] = {}
        for path, tests in self.owners.items():
            ids = tuple(sorted(tests))
            providers = self.providers.get(path, {})
            shown = path.relative_to(rootdir) if rootdir and path.is_relative_to(rootdir) else path
            if len(providers) > 1:
                if ids in messages:
                    continue
                named = next((name for name in providers.values() if name), None) or shown.name
                messages[ids] = (
                    f"pytest-batch: {' and '.join(ids)} would use the cassette {shown} for "
                    f"{', '.join(providers)}, but a cassette holds one provider's recording. Put the "
                    f"{{provider}} placeholder in its name, e.g. "
                    f"@pytest.mark.batch(cassette={_per_provider(named)!r}), or narrow the test to one provider "
                    f"with providers=.")
                continue
            if len(tests) < 2 or all(tests.values()):
                continue
            if ids in messages:  # the same tests clash for every provider: report them once
                continue
            messages[ids] = (
                f"pytest-batch: {' and '.join(ids)} would share the cassette {shown} (a cassette path names "
                f"the test module's file, not its folder). Give one its own cassette, e.g. "
                f"@pytest.mark.batch(cassette={_suggested_name(ids[-1])!r}).")
        return messages


def _per_provider(name: str) -> str:
    """``shared/x.yaml`` -> ``shared/{provider}/x.yaml``: the cassette= name, one file per provider."""
    folder, slash, file = name.rpartition("/")
    return f"{folder}{slash}{{provider}}/{file}"


def _suggested_name(test_id: str) -> str:
    """``b/test_same.py::test_users`` -> ``test_users_b``: the folder tells the clashing tests apart."""
    module, _, name = test_id.rpartition("::")
    folder = Path(module.split("::")[0]).parent.name
    return f"{name.replace('::', '.')}_{folder}" if folder else f"{name}_2"


def cassette_module(cassette_dir: Path, path: Path) -> str | None:
    """The test-module folder of a cassette at ``<dir>/<provider>/<module>/<name>.yaml``, else None."""
    try:
        parts = path.relative_to(cassette_dir).parts
    except ValueError:
        return None
    return parts[1] if len(parts) == 3 else None


def module_folder(module_name: str) -> str:
    """The folder a test module's cassettes live in (``test_x`` -> ``test_x``)."""
    from ..cassettes import cassette_path

    return cassette_path(Path(), PROVIDERS[0], module_name, "_").parent.name


def narrowing(config: Any) -> list[str]:
    """How this pytest run leaves whole test modules uncollected, if it does: explicit test paths that
    do not cover the rootdir (or every testpaths entry), --ignore / --ignore-glob, --lf. Empty for a
    run that collects every module: -k, -m and --deselect only deselect tests of collected modules,
    and a deselected test still counts as using its cassettes."""
    option = config.option
    reasons = []
    if _narrowed_by_args(config):
        reasons.append("test paths")
    elif default := _narrowed_by_default_paths(config):
        reasons.append(default)
    for flag, on in (("--ignore", getattr(option, "ignore", None) or getattr(option, "ignore_glob", None)),
                     ("--lf", getattr(option, "lf", False))):
        if on:
            reasons.append(flag)
    return reasons


def _narrowed_by_args(config: Any) -> bool:
    if config.args_source != config.ArgsSource.ARGS:
        return False
    if any("::" in arg for arg in config.args):
        return True
    here = Path(config.invocation_params.dir)
    given = [(here / arg).resolve() for arg in config.args]

    def covered(target: Path) -> bool:
        return any(path == target or path in target.parents for path in given)
    testpaths = [(Path(config.rootpath) / entry).resolve() for entry in config.getini("testpaths")]
    return not (covered(Path(config.rootpath).resolve()) or (testpaths and all(map(covered, testpaths))))


#: narrowing by what pytest collects by default: only a test module that exists outside those
#: paths leaves its cassettes unjudged (``cassettes.test_modules_outside``); the others are stale
DEFAULT_NARROWING = ("testpaths", "the current directory")


def _narrowed_by_default_paths(config: Any) -> str | None:
    """A run of pytest's default paths (its testpaths, or the folder it started in, or test paths that
    cover those) that leaves part of the rootdir out: ``testpaths = ["tests"]`` does not collect
    ``examples/``."""
    if getattr(config.option, "pyargs", False):
        return None
    root = Path(config.rootpath).resolve()
    if any(path == root or path in root.parents for path in collected_roots(config)):
        return None
    return "the current directory" if config.args_source == config.ArgsSource.INVOCATION_DIR else "testpaths"


def collected_roots(config: Any) -> list[Path]:
    """The folders and files this run collected from (its test paths, testpaths, or where it started)."""
    here = Path(config.invocation_params.dir)
    return [(here / arg.split("::")[0]).resolve() for arg in config.args]


def _cassette_for(cassette_dir: Path, provider: str, module_name: str, test_name: str, override: str | None) -> Path:
    from ..cassettes import cassette_path

    if override:
        name = override.format(provider=provider)
        if "/" in name or name.endswith((".yaml", ".yml")):
            path = Path(name)
            path = path if path.is_absolute() else cassette_dir / path
            return path if path.suffix in (".yaml", ".yml") else path.with_suffix(".yaml")
        test_name = name
    return cassette_path(cassette_dir, provider, module_name, test_name)


# ---------------------------------------------------------------------- applying options
def apply_faults(emulator: Emulator, faults: Any) -> None:
    """Apply a marker's ``faults=``: the emulator's fault spec (``{"requests": {"request-3":
    "expired"}, "fractions": [...], "batches": [...], "http": [...]}``, see ``Faults.load``), a
    callable taking the emulator, or a list of either."""
    if faults is None:
        return
    for item in faults if isinstance(faults, list | tuple) else [faults]:
        if callable(item):
            item(emulator)
        elif isinstance(item, Mapping):
            unknown = set(item) - {"requests", "fractions", "batches", "http"}
            if unknown:
                raise BatchConfigError(f"@pytest.mark.batch(faults=): unknown key(s) {sorted(unknown)}; use "
                                       "requests, fractions, batches, http")
            try:
                emulator.faults.load(dict(item))
            except (TypeError, ValueError) as error:
                raise BatchConfigError(f"@pytest.mark.batch(faults=): {error}") from None
        else:
            raise BatchConfigError(f"@pytest.mark.batch(faults=): {item!r} is neither a fault spec dict "
                                   "(requests/fractions/batches/http) nor a callable taking the emulator")


def missing_api_key(provider: str, environ: Mapping[str, str] | None = None, *, mode: str = "record") -> str | None:
    """The actionable message when ``provider`` has no API key in the environment for ``mode``
    (record or live), else None."""
    environ = os.environ if environ is None else environ
    names = API_KEY_ENV[provider]
    if provider in NEEDS_BASE_URL and not environ.get(BASE_URL_ENV[provider]):
        # no public host to fall back on: the user's own resource, or an emulator server
        return (f"pytest-batch: --batch-mode={mode} needs your Azure OpenAI resource: set {BASE_URL_ENV[provider]} "
                f"(e.g. https://my-resource.openai.azure.com) and {' or '.join(names)}, with --batch-model="
                f"azure/<your Global-Batch deployment> (or point {BASE_URL_ENV[provider]} at an emulator server, "
                "`pytest-batch serve` prints it), or run offline with --batch-mode=replay or simulate")
    if any(environ.get(name) for name in names):
        return None
    return (f"pytest-batch: --batch-mode={mode} needs a real {provider} API key: set {' or '.join(names)} "
            f"(or point {BASE_URL_ENV[provider]} at an emulator server with any key), or run offline with "
            "--batch-mode=replay or simulate")


def base_url(provider: str, environ: Mapping[str, str] | None = None) -> str:
    """Where record and live mode send ``provider``'s requests: its *_BASE_URL, else the SDK's default."""
    environ = os.environ if environ is None else environ
    return environ.get(BASE_URL_ENV[provider]) or SDK_BASE_URLS[provider]


def sdk_client(provider: str, *, api_key: str | None = None, default_base_url: bool = False,
               cache: dict[tuple[str, str | None, str | None], Any] | None = None) -> Any:
    """The provider's SDK client from the environment (key and base URL env honoured);
    ``api_key`` replaces the key, ``default_base_url`` ignores the base URL env (replay).
    With ``cache``, one client per (provider, key, base URL) is reused: making one costs
    tens of milliseconds (TLS setup)."""
    from ..providers import provider_named  # the processor's own client construction

    environ = os.environ
    key = api_key or next((environ[n] for n in API_KEY_ENV[provider] if environ.get(n)), None)
    base_url = SDK_BASE_URLS[provider] if default_base_url else environ.get(BASE_URL_ENV[provider]) or None
    if cache is not None:
        cache_key = (provider, key, base_url)
        if cache_key not in cache:
            cache[cache_key] = provider_named(provider).new_client(key, base_url)
        return cache[cache_key]
    return provider_named(provider).new_client(key, base_url)


__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "DEFAULT_MODELS", "DEFAULT_NARROWING", "MODES", "PROVIDERS",
           "BatchConfigError", "CassetteOwners", "MarkerOptions", "SessionOptions", "TestOptions", "apply_faults",
           "base_url", "cassette_dir_of", "cassette_module", "cassette_paths", "collected_roots", "missing_api_key",
           "module_folder", "narrowing", "parse_mode", "parse_models", "parse_providers", "recorded_against",
           "resolve", "sdk_client", "selected_providers"]
