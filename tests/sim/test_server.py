"""Access paths 2 and 3: the patch context and the real loopback server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Clock, Emulator
from pytest_batch.sim.patch import block_network, intercept
from pytest_batch.sim.server import start_server

from .conftest import openai_chat_lines

ROOT = Path(__file__).resolve().parents[2]


def _openai_users(client: openai.OpenAI) -> list[User]:
    upload = client.files.create(file=("in.jsonl", openai_chat_lines()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    lines = client.files.content(batch.output_file_id).text.splitlines()
    return [User.model_validate_json(json.loads(line)["response"]["body"]["choices"][0]["message"]["content"])
            for line in lines]


def test_server_serves_the_sdks_over_loopback(emulator: Emulator) -> None:
    with start_server(emulator) as server:
        client = openai.OpenAI(base_url=server.base_urls["openai"], api_key="local")
        assert _openai_users(client) == list(EXPECTED_USERS)
        batch = anthropic.Anthropic(base_url=server.base_urls["anthropic"], api_key="local").messages.batches.create(
            requests=[{"custom_id": "a", "params": {"model": "claude-3-5-sonnet-20241022", "max_tokens": 10,
                                                     "messages": [{"role": "user", "content": "hi"}]}}])
        ended = anthropic.Anthropic(base_url=server.base_urls["anthropic"], api_key="local").messages.batches.retrieve(
            batch.id)
        # results_url points back at this server, under its /anthropic prefix
        assert ended.results_url == f"{server.base_urls['anthropic']}/v1/messages/batches/{batch.id}/results"


def test_server_streams_large_files_in_chunks() -> None:
    emulator = Emulator()
    with start_server(emulator) as server:
        client = openai.OpenAI(base_url=server.base_urls["openai"], api_key="local")
        content = openai_chat_lines(["x" * 1000] * 3000)  # ~3.5 MB
        upload = client.files.create(file=("big.jsonl", content), purpose="batch")
        with httpx2.stream("GET", f"{server.base_urls['openai']}/files/{upload.id}/content",
                           headers={"authorization": "Bearer local"}) as response:
            chunks = list(response.iter_raw())
        assert b"".join(chunks) == content


def test_server_answers_many_clients_at_once(emulator: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with start_server(emulator) as server:
        def one(_: int) -> list[User]:
            return _openai_users(openai.OpenAI(base_url=server.base_urls["openai"], api_key="local"))

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(16)))
    assert all(users == list(EXPECTED_USERS) for users in results)
    assert len(emulator.openai.batches) == 16


def test_control_api_resets_loads_faults_advances_and_journals() -> None:
    emulator = Emulator(lifecycle="manual")
    with start_server(emulator) as server:
        control = f"{server.url}/_control"
        body = "\n".join(json.dumps(row) for row in seed_expectations()[:1])
        assert httpx2.post(f"{control}/expectations", content=body).json() == {"ok": True}
        client = openai.OpenAI(base_url=server.base_urls["openai"], api_key="local", max_retries=0)
        upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:1])), purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        assert client.batches.retrieve(batch.id).status == "validating"
        httpx2.post(f"{control}/advance", json={})
        assert client.batches.retrieve(batch.id).status == "completed"
        httpx2.post(f"{control}/faults", json={"http": [{"status": 429, "provider": "openai", "retry_after": 3}]})
        with pytest.raises(openai.RateLimitError) as info:
            client.batches.list()
        assert info.value.response.headers["retry-after"] == "3"
        journal = httpx2.get(f"{control}/journal").json()["journal"]
        assert [entry["status"] for entry in journal][-1] == 429
        assert "authorization" not in json.dumps(journal).lower()
        assert httpx2.post(f"{control}/lifecycle", json={"spec": "sometimes"}).status_code == 400
        httpx2.post(f"{control}/reset")
        assert emulator.openai.batches == {}


def test_control_advance_moves_the_served_clock_through_lifecycles_and_expiry() -> None:
    """The served emulator runs on the wall clock; ``advance {"seconds": S}`` jumps it, so a
    ``seconds:3600`` batch finishes, and a held one expires after 24 h, without any sleep."""
    emulator = Emulator(lifecycle="seconds:3600", clock=Clock(), expectations=seed_expectations()[:1])
    with start_server(emulator) as server:
        control = f"{server.url}/_control"
        client = openai.OpenAI(base_url=server.base_urls["openai"], api_key="local", max_retries=0)
        upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:1])), purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        emulator.set_lifecycle("manual", next_batch=True)
        held = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
        assert client.batches.retrieve(batch.id).status in ("validating", "in_progress")  # wall time moves
        assert httpx2.post(f"{control}/advance", json={"seconds": 1800}).json() == {"ok": True}
        assert client.batches.retrieve(batch.id).status == "in_progress"
        assert httpx2.post(f"{control}/advance", json={"seconds": 1800}).status_code == 200
        done = client.batches.retrieve(batch.id)
        assert done.status == "completed" and done.completed_at - done.created_at >= 3600
        assert User.model_validate_json(json.loads(client.files.content(done.output_file_id).text)["response"]
                                        ["body"]["choices"][0]["message"]["content"]) == EXPECTED_USERS[0]
        assert client.batches.retrieve(held.id).status == "validating"
        httpx2.post(f"{control}/advance", json={"seconds": 86400})
        assert client.batches.retrieve(held.id).status == "expired"
        assert httpx2.post(f"{control}/advance", json={"seconds": -1}).status_code == 400


def test_a_served_batch_read_only_after_its_expiry_completed_when_its_lifecycle_ended() -> None:
    """The audit's sequence: a ``seconds:2`` batch, then ``advance {"seconds": 100000}``: completed
    two seconds in, with its answer, not ``expired`` with every request done."""
    emulator = Emulator(lifecycle="seconds:2", clock=Clock(), expectations=seed_expectations()[:1])
    with start_server(emulator) as server:
        client = openai.OpenAI(base_url=server.base_urls["openai"], api_key="local", max_retries=0)
        upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:1])), purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        assert httpx2.post(f"{server.url}/_control/advance", json={"seconds": 100000}).status_code == 200
        done = client.batches.retrieve(batch.id)
        assert done.status == "completed" and done.expired_at is None, done
        assert done.completed_at <= done.expires_at
        assert (done.request_counts.completed, done.request_counts.failed) == (1, 0)


def test_control_reset_keeps_the_answers_the_server_started_with() -> None:
    emulator = Emulator(expectations=seed_expectations()[:1])
    with start_server(emulator) as server:
        control = f"{server.url}/_control"
        httpx2.post(f"{control}/expectations", json=[{"match": "Bob", "response": {"name": "Robert", "age": 1}}])
        httpx2.post(f"{control}/reset")
        assert [e.match for e in emulator.responder.expectations] == [SEED_PROMPTS[0]]


def test_intercept_routes_clients_made_by_third_party_code(emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "third-party-key")
    with intercept(emulator):
        client = openai.OpenAI()  # constructed as a library would: from the environment
        assert _openai_users(client) == list(EXPECTED_USERS)
        other = openai.OpenAI(base_url="https://llm-proxy.example.net/v1", max_retries=0)
        with pytest.raises(openai.APIConnectionError) as info:
            other.batches.list()
    assert "llm-proxy.example.net" in str(info.value.__cause__)


def test_intercept_needs_no_key_and_puts_the_environment_back(emulator: Emulator, monkeypatch) -> None:
    """Inside intercept() the SDKs find placeholder keys and no base URL override (a client made
    from the environment reaches the emulator); outside, the environment is as it was."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/openai/v1")  # nothing listens there
    monkeypatch.setenv("GEMINI_API_KEY", "the-users-own")
    with intercept(emulator):
        assert _openai_users(openai.OpenAI(max_retries=0)) == list(EXPECTED_USERS)
        assert list(anthropic.Anthropic().messages.batches.list()) == []
    assert "OPENAI_API_KEY" not in os.environ and "GOOGLE_API_KEY" not in os.environ
    assert os.environ["OPENAI_BASE_URL"] == "http://127.0.0.1:9/openai/v1"
    assert os.environ["GEMINI_API_KEY"] == "the-users-own"


