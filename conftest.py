"""The project's own test-suite settings.

Every test runs with real outbound connections blocked (loopback stays open for the
emulator server): a test that tried to reach a provider would fail naming the host.
"""

from __future__ import annotations

# pytester's in-process runs forget every module first imported inside them, and httpx2
# caches the exception classes of the first httpcore2 it sees: a test after such a run would
# get httpcore2 errors that httpx2 no longer maps to its own. Import the HTTP stacks up front.
import httpcore  # noqa: F401
import httpcore2  # noqa: F401
import pytest


@pytest.fixture(autouse=True)
def _no_network():
    from pytest_batch.sim.patch import block_network

    with block_network(why="the pytest-batch test suite runs offline"):
        yield
