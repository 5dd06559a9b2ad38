"""What each --batch-mode means for one test: its SDK client, its keys, how it waits, and the
live-spend guard. ``environment.py`` (where a test's clients go) and the fixtures in
``plugin/__init__.py`` call these."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import options as cfg

if TYPE_CHECKING:
    from ..sim.core import Emulator


#: the cassette session of the running test (record/replay), for the call hook's messages
CASSETTE_SESSION = pytest.StashKey[Any]()
#: whether the test's call phase failed (a failed test records no cassette)
CALL_FAILED = pytest.StashKey[bool]()


def pending_batch_gone(item: pytest.Item, error: BaseException) -> str | None:
    """The message when a test resuming a pending recording finds its batch gone, else None.

    The batch was submitted in an earlier run and the service no longer has it (deleted, expired,
    an emulator server restarted): no rerun can finish that recording, so the test fails once with
    what to do instead of a BatchNotFoundError traceback. The pending cassette is left as it is."""
    from ..errors import BatchNotFoundError

    session = item.stash.get(CASSETTE_SESSION, None)
    if session is None or not session.resuming or not isinstance(error, BatchNotFoundError):
        return None
    return session.batch_gone_message(cfg.base_url(session.provider))


def not_recorded_note(item: pytest.Item) -> str | None:
    """For a failed test in record mode: the line saying its cassette was not written (else None)."""
    session = item.stash.get(CASSETTE_SESSION, None)
    if session is None or session.mode != "record":
        return None
    unchanged = " (the file already there is unchanged)" if session.had_file else ""
    return (f"pytest-batch: cassette {session.path} not written: the test failed (record mode keeps only passing "
            f"recordings){unchanged}. Fix the test, then record again: {session.record_command()}")


class TestFailed(Exception):
    """Tells the cassette the test failed, so a recording is not saved."""


def wait_within_record_timeout(processor: Any, session: Any, pending: list[BaseException]) -> None:
    from ..cassettes import RecordingPending

    wait = processor.wait

    def within(remaining: float | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        if remaining is not None:
            timeout = kwargs.get("timeout")
            kwargs["timeout"] = remaining if timeout is None else min(timeout, remaining)
        return kwargs

    def wait_or_leave_pending(job: Any, **kwargs: Any) -> Any:
        try:
            return session.wait(lambda remaining: wait(job, **within(remaining, kwargs)),
                                batch_id=getattr(job, "id", None))
        except RecordingPending as stopped:
            pending.append(stopped)
            raise

    async def await_or_leave_pending(job: Any, **kwargs: Any) -> Any:
        try:
            return await session.wait_async(lambda remaining: wait(job, **within(remaining, kwargs)),
                                            batch_id=getattr(job, "id", None))
        except RecordingPending as stopped:
            pending.append(stopped)
            raise

    processor.wait = await_or_leave_pending if inspect.iscoroutinefunction(wait) else wait_or_leave_pending


def answers_from(expectations: Any) -> Any:
    """A responder answering with the first matching expectation, else passing (None): added with
    ``respond_with``, it ranks below the test's own ``expect(...)`` calls."""
    expectations = list(expectations)

    def answer(item: Any) -> Any:
        return next((e.answer() for e in expectations if e.matches(item)), None)
    return answer


def seed_answers() -> Any:
    from ..seed import seed_expectations
    from ..sim.responders import Expectation

    return answers_from(Expectation.from_mapping(row) for row in seed_expectations())


def file_answers(path: Path) -> Any:
    """The answers of an expectations file (JSONL, JSON or YAML; raises ValueError naming the file,
    and the line or item, when it cannot be read)."""
    from ..sim.responders import load_expectations

    return answers_from(load_expectations(path))


def emulator_client(emulator: Emulator, options: cfg.TestOptions) -> Any:
    if options.provider == "google":
        from ..providers.google import RETRY_OPTIONS  # a 429 fault is retried on every provider alike

        return emulator.google_client(http_options={"retry_options": RETRY_OPTIONS})
    return {"openai": emulator.openai_client, "anthropic": emulator.anthropic_client,
            "azure": emulator.azure_client}[options.provider]()


def no_sleep(seconds: float) -> None:
    return None


async def no_async_sleep(seconds: float) -> None:
    return None


def emulated_sleep(emulator: Emulator) -> Any:
    def sleep(seconds: float) -> None:  # waits move the emulator's clock, never the wall clock
        if seconds and seconds > 0:
            emulator.advance(seconds)
    return sleep


def emulated_async_sleep(emulator: Emulator) -> Any:
    move = emulated_sleep(emulator)

    async def sleep(seconds: float) -> None:
        move(seconds)
    return sleep


