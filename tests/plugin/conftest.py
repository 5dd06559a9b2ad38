"""Helpers for the plugin's pytester tests: each test writes a small project and runs pytest on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

#: the canonical example as a user writes it.
USERS_TEST = """
from pytest_batch.assertions import assert_extractions


def test_users(batch_processor, batch_messages, expected_users):
    job = batch_processor.wait(batch_processor.submit(batch_messages))
    assert_extractions(batch_processor.results(job), expected_users)
"""


@pytest.fixture(scope="session", autouse=True)
def _sdks_imported_once() -> None:
    """pytester restores sys.modules after each in-process run: importing the SDKs (and vcrpy)
    here, once, keeps every inner run from importing them again (seconds each)."""
    import anthropic  # noqa: F401
    import openai  # noqa: F401
    from google import genai  # noqa: F401

    import pytest_batch.processor  # noqa: F401
    import pytest_batch.sim.clients  # noqa: F401
    from pytest_batch.cassettes import preload

    with contextlib.suppress(ImportError):  # its pytest plugin imports it afresh in every inner run otherwise
        import hypothesis.extra.pytestplugin  # noqa: F401

    preload()  # before the suite's block_network patches the transports vcrpy keeps as the real ones


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No API key and no base URL override leaks in from the developer's shell."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY",
                 "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "AZURE_OPENAI_API_KEY",
                 "AZURE_OPENAI_AD_TOKEN", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    """An emulator server on loopback standing in for the live APIs (``server.env`` points the SDKs at it)."""
    handle = start_server(Emulator(expectations=seed_expectations()))
    yield handle
    handle.stop()
