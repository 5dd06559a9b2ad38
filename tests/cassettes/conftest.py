"""Record through the emulator's loopback server with the real SDKs, replay with no server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_batch.cassettes import preload
from pytest_batch.seed import SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

# vcrpy must see the real transports before the suite's autouse block_network patches them.
preload()

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-sonnet-20241022", "google": "gemini-2.0-flash-001"}
PROMPTS = SEED_PROMPTS[:3]
TERMINAL = {"completed", "failed", "expired", "cancelled", "ended", "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
            "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


@pytest.fixture
def emulator() -> Emulator:
    sim = Emulator(seed=7, lifecycle="polls:3")
    sim.load_expectations(seed_expectations())
    return sim


@pytest.fixture
def server(emulator: Emulator) -> Iterator[ServerHandle]:
    with start_server(emulator) as handle:
        yield handle


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "provider" / "test_module" / "test_name.yaml"


def client_for(provider: str, base_url: str | None = None, api_key: str = "replay-key", **kwargs: Any) -> Any:
    """A real SDK client: on the emulator server when ``base_url`` is given, else on the SDK default host."""
    if provider == "openai":
        import openai

        return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, **kwargs)
    if provider == "anthropic":
        import anthropic

        return anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, **kwargs)
    from google import genai

    return genai.Client(api_key=api_key, http_options={"base_url": base_url} if base_url else None, **kwargs)


# ---------------------------------------------------------------------------- lifecycles

def openai_lines(prompts: tuple[str, ...] | list[str] = PROMPTS) -> bytes:
    rows = [{"custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions",
             "body": {"model": MODELS["openai"], "messages": [{"role": "user", "content": p}]}}
            for i, p in enumerate(prompts, 1)]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def openai_submit(client: Any, prompts: Any = PROMPTS) -> str:
    upload = client.files.create(file=("in.jsonl", openai_lines(prompts)), purpose="batch")
    return client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                 completion_window="24h").id


def openai_poll(client: Any, batch_id: str, max_polls: int = 50) -> list[str]:
    states = []
    for _ in range(max_polls):
        states.append(client.batches.retrieve(batch_id).status)
        if states[-1] in TERMINAL:
            return states
    raise TimeoutError(f"batch {batch_id} still {states[-1]} after {max_polls} polls")


def openai_users(client: Any, batch_id: str) -> list[User]:
    batch = client.batches.retrieve(batch_id)
    rows = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    rows.sort(key=lambda row: row["custom_id"])
    return [User.model_validate_json(r["response"]["body"]["choices"][0]["message"]["content"]) for r in rows]


def run_openai(client: Any, prompts: Any = PROMPTS) -> dict[str, Any]:
    batch_id = openai_submit(client, prompts)
    states = openai_poll(client, batch_id)
    return {"batch_id": batch_id, "states": states, "users": openai_users(client, batch_id)}


def run_anthropic(client: Any, prompts: Any = PROMPTS) -> dict[str, Any]:
    requests = [{"custom_id": f"request-{i}",
                 "params": {"model": MODELS["anthropic"], "max_tokens": 256,
                            "messages": [{"role": "user", "content": p}]}} for i, p in enumerate(prompts, 1)]
    batch = client.messages.batches.create(requests=requests)
    states = []
    while batch.processing_status != "ended" and len(states) < 50:
        batch = client.messages.batches.retrieve(batch.id)
        states.append(batch.processing_status)
    rows = sorted(client.messages.batches.results(batch.id), key=lambda r: r.custom_id)
    return {"batch_id": batch.id, "states": states,
            "users": [User.model_validate_json(r.result.message.content[0].text) for r in rows]}


def run_google(client: Any, prompts: Any = PROMPTS) -> dict[str, Any]:
    rows = [{"key": f"request-{i}", "request": {"contents": [{"parts": [{"text": p}], "role": "user"}]}}
            for i, p in enumerate(prompts, 1)]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl"})
    job = client.batches.create(model=MODELS["google"], src=uploaded.name)
    states = []
    while not job.done and len(states) < 50:
        job = client.batches.get(name=job.name)
        states.append(job.state.name)
    lines = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    lines.sort(key=lambda line: line["key"])
    users = [User.model_validate_json(line["response"]["candidates"][0]["content"]["parts"][0]["text"])
             for line in lines]
    return {"batch_id": job.name, "states": states, "users": users}


RUNS = {"openai": run_openai, "anthropic": run_anthropic, "google": run_google}
