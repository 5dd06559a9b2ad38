"""`pytest-batch serve` in a subprocess on a free loopback port, for the benches.

A subprocess, not a thread of the bench: the clients' own work (the SDKs building requests and
parsing answers) then runs on another interpreter and never waits for the server's GIL, nor
the server for theirs, so what the clients time is the server as a user runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
def served(lifecycle: str = "immediate", seed: int = 0) -> Iterator[Server]:
    """The running server while the ``with`` block runs."""
    process = subprocess.Popen([sys.executable, "-m", "pytest_batch.cli", "serve", "--port", "0", "--lifecycle",
                                lifecycle, "--seed", str(seed), "--no-seed-answers"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
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
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def control(url: str, action: str, body: dict | None = None) -> None:
    """POST /_control/<action> with a JSON body."""
    request = urllib.request.Request(f"{url}/_control/{action}", data=json.dumps(body or {}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