def test_intercept_keeps_google_genai_async_calls_off_aiohttp(monkeypatch) -> None:
    """google-genai sends client.aio through aiohttp whenever aiohttp is installed (wire-formats.md
    0.1); where aiohttp is not installed, a stub makes the SDK believe it is."""
    import importlib.util

    from google import genai
    from google.genai import _api_client

    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    monkeypatch.setattr(_api_client.BaseApiClient, "_use_aiohttp", lambda self: True)
    emulator = Emulator(expectations=seed_expectations())
    # without aiohttp the stubbed SDK reaches for the module it lacks; with it, aiohttp's own
    # connection (which the socket block refuses)
    without_interception = (NameError, "aiohttp") if importlib.util.find_spec("aiohttp") is None else \
        (Exception, "generativelanguage.googleapis.com")

    async def first_answer(**options: Any) -> str:
        client = genai.Client(api_key="local", **options)  # as third-party code would make it
        job = await client.aio.batches.create(model="gemini-2.5-flash", src=[{"contents": SEED_PROMPTS[0]}])
        job = await client.aio.batches.get(name=job.name)
        return job.dest.inlined_responses[0].response.text

    with block_network(), pytest.raises(without_interception[0], match=without_interception[1]):
        # the SDK does reach for aiohttp (tried once: its retries would pause in real time)
        asyncio.run(first_answer(http_options={"retry_options": {"attempts": 1}}))
    with intercept(emulator):
        answer = asyncio.run(first_answer())
    assert User.model_validate_json(answer) == EXPECTED_USERS[0]
    assert [(e.provider, e.method) for e in emulator.journal] == [("google", "POST"), ("google", "GET")]


