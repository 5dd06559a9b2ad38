"""`pytest-batch serve` in a subprocess on a free loopback port, for the benches.

A subprocess, not a thread of the bench: the clients' own work (the SDKs building requests and
parsing answers) then runs on another interpreter and never waits for the server's GIL, nor
the server for theirs, so what the clients time is the server as a user runs it.

With ``timings``, the server also times each call it answers, from the moment its request
line and headers are read until the answer is written (its own share of a call's latency:
no client, no network), with the CPU time its thread spent and the time it waited for the
emulator's state lock, and writes them to that file when it stops; and each run of the cyclic
garbage collector (which stops every thread of the server) to ``<timings>.gc.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (user + system; Linux only, else None)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def served(lifecycle: str = "immediate", seed: int = 0, timings: Path | None = None) -> Iterator[Server]:
    """The running server while the ``with`` block runs."""
    serve = ["serve", "--port", "0", "--lifecycle", lifecycle, "--seed", str(seed), "--no-seed-answers"]
    command = ([sys.executable, __file__, str(timings), *serve] if timings is not None
               else [sys.executable, "-m", "pytest_batch.cli", *serve])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = None
        for line in process.stdout:  # type: ignore[union-attr]
            if "listening on" in line:
                url = line.rsplit(" ", 1)[-1].strip()
            if "Ctrl+C" in line:
                break
        if url is None:
            raise RuntimeError(f"pytest-batch serve did not start (exit code {process.poll()})")
        yield Server(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def control(url: str, action: str, body: dict | None = None) -> None:
    """POST /_control/<action> with a JSON body."""
    request = urllib.request.Request(f"{url}/_control/{action}", data=json.dumps(body or {}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


class _TimedLock:
    """The emulator's state lock, counting how long each thread waits for it."""

    def __init__(self, lock: Any, waited: threading.local) -> None:
        self._lock, self._waited = lock, waited

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        started = time.perf_counter()
        acquired = self._lock.acquire(blocking, timeout)
        self._waited.seconds = getattr(self._waited, "seconds", 0.0) + time.perf_counter() - started
        return acquired

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _timed_serve(timings: Path, argv: list[str]) -> int:
    """``pytest-batch serve`` whose handler times every call: (method, path, when, seconds, CPU
    seconds of its thread, seconds waited for the state lock)."""
    sys.path.insert(0, str(ROOT))
    from pytest_batch.cli import main
    from pytest_batch.sim import core, server

    calls: list[tuple[str, str, float, float, float, float]] = []
    collections: list[tuple[int, float, float]] = []  # (generation, when, seconds) of each cyclic GC run
    started_gc = [0.0]

    def collecting(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started_gc[0] = time.perf_counter()
        else:
            collections.append((info["generation"], time.time(), time.perf_counter() - started_gc[0]))

    import gc

    gc.callbacks.append(collecting)
    waited = threading.local()
    dispatch = server._Handler._dispatch
    make = core.Emulator.__init__

    def made(self: Any, *args: Any, **kwargs: Any) -> None:
        make(self, *args, **kwargs)
        self.lock = _TimedLock(self.lock, waited)

    def timed(self: Any) -> None:
        waited.seconds = 0.0
        when, started, cpu = time.time(), time.perf_counter(), time.thread_time()
        try:
            dispatch(self)
        finally:
            calls.append((self.command, self.path.split("?", 1)[0], when, time.perf_counter() - started,
                          time.thread_time() - cpu, waited.seconds))

    core.Emulator.__init__ = made

    for name in ("do_GET", "do_POST", "do_PUT", "do_DELETE", "do_PATCH", "do_HEAD"):
        setattr(server._Handler, name, timed)
    try:
        return main(argv)
    finally:
        timings.write_text(json.dumps(calls))
        timings.with_suffix(".gc.json").write_text(json.dumps(collections))


if __name__ == "__main__":
    sys.exit(_timed_serve(Path(sys.argv[1]), sys.argv[2:]))
