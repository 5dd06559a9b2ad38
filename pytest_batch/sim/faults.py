"""Faults a test asks for: per request, per batch, per HTTP call.

Per-request faults override the responder's answer (every time, or the first ``times``
times a request gets an answer, so a retried request heals); batch faults change how a whole
batch ends; HTTP faults answer a call with an error (in the provider's envelope) or drop the
connection before any answer, ``times`` times, then pass.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from .ids import bare_id
from .responders import OUTCOMES, Answer, BatchItem

BATCH_FAULTS = ("validation_failure", "expire")
#: HTTP statuses an injected call fault may answer with (529 is Anthropic's "overloaded").
HTTP_FAULT_STATUSES = (400, 401, 404, 408, 409, 413, 429, 500, 502, 503, 529)


#: batches are answered on several threads at once (the server): counting a ``times`` fault's
#: uses is one step, so two batches with the same custom_id never both take its last use.
_USES = threading.Lock()


class FaultError(ValueError):
    pass


@dataclass
class RequestFault:
    outcome: str
    status: int = 500
    message: str | None = None
    #: how many answers the fault spoils per request (None: every one); a request is answered
    #: once per batch it is in, so ``times=1`` fails the first batch and lets a retry through
    times: int | None = None
    #: custom_id -> answers this fault has spoiled (counted only when ``times`` is set)
    used: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES or self.outcome == "ok":
            choices = ", ".join(o for o in OUTCOMES if o != "ok")
            raise FaultError(f"unknown request fault {self.outcome!r}; choose one of {choices}")
        if self.times is not None and (isinstance(self.times, bool) or not isinstance(self.times, int)
                                       or self.times < 1):
            raise FaultError(f"a request fault's times is a whole number of answers, 1 or more (or None for "
                             f"every answer), got {self.times!r}")

    def use(self, custom_id: str) -> bool:
        """True if the fault spoils this answer of ``custom_id`` (counted), False once it has healed."""
        if self.times is None:
            return True
        with _USES:
            used = self.used.get(custom_id, 0)
            if used >= self.times:
                return False
            self.used[custom_id] = used + 1
        return True

    def answer(self, normal: Answer) -> Answer:
        return Answer(normal.value, self.outcome, self.status, self.message)


@dataclass
class BatchFault:
    kind: str
    #: for "expire": the share of requests that finished before the window closed.
    completed_fraction: float = 0.5
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in BATCH_FAULTS:
            raise FaultError(f"unknown batch fault {self.kind!r}; choose one of {', '.join(BATCH_FAULTS)}")


@dataclass
class HTTPFault:
    status: int | None  # None: drop the connection
    times: int = 1
    provider: str | None = None
    method: str | None = None
    path_contains: str | None = None
    retry_after: float | None = None
    message: str | None = None

    def matches(self, provider: str, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.provider is None or self.provider == provider)
            and (self.method is None or self.method.upper() == method)
            and (self.path_contains is None or self.path_contains in path)
        )


@dataclass
class Faults:
    seed: int = 0
    by_custom_id: dict[str, RequestFault] = field(default_factory=dict)
    fractions: list[tuple[float, RequestFault]] = field(default_factory=list)
    next_batches: list[BatchFault] = field(default_factory=list)
    by_batch_id: dict[str, BatchFault] = field(default_factory=dict)
    http: list[HTTPFault] = field(default_factory=list)

    # -- per request
    def request(self, custom_id: str, outcome: str, *, status: int = 500, message: str | None = None,
                times: int | None = None) -> None:
        """Make the request ``custom_id`` end with ``outcome`` (e.g. "http_error", "refusal"):
        every time, or the first ``times`` times it is answered (a retry of it then succeeds)."""
        self.by_custom_id[custom_id] = RequestFault(outcome, status, message, times)

    def fraction(self, share: float, outcome: str, *, status: int = 500, message: str | None = None,
                 times: int | None = None) -> None:
        """Make a seeded, deterministic ``share`` of all requests end with ``outcome``; with
        ``times``, each of them only the first ``times`` times it is answered."""
        if not 0 <= share <= 1:
            raise FaultError(f"a fault fraction lies between 0 and 1, got {share}")
        self.fractions.append((share, RequestFault(outcome, status, message, times)))

    def for_item(self, item: BatchItem) -> RequestFault | None:
        """The fault that spoils this answer of ``item``, if any (called once per answer: a fault
        with ``times`` counts it)."""
        fault = self.by_custom_id.get(item.custom_id)
        if fault is not None and fault.use(item.custom_id):
            return fault
        for share, fault in self.fractions:
            digest = hashlib.sha256(f"{self.seed}:{item.custom_id}:{share}:{fault.outcome}".encode()).digest()
            if int.from_bytes(digest[:8], "big") / 2**64 < share and fault.use(item.custom_id):
                return fault
        return None

    # -- per batch
    def batch(self, kind: str, *, batch_id: str | None = None, completed_fraction: float = 0.5,
              message: str | None = None) -> None:
        """Make the next created batch (or ``batch_id``, an id or ``batches/{id}`` name) fail
        validation or expire."""
        fault = BatchFault(kind, completed_fraction, message)
        if batch_id is None:
            self.next_batches.append(fault)
        else:
            self.by_batch_id[bare_id(batch_id)] = fault

    def take_batch_fault(self, batch_id: str) -> BatchFault | None:
        if batch_id in self.by_batch_id:
            return self.by_batch_id[batch_id]
        if self.next_batches:
            fault = self.by_batch_id[batch_id] = self.next_batches.pop(0)
            return fault
        return None

    # -- per HTTP call
    def http_error(self, status: int, *, times: int = 1, provider: str | None = None, method: str | None = None,
                   path_contains: str | None = None, retry_after: float | None = None,
                   message: str | None = None) -> None:
        """Answer the next ``times`` matching calls with ``status`` (429 carries retry-after)."""
        if status not in HTTP_FAULT_STATUSES:
            raise FaultError(f"cannot inject HTTP {status}; choose one of {HTTP_FAULT_STATUSES}")
        if retry_after is None and (status in (408, 409, 429) or status >= 500):
            # a tiny positive wait: the Stainless SDKs ignore retry-after-ms 0 and fall back to
            # their own 0.5-8 s backoff (wire-formats.md 0.1, "Retries"), which would slow tests.
            retry_after = 0.001
        self.http.append(HTTPFault(status, times, provider, method, path_contains, retry_after, message))

    def drop_connection(self, *, times: int = 1, provider: str | None = None, method: str | None = None,
                        path_contains: str | None = None) -> None:
        self.http.append(HTTPFault(None, times, provider, method, path_contains))

    def take_http_fault(self, provider: str, method: str, path: str) -> HTTPFault | None:
        for fault in self.http:
            if fault.matches(provider, method, path):
                fault.times -= 1
                return fault
        return None

    def reset(self) -> None:
        self.by_custom_id.clear()
        self.fractions.clear()
        self.next_batches.clear()
        self.by_batch_id.clear()
        self.http.clear()

    def load(self, spec: dict) -> None:
        """Apply faults described as data (the server's control API and the pytest marker)."""
        for custom_id, value in (spec.get("requests") or {}).items():
            value = {"outcome": value} if isinstance(value, str) else value
            _check_keys(f"requests[{custom_id!r}]", value, ("outcome", "status", "message", "times"))
            self.request(custom_id, **value)
        for value in spec.get("fractions") or []:
            _check_keys("fractions[]", value, ("share", "outcome", "status", "message", "times"))
            self.fraction(value["share"], value["outcome"], status=value.get("status", 500),
                          message=value.get("message"), times=value.get("times"))
        for value in spec.get("batches") or []:
            value = {"kind": value} if isinstance(value, str) else value
            self.batch(**value)
        for value in spec.get("http") or []:
            value = dict(value)
            if value.pop("drop", False) or value.get("status") is None:
                value.pop("status", None)
                self.drop_connection(**value)
            else:
                self.http_error(**value)


def _check_keys(where: str, value: object, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, dict):
        raise FaultError(f"{where}: expected an outcome name or a dict of {', '.join(allowed)}, got {value!r}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise FaultError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(allowed)}")
