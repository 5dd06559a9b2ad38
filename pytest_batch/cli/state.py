"""The simulated state of ``--simulate``: one emulator pickled in a state directory between commands,
signed with a per-user key (never unpickled unless it verifies), read and written request by
request under a lock held only that long."""

from __future__ import annotations

import contextlib
import os
import shlex
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .target import DEFAULT_STATE_DIR, CLIError, Target

#: where the key that signs simulated state lives (below $XDG_CONFIG_HOME or ~/.config).
STATE_KEY_FILE = Path("pytest-batch") / "state.key"
_STATE_MAGIC = b"pytest-batch signed emulator state v1\n"
#: simulated batches finish on their second status read, so ``status`` shows progress.
DEFAULT_SIM_LIFECYCLE = "polls:2"


def new_emulator(*, lifecycle: str | None = None, responses: str | None = None, seed: int | None = None) -> Any:
    """A fresh emulator answering the seed's ten prompts with their users, on the wall clock.

    Without ``seed`` a random one is drawn (and kept in the saved state), so two state
    directories, two demos or two servers never issue the same batch ids."""
    import secrets

    from ..sim import Clock, Emulator

    seed = secrets.randbits(31) if seed is None else seed
    emulator = Emulator(seed=seed, lifecycle=lifecycle or DEFAULT_SIM_LIFECYCLE, clock=Clock())
    load_responses(emulator, responses)
    return emulator


