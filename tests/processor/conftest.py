from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_batch.processor import AsyncBatchProcessor, BatchProcessor
from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator

MODELS = {
    "openai": "openai/gpt-4o-mini",
    "anthropic": "anthropic/claude-haiku-4-5",
    "google": "google/gemini-2.5-flash",
    "azure": "azure/gpt-4o-mini",  # a Global-Batch deployment named after its model
}


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(seed=3, expectations=seed_expectations())


def client_for(emulator: Emulator, provider: str, *, async_client: bool = False, **kwargs: Any) -> Any:
    if provider == "google":
        return emulator.google_client(**kwargs)  # client.aio is wired to the async transport too
    return getattr(emulator, f"{provider}_client")(async_client=async_client, **kwargs)


@pytest.fixture
def make_bp(emulator: Emulator) -> Callable[..., BatchProcessor]:
    """A processor on ``provider`` talking to the in-process emulator; polls never sleep."""

    def make(provider: str, response_model: Any = None, **kwargs: Any) -> BatchProcessor:
        kwargs.setdefault("sleep", lambda seconds: None)
        return BatchProcessor(MODELS[provider], response_model, client=client_for(emulator, provider), **kwargs)

    return make


@pytest.fixture
def make_async_bp(emulator: Emulator) -> Callable[..., AsyncBatchProcessor]:
    async def no_sleep(seconds: float) -> None:
        return None

    def make(provider: str, response_model: Any = None, **kwargs: Any) -> AsyncBatchProcessor:
        if provider == "google" and _google_aio_always_on_aiohttp():
            pytest.skip("google-genai < 1.25 sends client.aio through aiohttp whenever it is installed, whatever "
                        "client was injected: no in-process emulator client for it (intercept() serves it)")
        kwargs.setdefault("sleep", no_sleep)
        return AsyncBatchProcessor(MODELS[provider], response_model,
                                   client=client_for(emulator, provider, async_client=True), **kwargs)

    return make


def _google_aio_always_on_aiohttp() -> bool:
    import importlib.util

    from pytest_batch.providers import sdk_version

    return sdk_version("google-genai") < (1, 25) and importlib.util.find_spec("aiohttp") is not None
