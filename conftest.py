"""The project's own test-suite settings.

Every test runs with real outbound connections blocked (loopback stays open for the
emulator server): a test that tried to reach a provider would fail naming the host.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

# pytester's in-process runs forget every module first imported inside them, and httpx2
# caches the exception classes of the first httpcore2 it sees: a test after such a run would
# get httpcore2 errors that httpx2 no longer maps to its own. Import the HTTP stacks up front.
import httpcore  # noqa: F401
import httpcore2  # noqa: F401
import pytest

# Some machines and CI images set PYTHONDONTWRITEBYTECODE. Every process of the suite (the xdist
# workers, and the pytest, CLI and server processes tests start) would then compile pytest_batch
# and rewrite each test module from source again: about 5 s of each worker's collection. The
# suite's processes write their bytecode (under __pycache__, which git ignores); the processes
# they start inherit the variable and only read it.
sys.dont_write_bytecode = False

#: the address that stands in for a real host in tests of the network block: loopback, never a
#: public or private address, yet not one the block lets through by default
STAND_IN_HOST = "127.0.0.2"


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest):
    """``@pytest.mark.reaches_stand_in_host``: the test itself may connect to STAND_IN_HOST (to check
    that pytest-batch lets an allowed host through)."""
    from pytest_batch.sim.patch import LOOPBACK, block_network

    allowed = (*LOOPBACK, STAND_IN_HOST) if request.node.get_closest_marker("reaches_stand_in_host") else LOOPBACK
    with block_network(allowed, why="the pytest-batch test suite runs offline"):
        yield


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reaches_stand_in_host: the suite's own network block lets the test "
                                       f"reach {STAND_IN_HOST}")


@dataclass
class StandInHost:
    """Listeners on STAND_IN_HOST: a TCP port that accepts and a UDP port that receives."""

    host: str
    tcp_port: int
    udp_port: int


@pytest.fixture
def stand_in_host() -> Iterator[StandInHost]:
    tcp = socket.create_server((STAND_IN_HOST, 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((STAND_IN_HOST, 0))
    stop = threading.Event()

    def accept() -> None:
        tcp.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = tcp.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield StandInHost(STAND_IN_HOST, tcp.getsockname()[1], udp.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        tcp.close()
        udp.close()
