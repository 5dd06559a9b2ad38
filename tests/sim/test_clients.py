"""The ready-made SDK clients (sim/clients.py): httpx2 or httpx, whichever the installed SDK
is built on, and google-genai driven over a plain httpx transport as google-genai 3.x allows."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import types

import httpx
import pytest
from google import genai

from pytest_batch.seed import EXPECTED_USERS, User, seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.clients import google_http_module, http_module_of

from .test_google import MODEL, inline_src, jsonl_input


def _users_from_file(data: bytes) -> list[User]:
    return [User.model_validate_json(json.loads(line)["response"]["candidates"][0]["content"]["parts"][0]["text"])
            for line in data.splitlines()]


def _sync_and_async_round_trips(client, emulator: Emulator) -> None:
    """upload -> batch -> download on client, then create/get inline on client.aio."""
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    job = client.batches.get(name=client.batches.create(model=MODEL, src=uploaded.name).name)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    assert _users_from_file(client.files.download(file=job.dest.file_name)) == list(EXPECTED_USERS)

    async def inline() -> list[User]:
        created = await client.aio.batches.create(model=MODEL, src=inline_src())
        done = await client.aio.batches.get(name=created.name)
        return [User.model_validate_json(r.response.text) for r in done.dest.inlined_responses]

    assert asyncio.run(inline()) == list(EXPECTED_USERS)
    assert {entry.provider for entry in emulator.journal} == {"google"}


def test_google_genai_over_a_plain_httpx_transport() -> None:
    """google-genai 3.x takes httpx clients as well as httpx2 ones (wire-formats.md 0.1)."""
    emulator = Emulator(expectations=seed_expectations())
    client = genai.Client(api_key="local", http_options={
        "base_url": "https://generativelanguage.googleapis.com/",
        "httpx_client": httpx.Client(transport=emulator.transport(module="httpx")),
        "httpx_async_client": httpx.AsyncClient(transport=emulator.transport(async_transport=True, module="httpx")),
    })
    _sync_and_async_round_trips(client, emulator)


def test_google_factory_uses_httpx_when_the_sdk_does_and_httpx2_is_missing(monkeypatch) -> None:
    """google-genai without httpx2 (an optional extra in 3.x, absent in 2.x): the factory must
    not need httpx2 and must hand the SDK httpx clients."""
    monkeypatch.setenv("GOOGLE_GENAI_HTTP_CLIENT", "httpx")
    monkeypatch.setitem(sys.modules, "httpx2", None)  # `import httpx2` now fails, as if not installed
    assert google_http_module() == "httpx"
    emulator = Emulator(expectations=seed_expectations())
    client = emulator.google_client()
    assert isinstance(client._api_client._httpx_client, httpx.Client)
    assert isinstance(client._api_client._async_httpx_client, httpx.AsyncClient)
    _sync_and_async_round_trips(client, emulator)


def test_the_installed_sdks_are_detected_as_httpx2() -> None:
    assert http_module_of("openai._base_client") == "httpx2"
    assert http_module_of("anthropic._base_client") == "httpx2"
    emulator = Emulator()
    assert type(emulator.openai_client()._client).__module__.startswith("httpx2")
    assert type(emulator.anthropic_client(async_client=True)._client).__module__.startswith("httpx2")


def test_an_sdk_on_httpx_is_detected_from_its_base_client_module(monkeypatch) -> None:
    """openai 2.x and anthropic <= 0.x import httpx in their _base_client."""
    old_sdk = types.ModuleType("old_sdk._base_client")
    old_sdk.httpx = httpx
    monkeypatch.setitem(sys.modules, "old_sdk._base_client", old_sdk)
    assert http_module_of("old_sdk._base_client") == "httpx"
    monkeypatch.setitem(sys.modules, "bare_sdk._base_client", types.ModuleType("bare_sdk._base_client"))
    with pytest.raises(RuntimeError, match="cannot tell whether bare_sdk._base_client uses httpx2 or httpx"):
        http_module_of("bare_sdk._base_client")