def load_responses(emulator: Any, responses: str | None) -> None:
    """The user's expectations file first (first match wins), then the seed's expectations."""
    from ..seed import seed_expectations
    from ..sim.responders import ExpectationError

    emulator.responder.expectations.clear()
    if responses:
        try:
            emulator.load_expectations(responses)
        except (ExpectationError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    emulator.load_expectations(seed_expectations())


class NoSimulatedState(CLIError):
    """A command that reads simulated state found none (and creates none)."""


def no_state_message(path: Path) -> str:
    return (f"no simulated state in {path.parent.absolute()} (nothing was created with --simulate here); run "
            f"the command where you created the batch, or pass --state-dir DIR (or set PYTEST_BATCH_STATE_DIR) to that "
            f"directory's {DEFAULT_STATE_DIR}")


@contextlib.contextmanager
def simulated_state(target: Target, *, lifecycle: str | None = None, responses: str | None = None,
                    write: bool = True, create: bool = True) -> Iterator[Target]:
    """Point ``target`` at the emulator saved in ``target.state_file`` (or a new one), for the
    length of one command.

    The state is read, checked and, with ``lifecycle`` or ``responses``, changed and saved
    here; from then on every request the command sends loads the newest saved state, is
    answered, and saves it, under the state directory's lock (see SimulatedState). So the lock
    is held for milliseconds, never while a command imports an SDK or ``status --wait``
    sleeps, and a batch another command created meanwhile is never lost. With
    ``create=False`` (commands that only read or change existing batches) a missing state
    raises NoSimulatedState and nothing is created."""
    if not target.simulated:
        yield target
        return
    from ..sim.lifecycle import LifecycleError

    path = target.state_file
    assert path is not None
    if not create and not path.exists():
        raise NoSimulatedState(no_state_message(path))
    with _writable_state(path.parent, "create"):
        path.parent.mkdir(parents=True, exist_ok=True)
    state = SimulatedState(path, write=write)

    def start() -> Any:
        return new_emulator(lifecycle=lifecycle, responses=responses)

    try:
        with state.transaction(start=start if create else None,
                               save=bool(lifecycle or responses is not None)) as emulator:
            if not state.started:
                if responses is not None:
                    load_responses(emulator, responses)
                if lifecycle:
                    emulator.set_lifecycle(lifecycle)
    except LifecycleError as exc:
        raise CLIError(str(exc)) from None
    target.emulator = state
    try:
        yield target
    except StateUnavailable as lost:
        raise lost.error from None


class StateUnavailable(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt, not an error class
    """The state could not be read or written while a request was answered. The SDKs turn any
    Exception raised under them into a connection error (after retrying), so this one passes
    through them, as KeyboardInterrupt would, and ``simulated_state`` raises ``error``."""

    def __init__(self, error: CLIError) -> None:
        super().__init__(error.message)
        self.error = error


class SimulatedState:
    """The emulator saved in a state file, as the request handler of the SDK clients a command
    uses (``sim.clients`` take anything with ``lock`` and ``handle``).

    Each request is one transaction under the state directory's lock: load the saved state if
    another command saved since this one last did, answer, save. Commands running at the same
    time therefore interleave request by request, each seeing the others' batches."""

    def __init__(self, path: Path, *, write: bool = True) -> None:
        self.path = path
        self.write = write
        #: the in-process lock the transports take around ``handle`` (RequestHandler)
        self.lock = threading.RLock()
        #: whether the first transaction started a new state (nothing was saved there before)
        self.started = False
        self._emulator: Any = None
        self._saved: tuple[int, ...] | None = None  # the file as this command last read or wrote it

    # the SDK clients (Target.client asks for them by provider)
    def openai_client(self, **kwargs: Any) -> Any:
        from ..sim.clients import openai_client

        return openai_client(self, **kwargs)

    def anthropic_client(self, **kwargs: Any) -> Any:
        from ..sim.clients import anthropic_client

        return anthropic_client(self, **kwargs)

    def google_client(self, **kwargs: Any) -> Any:
        from ..sim.clients import google_client

        return google_client(self, **kwargs)

    def azure_client(self, **kwargs: Any) -> Any:
        from ..sim.clients import azure_client

        return azure_client(self, **kwargs)

    def handle(self, request: Any) -> Any:
        """Answer one request from the newest saved state, and save what it changed."""
        from ..sim.http import DroppedConnection

        try:
            with self.transaction() as emulator:
                try:
                    return emulator.handle(request)
                except DroppedConnection:  # an injected fault: it was answered (and counted) all the same
                    self._save(emulator)
                    raise
        except CLIError as error:
            raise StateUnavailable(error) from None

    @contextlib.contextmanager
    def transaction(self, *, start: Callable[[], Any] | None = None, save: bool = True) -> Iterator[Any]:
        """The newest saved emulator, under the directory lock, saved again when the block ends
        without an error. ``start`` makes a new emulator when no state is saved yet (the first
        transaction of ``create`` and ``submit``)."""
        _import_emulator()  # unpickling imports the emulator's modules: not while others wait
        directory = self.path.parent
        if self._emulator is not None and not directory.is_dir():
            raise CLIError(self._removed())
        with self.lock, _locked(directory / "lock"):
            emulator = self._newest(start)
            yield emulator
            if save or self.started:
                self._save(emulator)

    def _newest(self, start: Callable[[], Any] | None) -> Any:
        found = _file_identity(self.path)
        if found is None:
            if self._emulator is not None:
                raise CLIError(self._removed())
            if start is None:
                raise NoSimulatedState(no_state_message(self.path))
            self._emulator, self.started = start(), True
        elif found != self._saved:
            emulator = load_state(self.path)
            if self._emulator is not None and emulator.seed != self._emulator.seed:
                raise CLIError(f"the simulated state {self.path} was replaced by a new one while this command ran "
                               "(it was removed and created again); the batches this command was working on are "
                               "gone: create them again")
            self._emulator, self._saved = emulator, found
        return self._emulator

    def _save(self, emulator: Any) -> None:
        if not self.write:
            return
        with _writable_state(self.path.parent, "write"):
            save_state(emulator, self.path)
        self._saved = _file_identity(self.path)

    def _removed(self) -> str:
        return (f"the simulated state {self.path} was removed while this command ran; nothing was saved over it "
                "(run the command again to start a new state)")


def _file_identity(path: Path) -> tuple[int, ...] | None:
    """What changes whenever a state file is saved (save_state replaces the file); None: no file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _import_emulator() -> None:
    """Import every module an emulator's pickle names (making one does), once per process."""
    from ..sim import Emulator

    global _EMULATOR_IMPORTED
    if not _EMULATOR_IMPORTED:
        Emulator()
        _EMULATOR_IMPORTED = True


_EMULATOR_IMPORTED = False


# --------------------------------------------------------------------------- signed state files
# The emulator's state is a pickle, and unpickling runs code: a state file from a checkout
# you did not write (or from another user) must never be loaded. So the file is signed with
# a key only this user can read, and checked for owner and permissions before it is read.
def save_state(emulator: Any, path: Path) -> None:
    """Write ``emulator`` to ``path`` (mode 0600, atomically) as a signed pickle."""
    import hashlib
    import hmac
    import pickle

    data = pickle.dumps(emulator)
    signature = hmac.new(_state_key(), data, hashlib.sha256).hexdigest().encode()
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(_STATE_MAGIC + signature + b"\n" + data)
    os.replace(tmp, path)


def load_state(path: Path) -> Any:
    """The emulator saved at ``path``, once its owner, permissions and signature are checked."""
    import hashlib
    import hmac
    import pickle

    from ..sim import Emulator

    refuse = f"refusing to load the simulated state {path}: it is a pickle, and loading it would run its code"
    _check_private(path, refuse)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CLIError(f"cannot read the simulated state {path} ({exc.strerror or exc})") from None
    signature, _, data = blob.removeprefix(_STATE_MAGIC).partition(b"\n")
    expected = hmac.new(_state_key(), data, hashlib.sha256).hexdigest().encode()
    if not blob.startswith(_STATE_MAGIC) or not hmac.compare_digest(signature, expected):
        raise CLIError(f"{refuse}, and it was not written by pytest-batch for you (its signature does not match "
                       f"your key {_state_key_path()}); delete it to start over")
    try:
        emulator = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise CLIError(f"cannot read the simulated state {path} ({exc}); delete it to start over") from None
    if not isinstance(emulator, Emulator):
        raise CLIError(f"{path} does not hold a pytest-batch emulator state; delete it to start over")
    return emulator


def _check_private(path: Path, refuse: str) -> None:
    """Refuse a file another user owns or may write (POSIX; nothing to check elsewhere)."""
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows
        return
    info = path.stat()
    if info.st_uid != os.getuid():
        raise CLIError(f"{refuse}, and it belongs to another user (uid {info.st_uid}); delete it, or pass "
                       "--state-dir to a directory of your own")
    if info.st_mode & 0o022:
        raise CLIError(f"{refuse}, and other users may write it (mode {info.st_mode & 0o777:o}); delete it, "
                       "or `chmod go-w` it if you trust it")


def _check_unreadable(path: Path, refuse: str) -> None:
    """Refuse a key other users may read, as ssh refuses an unprotected private key: whoever reads it
    can sign a state that runs their code as you (POSIX; nothing to check elsewhere)."""
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise CLIError(f"{refuse}: other users may read it (mode {mode:o}), and whoever reads it can sign a "
                       f"simulated state that runs their code as you; run `chmod 600 {shlex.quote(str(path))}`")


def _state_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / STATE_KEY_FILE


def _state_key() -> bytes:
    """This user's key for signing simulated state (made on first use, mode 0600)."""
    import secrets

    path = _state_key_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
                handle.write(secrets.token_hex(32).encode())
        except FileExistsError:
            pass
        refuse = f"refusing to use the state signing key {path}"
        _check_private(path, refuse)
        _check_unreadable(path, refuse)
        key = path.read_bytes().strip()
    except OSError as exc:
        raise CLIError(f"cannot use the simulated state's signing key {path} ({exc.strerror or exc}); "
                       "set XDG_CONFIG_HOME to a directory you can write") from None
    if len(key) < 32:
        raise CLIError(f"the simulated state's signing key {path} is too short; delete it to make a new one")
    return key


@contextlib.contextmanager
def _writable_state(directory: Path, action: str) -> Iterator[None]:
    """An OSError on the state directory as one CLIError naming it and the way out."""
    try:
        yield
    except OSError as exc:
        raise CLIError(f"cannot {action} the simulated state directory {directory} "
                       f"({exc.strerror or exc}); pass a writable --state-dir or set PYTEST_BATCH_STATE_DIR") \
            from None


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, last writer wins
        yield
        return
    with contextlib.ExitStack() as stack:
        with _writable_state(lock_path.parent, "lock"):
            handle = stack.enter_context(open(lock_path, "a+"))
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- the models batches were created with
#: beside the simulated state: ``{"<provider> <batch id>": "<model>"}`` for batches this CLI created
BATCH_MODELS_FILE = "batch-models.json"


def remember_models(directory: Path, provider: str, batch_ids: list[str], model: str) -> None:
    """Record the model ``batch_ids`` were created with, for ``list`` and ``status`` to show.

    Anthropic's MessageBatch names no model (wire-formats.md B.2), nor does an Azure OpenAI batch
    (docs/azure-batch.md), and an OpenAI batch names its model only once validated: the CLI's own
    record is all there is then. A record that cannot be
    written is skipped (the batch exists all the same; its model then shows as "-")."""
    import json

    path = directory / BATCH_MODELS_FILE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / "lock"):
            known = _read_models(path)
            known.update({f"{provider} {batch_id}": model for batch_id in batch_ids})
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
    except (OSError, CLIError):
        return


def remembered_models(directory: Path) -> Callable[[str, str], str | None]:
    """The models this CLI recorded, read once: ``model(provider, batch_id)``, the model of
    ``batch_id`` (every part of a split job the same), else None."""
    known = _read_models(directory / BATCH_MODELS_FILE)

    def model(provider: str, batch_id: str) -> str | None:
        models = {known.get(f"{provider} {part}") for part in batch_id.split(",")}
        return models.pop() if len(models) == 1 else None

    return model


def _read_models(path: Path) -> dict[str, str]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(data, dict) else {}