def real_client(options: cfg.TestOptions, cache: dict[Any, Any]) -> Any:
    from ..sim.clients import FAKE_KEYS

    if options.mode == "replay":  # cassettes answer: no key needed, default hosts
        return cfg.sdk_client(options.provider, api_key=FAKE_KEYS[options.provider], default_base_url=True,
                              cache=cache)
    missing = cfg.missing_api_key(options.provider, mode=options.mode)
    if missing and cfg.recorded_against(options.provider) != "emulator":
        pytest.fail(missing, pytrace=False)
    # an emulator server behind *_BASE_URL takes any key
    return cfg.sdk_client(options.provider, api_key=FAKE_KEYS[options.provider] if missing else None, cache=cache)


def check_api_key(options: cfg.TestOptions) -> None:
    """Record and live mode need the provider's key, unless its *_BASE_URL is an emulator server."""
    missing = cfg.missing_api_key(options.provider, mode=options.mode)
    if missing and cfg.recorded_against(options.provider) != "emulator":
        fail_test(missing)


def emulator_server_keys() -> dict[str, str | None]:
    """Placeholder keys for the providers whose *_BASE_URL is an emulator server on loopback and
    that have no key set: it takes any key, and the SDKs refuse to start without one."""
    from ..sim.patch import placeholder_keys

    keyless = [provider for provider in cfg.PROVIDERS
               if cfg.missing_api_key(provider) and cfg.recorded_against(provider) == "emulator"]
    return placeholder_keys(keyless) if keyless else {}


class RequestLedger:
    """How many requests this run has submitted in record/live mode: one count for the whole run.

    Under pytest-xdist the workers share it through a file in the run's base temp folder (every
    worker's base temp sits in it), taken under ``fcntl.flock``; where fcntl is missing each
    worker gets an equal ``share`` of the limit instead.
    """

    def __init__(self, path: Path | None = None, *, workers: int = 1) -> None:
        self.path = path
        self.workers = workers  # > 1: no shared file, the limit is split across this many workers
        self._count = 0

    def limit_for_this_process(self, limit: int) -> int:
        return limit // self.workers

    def reserve(self, size: int, limit: int) -> int | None:
        """Count ``size`` more requests, unless that would pass ``limit``: then count nothing and
        return how many were already submitted."""
        if self.path is None:
            if self._count + size > limit:
                return self._count
            self._count += size
            return None
        import fcntl

        with self.path.open("a+", encoding="ascii") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            handle.seek(0)
            used = int(handle.read().strip() or 0)
            if used + size > limit:
                return used
            handle.seek(0)
            handle.truncate()
            handle.write(str(used + size))
        return None


def request_ledger(config: pytest.Config) -> RequestLedger:
    """This process's view of the run's request count (shared with the other xdist workers)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return RequestLedger()
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return RequestLedger(workers=max(1, int(workerinput.get("workercount", 1))))
    # each worker's base temp is <the controller's base temp>/<worker id>: the parent is the run's own
    run_dir = config._tmp_path_factory.getbasetemp().parent
    return RequestLedger(run_dir / f"pytest-batch-submitted-{workerinput.get('testrunuid', 'run')}")


class SpendGuard:
    """--batch-max-requests: refuses a submit that would take this run past the limit.

    A resumed recording replays a batch submitted (and paid for) in an earlier run, so the
    cassette turns the guard off for that test: it spends nothing.
    """

    def __init__(self, ledger: RequestLedger, options: cfg.TestOptions) -> None:
        self.ledger = ledger  # requests submitted so far in this run, shared by every test and worker
        self.options = options
        self.enabled = True

    def __call__(self, size: int) -> None:
        limit = self.options.max_requests
        if not self.enabled or limit is None:
            return
        allowed = self.ledger.limit_for_this_process(limit)
        used = self.ledger.reserve(size, allowed)
        if used is not None:
            split = (f" (split across {self.ledger.workers} xdist workers: {allowed} each)"
                     if self.ledger.workers > 1 else "")
            pytest.fail(f"pytest-batch: refusing to submit {size} {self.options.provider} requests in "
                        f"--batch-mode={self.options.mode}: --batch-max-requests={limit}{split} and {used} "
                        f"already submitted in this run. Raise the limit or run offline (--batch-mode=replay).",
                        pytrace=False)


def skip_test(message: str) -> None:
    """Skip the running test, reported at the test's own location (not this file's)."""
    raise pytest.skip.Exception(message, _use_item_location=True)


def fail_test(message: str) -> None:
    pytest.fail(message, pytrace=False)
