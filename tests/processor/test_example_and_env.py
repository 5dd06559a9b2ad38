"""The runnable example, and processors built from the environment alone (base URLs)."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

from pytest_batch.processor import BatchProcessor
from pytest_batch.providers import sdk_version
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator

ROOT = Path(__file__).resolve().parents[2]


def test_in_memory_example_runs_offline(tmp_path, monkeypatch, capsys):
    for name in [name for name in os.environ if name.endswith(("_API_KEY", "_BASE_URL"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(ROOT / "examples" / "in_memory_batch_example.py"), run_name="__main__")
    printed = capsys.readouterr().out
    from pytest_batch.model_catalog import DEFAULT_MODELS

    for model in (DEFAULT_MODELS["openai"], DEFAULT_MODELS["anthropic"], DEFAULT_MODELS["google"]):
        assert f"{model}: batch " in printed and "10/10 succeeded" in printed
    block = printed.split("anthropic/")[0]
    assert [line.split(": ")[1] for line in block.splitlines() if line.startswith("  request-")] == \
        [f"{u.name}, {u.age}" for u in EXPECTED_USERS]
    assert list(tmp_path.iterdir()) == []  # in memory: nothing written


@pytest.fixture
def served(monkeypatch):
    """An emulator server the environment points every SDK at, with placeholder keys."""
    from pytest_batch.sim.server import start_server

    emulator = Emulator(expectations=seed_expectations())
    with start_server(emulator) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
            monkeypatch.setenv(name, "sim-key")
        yield emulator


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"])
def test_clients_made_from_the_environment_reach_the_base_url(served, model):
    bp = BatchProcessor(model, User, sleep=lambda s: None)
    job = bp.wait(bp.submit(list(SEED_PROMPTS[:3])))
    assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS[:3])
    assert served.journal.calls(model.partition("/")[0])


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"])
def test_processors_close_the_clients_they_made(served, model):
    import asyncio

    from pytest_batch.processor import AsyncBatchProcessor

    with BatchProcessor(model, User, sleep=lambda s: None) as bp:
        job = bp.wait(bp.submit(list(SEED_PROMPTS[:2])))
        client = bp.client
    assert bp._client is None  # closed and let go; the next call would make a new one
    assert _is_closed(client)

    async def run() -> list[User]:
        async with AsyncBatchProcessor(model, User) as abp:
            results = await abp.results(job.id)
            values = [item.value async for item in results.successes()]
        assert abp._client is None
        return values

    # no "Event loop is closed" noise: the async client is closed inside the loop that used it
    assert sorted(asyncio.run(run()), key=lambda u: u.age) == sorted(EXPECTED_USERS[:2], key=lambda u: u.age)


def _is_closed(client) -> bool:
    if hasattr(client, "is_closed"):  # openai, anthropic
        return client.is_closed()
    return client._api_client._httpx_client.is_closed  # google-genai has no public probe


def test_an_injected_client_is_left_open():
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.openai_client()
    with BatchProcessor("openai/gpt-4o-mini", User, client=client, sleep=lambda s: None) as bp:
        bp.wait(bp.submit(list(SEED_PROMPTS[:1])))
    assert not _is_closed(client)


def test_anthropic_auth_token_alone_is_enough(served, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "sim-token-123456")
    bp = BatchProcessor("anthropic/claude-haiku-4-5", User, sleep=lambda s: None)
    job = bp.wait(bp.submit(list(SEED_PROMPTS[:1])))
    assert [item.value for item in bp.results(job)] == [EXPECTED_USERS[0]]
    assert served.journal.calls("anthropic", "POST")


def test_register_price_sets_the_estimated_cost(monkeypatch):
    from pytest_batch import register_price
    from pytest_batch.processor import PRICES

    monkeypatch.setattr("pytest_batch.processor.pricing.PRICES", dict(PRICES))
    emulator = Emulator(expectations=seed_expectations())
    bp = BatchProcessor("openai/my-fine-tune", User, client=emulator.openai_client(), sleep=lambda s: None)
    results = bp.results(bp.wait(bp.submit(list(SEED_PROMPTS))))
    assert results.estimated_cost is None  # a model the price table does not know
    register_price("openai/my-fine-tune", 2.0, 8.0)
    usage = results.usage
    expected = (usage.input_tokens * 2.0 + usage.output_tokens * 8.0) / 1e6 * 0.5  # the batch discount
    assert results.estimated_cost == pytest.approx(expected) and expected > 0


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"])
def test_clients_made_from_the_environment_retry_a_rate_limit(served, model):
    """The openai and anthropic SDKs retry a 429 by default; google-genai does not, so the
    processor's own Gemini client is made to, and every provider behaves the same."""
    provider = model.partition("/")[0]
    if provider == "google" and sdk_version("google-genai") < (1, 28):
        pytest.skip("google-genai < 1.28 ignores HttpOptions.retry_options: nothing retries a 429 there")
    served.faults.http_error(429, times=1, provider=provider, method="POST")
    bp = BatchProcessor(model, User, sleep=lambda s: None)
    job = bp.wait(bp.submit(list(SEED_PROMPTS[:2])))
    assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS[:2])
    assert any(entry.status == 429 for entry in served.journal.calls(provider))