def _sdk_example():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sdk_against_server", ROOT / "examples" / "sdk_against_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.POLL_SECONDS = 0
    return module


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_every_provider_through_the_patch_context(emulator: Emulator, provider: str, monkeypatch) -> None:
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    run = getattr(_sdk_example(), f"run_{provider}")
    with intercept(emulator):
        users = run()
    assert [(u.name, u.age) for u in users] == [(u.name, u.age) for u in EXPECTED_USERS]
    assert {entry.provider for entry in emulator.journal} == {provider}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google", "azure"])
def test_every_provider_through_the_server(emulator: Emulator, provider: str, monkeypatch) -> None:
    run = getattr(_sdk_example(), f"run_{provider}")
    with start_server(emulator) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        users = run()
    assert [(u.name, u.age) for u in users] == [(u.name, u.age) for u in EXPECTED_USERS]


def test_serve_process_runs_the_ten_users_on_every_provider(tmp_path: Path) -> None:
    """`pytest-batch serve` outside pytest: a second process points the SDKs at it with the
    printed exports and runs the ten-user batch on every provider (Azure through AzureOpenAI)."""
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps(row) + "\n" for row in seed_expectations()))
    server = subprocess.Popen(
        [sys.executable, "-m", "pytest_batch.cli", "serve", "--port", "0", "--responses", str(responses),
         "--no-seed-answers", "--lifecycle", "seconds:3600"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        exports = {}
        for line in server.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exports[name] = value
            if "Ctrl+C" in line:
                break
        assert set(exports) == {"OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL",
                                "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"}
        env = {**os.environ, **exports, "POLL_SECONDS": "0.02"}
        for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "AZURE_OPENAI_API_KEY",
                     "AZURE_OPENAI_AD_TOKEN", "AZURE_OPENAI_DEPLOYMENT"):
            env.pop(name, None)
        # The hour-long batches finish because a third party moves the served clock through the
        # control API, as a harness driving `serve` from outside would: nothing waits for real time.
        control = exports["OPENAI_BASE_URL"].removesuffix("/openai/v1") + "/_control/advance"
        stop = threading.Event()

        def advance_hourly() -> None:
            while not stop.wait(0.05):
                httpx2.post(control, json={"seconds": 3600})

        advancer = threading.Thread(target=advance_hourly, daemon=True)
        advancer.start()
        try:
            client = subprocess.run([sys.executable, str(ROOT / "examples" / "sdk_against_server.py")], env=env,
                                    capture_output=True, text=True, timeout=120)
        finally:
            stop.set()
            advancer.join()
        assert client.returncode == 0, client.stderr
        expected = ", ".join(f"{u.name}/{u.age}" for u in EXPECTED_USERS)
        assert client.stdout.splitlines() == [f"{p}: {expected}" for p in ("openai", "anthropic", "google", "azure")]
    finally:
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=10)
    assert server.returncode == 0
    assert "stopped" in rest
