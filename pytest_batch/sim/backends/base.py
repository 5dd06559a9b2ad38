"""State every provider's batches share: the requests, the answers, and how far along it is.

Locking (the emulator serves many clients at once): ``emulator.lock`` guards the dicts of
files and batches and every small change to them, and is held for microseconds. A batch's
slow work (parsing its input, answering its requests, rendering its results when it ends)
runs outside that lock, under the batch's own ``BatchRecord.lock``, so a poll never waits
behind another client's batch, and two polls of one batch do the work once. A step that
needs such work raises ``Pending`` under the state lock; ``BackendBase.locked`` does the
work outside it and runs the step again, which then publishes the result.

A status read need not wait for that work at all where the batch may honestly stand still
meanwhile: on a served emulator (``background_work``), for a ``seconds:S`` batch on a clock
that moves by itself, the read hands the work to a background thread and answers with the
batch as it stands (OpenAI ``validating``/``in_progress``/``finalizing``, Anthropic
``in_progress``, Gemini ``JOB_STATE_PENDING``/``RUNNING``: real batches report these while
their results are written); the thread finishes the step, and a later read sees the batch
ended. Everywhere else (frozen clocks, ``immediate``, ``polls:N``, ``manual``, after an
explicit advance) a read waits for the work, so it sees the batch exactly where its lifecycle
puts it.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..faults import BatchFault
from ..gc_pause import paused_gc
from ..responders import Answer, BatchItem, violate

if TYPE_CHECKING:
    from ..bulk_lane import BulkLane
    from ..clock import Clock
    from ..faults import Faults
    from ..ids import IdFactory
    from ..lifecycle import Lifecycle
    from ..responders import Responder


class EmulatorState(Protocol):
    """What a backend reads from the emulator that owns it (core.Emulator): the shared clock, ids,
    answers, faults and lifecycles. Backends never see HTTP adapters or each other."""

    seed: int
    clock: Clock
    lock: threading.RLock
    bulk_lane: BulkLane
    ids: IdFactory
    responder: Responder
    faults: Faults
    shuffle_results: bool

    #: whether status reads may leave a batch's slow work to a background thread (set by the server)
    background_work: bool

    def lifecycle_for(self, batch_id: str) -> Lifecycle: ...

    def claim_lifecycle(self, batch_id: str) -> None: ...


@dataclass
class BatchRecord:
    id: str
    created_at: float
    items: list[BatchItem]
    reads: int = 0
    #: set by an explicit advance: the batch ends on its next read.
    forced: bool = False
    #: set when the clock is advanced explicitly: a read then waits for the batch's work, so the
    #: read after an advance sees the batch where the advance put it (never in the background)
    advanced: bool = False
    cancel_requested_at: float | None = None
    #: progress at the moment cancel was asked for: the share of requests already done.
    progress_at_cancel: float = 0.0
    ended_at: float | None = None
    answers: list[Answer] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: held while this batch's slow work runs (outside the emulator's state lock)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    #: (what was decided, its result): the batch's ending, rendered outside the state lock and
    #: published by the next step that makes the same decision
    prepared: tuple[Any, Any] | None = field(default=None, repr=False, compare=False)
    #: a background thread is doing this batch's slow work (``BackendBase.locked``)
    in_background: bool = field(default=False, repr=False, compare=False)
    #: what that work raised (a user's responder, a schema it cannot answer): the next read raises it
    failure: Exception | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.items)

    def __getstate__(self) -> dict[str, Any]:  # Emulator.save pickles records; a lock or a thread cannot be
        state = dict(self.__dict__)
        del state["lock"]
        state.update(prepared=None, in_background=False, failure=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()
        self.prepared = None
        self.advanced = state.get("advanced", False)  # saved before the field existed
        self.in_background, self.failure = False, None


class Pending(Exception):  # noqa: N818 - a signal between a step and BackendBase.locked, not an error
    """Raised under the state lock by a step that needs this batch's slow ``work`` done first;
    ``bulk``: the work is the emulator's own CPU work, done in a turn (bulk_lane.py)."""

    def __init__(self, record: BatchRecord, work: Callable[[], None], *, bulk: bool = True) -> None:
        super().__init__(record.id)
        self.record = record
        self.work = work
        self.bulk = bulk


T = TypeVar("T")
#: ``BackendBase._stand``'s answer when a read must wait for the batch's work
_WAIT = object()


