"""Reset: ``/_control/reset`` (and ``Emulator.reset``) puts back everything a test or a client
changed, after any poisoning of the clock, and gives back the memory a large batch held."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.clock import DEFAULT_EPOCH, FrozenClock
from pytest_batch.sim.server import start_server

from .test_hostile import HEADERS, openai_batch, openai_line

GOOD_LINE = f"{openai_line({'type': 'object', 'properties': {}})}\n".encode()


def test_reset_after_a_poisoned_clock_puts_back_lifecycles_faults_expectations_journal_ids_and_time():
    startup = seed_expectations()[:2]
    emulator = Emulator(seed=4, lifecycle="immediate", clock=FrozenClock(), expectations=startup)
    with start_server(emulator) as server, httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        control = "/_control"
        first_id = openai_batch(http, GOOD_LINE)
        for seconds in ("nan", "inf", -1e308, 1e18, [1], {"s": 1}):  # rejected, as test_hostile shows
            assert http.post(f"{control}/advance", json={"seconds": seconds}).status_code == 400
        assert http.post(f"{control}/advance", json={"seconds": 7200}).status_code == 200
        assert http.post(f"{control}/lifecycle", json={"spec": "manual"}).status_code == 200
        assert http.post(f"{control}/lifecycle", json={"spec": "polls:9", "batch_id": first_id}).status_code == 200
        assert http.post(f"{control}/lifecycle", json={"spec": "seconds:60", "next_batch": True}).status_code == 200
        assert http.post(f"{control}/faults", json={"requests": {"r": "refusal"}, "fractions": [
            {"share": 0.5, "outcome": "expired"}], "batches": ["expire"], "http": [
            {"status": 429, "provider": "openai", "times": 5}]}).status_code == 200
        assert http.post(f"{control}/expectations", json=[{"match": "x", "response": 1}]).status_code == 200
        assert http.get(f"{control}/journal").json()["journal"]

        assert http.post(f"{control}/reset").json() == {"ok": True}

        assert emulator.clock.now() == DEFAULT_EPOCH
        assert str(emulator.lifecycle) == "immediate"  # not the "manual" set above
        assert emulator._batch_lifecycles == {} and emulator._next_lifecycles == []
        faults = emulator.faults
        assert (faults.by_custom_id, faults.fractions, faults.next_batches, faults.by_batch_id, faults.http) == (
            {}, [], [], {}, [])
        assert [(e.match, e.response) for e in emulator.responder.expectations] == [
            (row["match"], row["response"]) for row in startup]  # the ones the server started with
        assert emulator.responder.callables == []
        assert http.get(f"{control}/journal").json()["journal"] == []
        assert http.get("/openai/v1/batches").json()["data"] == []  # the batches and files are gone
        assert http.get("/openai/v1/files").json()["data"] == []
        # ids start over, and a new batch runs as on a new emulator: immediate, no fault
        again_id = openai_batch(http, GOOD_LINE)
        assert again_id == calls_on_a_new_emulator(seed=4)
        batch = http.get(f"/openai/v1/batches/{again_id}")
        assert batch.status_code == 200 and batch.json()["status"] == "completed", batch.text
        assert batch.json()["created_at"] == int(DEFAULT_EPOCH)


def calls_on_a_new_emulator(seed: int) -> str:
    """The id a new emulator gives the batch the reset one made after the reset (the same calls:
    every answer, a list's too, takes a request id from the same sequence)."""
    with start_server(Emulator(seed=seed, clock=FrozenClock())) as server, \
            httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        http.get("/openai/v1/batches")
        http.get("/openai/v1/files")
        return openai_batch(http, GOOD_LINE)


def test_emulator_reset_restores_the_lifecycle_it_was_made_with():
    emulator = Emulator(lifecycle="polls:3")
    emulator.set_lifecycle("manual")
    emulator.reset()
    assert str(emulator.lifecycle) == "polls:3"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from Linux's /proc")
def test_reset_gives_back_the_memory_a_large_batch_held():
    """21,000 requests (7,000 on each provider) grow the process by about 65 MiB; after the reset
    it holds about 15% of that (measured: 67% without _release_memory's collect and trim, 88% when
    reset keeps the batches referenced). Bound at 40%, in a process of its own."""
    probe = Path(__file__).with_name("reset_memory_probe.py")
    done = subprocess.run([sys.executable, str(probe), "7000", "release"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    sizes = json.loads(done.stdout)
    grew, kept = sizes["loaded"] - sizes["before"], sizes["after"] - sizes["before"]
    assert grew > 32 * 2**20, f"the batches grew the process by only {grew / 2**20:.1f} MiB: the probe measures nothing"
    assert kept < 0.4 * grew, (f"after reset the process still holds {kept / 2**20:.1f} MiB of the "
                               f"{grew / 2**20:.1f} MiB the batches took")
