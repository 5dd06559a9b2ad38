"""The project's own test-suite settings.

Every test runs with real outbound connections blocked (loopback stays open for the
emulator server): a test that tried to reach a provider would fail naming the host.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_network():
    from pytest_batch.sim.patch import block_network

    with block_network(why="the pytest-batch test suite runs offline"):
        yield
