"""intercept() serves clients whose transport is aiohttp: google-genai's async calls (aiohttp
whenever it is installed) and the SDKs' DefaultAioHttpClient; a blocked host is named there too."""

from __future__ import annotations

import asyncio
import json

import pytest

from pytest_batch.processor import AsyncBatchProcessor
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.clients import FAKE_KEYS
from pytest_batch.sim.patch import block_network, intercept

aiohttp = pytest.importorskip("aiohttp")


@pytest.fixture
def sim(monkeypatch) -> Emulator:
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return Emulator(seed=11, expectations=seed_expectations(), lifecycle="polls:2")


async def _users(model: str, client) -> list[User]:
    async def no_sleep(seconds: float) -> None:
        return None

    bp = AsyncBatchProcessor(model, User, client=client, sleep=no_sleep)
    job = await bp.wait(await bp.submit(list(SEED_PROMPTS)))
    return [item.value async for item in (await bp.results(job)).successes()]


def _spy_on_aiohttp(monkeypatch) -> list[str]:
    """The URLs aiohttp was asked for (the spy sits under intercept's own patch)."""
    asked: list[str] = []
    real = aiohttp.ClientSession._request

    async def spy(self, method, str_or_url, **kwargs):
        asked.append(str(str_or_url))
        return await real(self, method, str_or_url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", spy)
    return asked


@pytest.mark.sdk_matrix
def test_google_genai_with_aiohttp_runs_a_batch_inside_intercept(sim, monkeypatch):
    """google-genai sends client.aio through aiohttp whenever it is installed. From 1.25 intercept
    moves it to httpx (httpx_only); 1.22-1.24 have no such switch, so aiohttp itself carries the
    calls to the emulator served on loopback. Either way the batch runs."""
    from google import genai
    from google.genai import _api_client

    asked = _spy_on_aiohttp(monkeypatch)
    with intercept(sim):
        client = genai.Client(api_key=FAKE_KEYS["google"])  # as the user's code makes it
        users = asyncio.run(_users("google/gemini-2.5-flash", client))
    assert sorted(users, key=lambda u: u.age) == sorted(EXPECTED_USERS, key=lambda u: u.age)
    assert {e.provider for e in sim.journal} == {"google"}
    if not hasattr(_api_client.BaseApiClient, "_use_aiohttp"):  # google-genai < 1.25: aiohttp carried every call
        assert len(asked) == len(sim.journal) and all("127.0.0.1" in url for url in asked)


def test_a_library_on_aiohttp_reaches_the_emulator_inside_intercept(sim, monkeypatch):
    """What a wrapper whose default transport is aiohttp sends (here, the plain aiohttp calls it
    makes): served from the emulator, absolute URLs it hands back included."""
    sim.set_lifecycle("immediate")
    asked = _spy_on_aiohttp(monkeypatch)
    headers = {"x-api-key": FAKE_KEYS["anthropic"], "anthropic-version": "2023-06-01"}
    request = {"custom_id": "user-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 100,
                                                 "messages": [{"role": "user", "content": SEED_PROMPTS[0]}]}}

    async def run() -> list[dict]:
        async with aiohttp.ClientSession(headers=headers) as session:
            created = await (await session.post("https://api.anthropic.com/v1/messages/batches",
                                                json={"requests": [request]})).json()
            batch = await (await session.get(f"https://api.anthropic.com/v1/messages/batches/{created['id']}")).json()
            results = await (await session.get(batch["results_url"])).text()
            return [json.loads(line) for line in results.splitlines()]

    with intercept(sim):
        rows = asyncio.run(run())
    answer = rows[0]["result"]["message"]["content"][0]["text"]
    assert rows[0]["custom_id"] == "user-1" and User.model_validate_json(answer) == EXPECTED_USERS[0]
    assert len(asked) == 3 and [e.path for e in sim.journal][-1].endswith("/results")


def test_an_sdk_on_its_default_aiohttp_client_runs_a_batch_inside_intercept(sim):
    import anthropic

    async def run() -> list[User]:
        async with anthropic.AsyncAnthropic(api_key=FAKE_KEYS["anthropic"],
                                            http_client=anthropic.DefaultAioHttpClient()) as client:
            return await _users("anthropic/claude-haiku-4-5", client)

    with intercept(sim):
        users = asyncio.run(run())
    assert sorted(users, key=lambda u: u.age) == sorted(EXPECTED_USERS, key=lambda u: u.age)
    assert sim.journal.calls("anthropic", "GET")[-1].path.endswith("/results")


@pytest.mark.parametrize("blocker", ["intercept", "block_network"])
def test_aiohttp_to_another_host_is_blocked_naming_it(sim, blocker):
    async def call() -> None:
        async with aiohttp.ClientSession() as session:
            await session.get("https://llm-proxy.example.net/v1/batches")

    with intercept(sim) if blocker == "intercept" else block_network(why="this test runs offline"), \
            pytest.raises(aiohttp.ClientConnectionError) as info:
        asyncio.run(call())
    assert "pytest-batch blocked a real connection to 'llm-proxy.example.net'" in str(info.value)
    assert not sim.journal


def test_the_loopback_server_stops_with_intercept(sim):
    import threading

    async def listing() -> int:
        async with aiohttp.ClientSession() as session:
            response = await session.get("https://api.openai.com/v1/batches",
                                         headers={"authorization": f"Bearer {FAKE_KEYS['openai']}"})
            return response.status

    with intercept(sim):
        assert asyncio.run(listing()) == 200
        assert any(thread.name == "pytest-batch-emulator" for thread in threading.enumerate())
    assert not any(thread.name == "pytest-batch-emulator" for thread in threading.enumerate())