class BackendBase:
    provider = ""

    def __init__(self, emulator: EmulatorState) -> None:
        self.emulator = emulator
        self.ids = emulator.ids
        self.batches: dict[str, BatchRecord] = {}

    @property
    def now(self) -> float:
        return self.emulator.clock.now()

    @property
    def lock(self) -> threading.RLock:
        """The emulator's state lock: hold it only to read or change files and batches."""
        return self.emulator.lock

    def locked(self, step: Callable[[], T], *, standing: Callable[[], T] | None = None) -> T:
        """``step()`` under the state lock. When it raises ``Pending``, the batch's slow work runs
        outside the state lock (under the batch's own lock: a second caller waits for the first and
        finds it done), in a bulk turn unless it runs a user's code (bulk_lane.py), and ``step``
        runs again; a step is written so that running it again is safe. A request waiting for that
        work is set aside meanwhile: the job in turn does not step aside for it.

        ``standing`` (a status read's): where the batch may be left standing (``in_background``),
        the work goes to a background thread, which runs ``step`` to its end, and the read
        answers ``standing()``, the batch as it stands, at once."""
        while True:
            with self.lock:
                try:
                    return step()
                except Pending as pending:  # keep what it names, not the exception: its traceback is a cycle
                    record, work, bulk = pending.record, pending.work, pending.bulk
                answer, start = self._stand(record, standing) if standing is not None else (_WAIT, False)
            if start:  # outside the state lock, and without waiting for the thread to run
                _thread.start_new_thread(self._finish_in_background, (step, record))
            if answer is not _WAIT:
                return answer
            lane = self.emulator.bulk_lane
            with lane.aside(), record.lock, lane.turn() if bulk else contextlib.nullcontext():
                work()

    def status_read(self, find: Callable[[], BatchRecord], view: Callable[[BatchRecord], T], *,
                    count_read: bool = True) -> T:
        """One status read of a batch: ``find()`` it, move it along its lifecycle (``_advance``, the
        read counted once however often the step runs again while the batch's work is done) and
        answer ``view`` of it; a served read may answer the batch as it stands (``locked``)."""
        unread = [count_read]

        def step() -> T:
            record = find()
            read, unread[0] = unread[0], False
            self._advance(record, read=read)
            return view(record)

        return self.locked(step, standing=lambda: view(find()))

    def _advance(self, record: BatchRecord, *, read: bool) -> None:
        """Move ``record`` along its lifecycle; a read counts toward a ``polls:N`` lifecycle."""
        if read:
            record.reads += 1
        self._step(record)

    def _step(self, record: BatchRecord) -> None:
        """Move ``record`` on to where its lifecycle puts it now (call under the state lock)."""
        raise NotImplementedError

    def _stand(self, record: BatchRecord, standing: Callable[[], T]) -> tuple[Any, bool]:
        """(``standing()`` or ``_WAIT``, whether to start the background work); under the state lock."""
        if not self.may_stand(record):
            return _WAIT, False
        if record.failure is not None:  # the background work failed: this read says how, the next retries
            failure, record.failure = record.failure, None
            raise failure
        try:
            answer = standing()
        except Pending:  # the batch cannot even be shown without its work: wait for it
            return _WAIT, False
        start = not record.in_background
        record.in_background = True
        return answer, start

    def may_stand(self, record: BatchRecord) -> bool:
        """Whether a read may answer with the batch as it stands while its slow work runs in the
        background: on a served emulator, for a ``seconds:S`` batch on a clock that moves by itself
        (when such a batch's work is done is not something a client can count on), unless an
        explicit advance or finish asked for it to be there on the next read."""
        emulator = self.emulator
        return (emulator.background_work and emulator.clock.moves_by_itself
                and not record.forced and not record.advanced
                and emulator.lifecycle_for(record.id).kind == "seconds")

    def _finish_in_background(self, step: Callable[[], Any], record: BatchRecord) -> None:
        """Run a read's ``step`` to its end (its read counted once already): the work it needs, and
        publishing what that work made, so a later read finds it done."""
        try:
            with paused_gc():
                self.locked(step)
        except Exception as exc:  # noqa: BLE001 - kept for the next read of the batch, which raises it
            with self.lock:
                record.failure = exc
        finally:
            with self.lock:
                record.in_background = False

    def clock_advanced(self) -> None:
        """The clock was advanced explicitly: from now on every read of these batches waits for their
        work (call under the state lock)."""
        for record in self.batches.values():
            record.advanced = True

    @staticmethod
    def busy(record: BatchRecord) -> bool:
        """Another call is doing this batch's slow work: a list shows the batch as it stands
        instead of waiting (it is still running or finalizing until that call publishes)."""
        return record.in_background or record.lock.locked()

    def prepare(self, record: BatchRecord, decision: Any, render: Callable[[], T]) -> T:
        """The result of ``render()`` for ``decision`` (how the batch ends): computed once, outside
        the state lock; raises ``Pending`` until it is there. Call under the state lock."""
        prepared = record.prepared
        if prepared is not None and prepared[0] == decision:
            return prepared[1]

        def work() -> None:
            if record.prepared is None or record.prepared[0] != decision:
                record.prepared = (decision, render())

        raise Pending(record, work)

    def published(self, record: BatchRecord) -> None:
        """The ending is in the batch's state now: drop the rendered copy."""
        record.prepared = None

    def new_record(self, batch_id: str, items: list[BatchItem]) -> BatchRecord:
        self.emulator.claim_lifecycle(batch_id)
        self.emulator.faults.take_batch_fault(batch_id)
        record = BatchRecord(batch_id, self.now, items)
        self.batches[batch_id] = record
        return record

    def fault(self, record: BatchRecord) -> BatchFault | None:
        """The batch fault for this batch: queued for the next batch, or set for its id at any time."""
        return self.emulator.faults.by_batch_id.get(record.id)

    def progress(self, record: BatchRecord) -> float:
        if record.forced:
            return 1.0
        lifecycle = self.emulator.lifecycle_for(record.id)
        return lifecycle.progress(record.reads, self.now - record.created_at)

    def progress_at(self, record: BatchRecord, when: float) -> float:
        """How far the batch had come at clock time ``when`` (its expiry, read later): a ``seconds:S``
        lifecycle by the time then, the others by the reads so far."""
        if record.forced:
            return 1.0
        return self.emulator.lifecycle_for(record.id).progress(record.reads, when - record.created_at)

    def reached_at(self, record: BatchRecord, progress: float) -> float:
        """When the batch reached ``progress``: a ``seconds:S`` batch at ``created_at + progress * S``,
        even when nobody read it until later (a batch that finished in an hour says so a day on);
        with any other lifecycle, the read that saw it (now)."""
        lifecycle = self.emulator.lifecycle_for(record.id)
        if record.forced or lifecycle.kind != "seconds":
            return self.now
        return min(self.now, record.created_at + progress * lifecycle.amount)

    def answers(self, record: BatchRecord) -> list[Answer]:
        """Every request's answer (call under the state lock): raises ``Pending`` until they have
        been computed, once per batch, outside the lock."""
        if record.answers is None:
            # a user's callable (respond_with) may wait on I/O: answers it gives are made outside the turns
            raise Pending(record, lambda: self._compute_answers(record),
                          bulk=not self.emulator.responder.callables)
        return record.answers

    def _compute_answers(self, record: BatchRecord) -> None:
        """Responder first, then injected faults. Runs outside the state lock: a user's responder
        may be called from several threads at once, one batch per thread, each in input order."""
        if record.answers is not None:
            return
        responder = self.emulator.responder
        faults = self.emulator.faults
        answers = []
        pace = self.emulator.bulk_lane.pace
        for item in record.items:
            pace()
            try:
                answer = responder(item)
            except Exception as exc:  # noqa: BLE001 - one request's failure is that request's row, never a 500
                # for every later read of this batch, of the list, and of every other batch
                answer = Answer(None, "http_error", 500, f"pytest-batch emulator could not answer this request: "
                                f"computing its answer raised {exc!r:.300} (a responder passed to respond_with, or "
                                f"an expectation); fix it, or answer custom_id {item.custom_id!r} with an expectation")
            fault = faults.for_item(item)
            if fault is not None:
                answer = fault.answer(answer)
            if answer.outcome == "schema_violation":
                answer = Answer(violate(item.schema, answer.value), "schema_violation")
            answers.append(answer)
        record.answers = answers

    def finish(self, batch_id: str | None) -> None:
        for record in self.batches.values():
            if batch_id is None or record.id == batch_id:
                record.forced = True

    def result_order(self, record: BatchRecord) -> list[int]:
        """Input order, or a seeded shuffle: OpenAI and Anthropic may return results in any
        order (wire-formats.md F.5); Gemini keeps input order."""
        order = list(range(len(record.items)))
        if self.emulator.shuffle_results and self.provider != "google":
            random.Random(f"{self.emulator.seed}:{record.id}").shuffle(order)
        return order


class SharedValues:
    """Keeps one copy of equal JSON values that every request of a batch repeats (the
    response format and its schema): 50,000 requests then hold one schema, not 50,000, and
    the cyclic GC has a tenth of the objects to scan."""

    def __init__(self) -> None:
        self._last: dict[str, Any] = {}

    def share(self, container: dict[str, Any], key: str) -> None:
        value = container.get(key)
        if value is None:
            return
        last = self._last.get(key)
        if last is not None and (last is value or last == value):
            container[key] = last
        else:
            self._last[key] = value


def jsonl_objects(content: bytes) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, object) for each non-blank line; None where a line is not a JSON object."""
    loads = json.loads
    for number, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = loads(raw)
        except (ValueError, RecursionError):  # RecursionError: a line nested thousands deep
            line = None
        yield number, line if isinstance(line, dict) else None


def approx_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: about four characters a token."""
    return max(1, (len(text) + 3) // 4)


def truncate(text: str) -> str:
    """What a model cut off by max_tokens returns: the first half of its text."""
    return text[: max(1, len(text) // 2)]


def malform(text: str) -> str:
    """Text that is not valid JSON although the model 'finished'."""
    return text.rstrip("}]") + ", \"" if text.startswith(("{", "[")) else "{" + text


REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
