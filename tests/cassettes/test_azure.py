"""Azure OpenAI cassettes: the ``api-key`` never written, every resource stored as the stand-in
``https://pytest-batch.openai.azure.com``, and ``api-version`` left out of the match."""

from __future__ import annotations

import json

import openai
import pytest

from pytest_batch.cassettes import check_cassettes, use_cassette
from pytest_batch.cassettes.scrub import find_secrets, to_default_hosts
from pytest_batch.endpoints import DEFAULT_HOSTS

from .conftest import PROMPTS
from .test_secrets import _token

AZURE_KEY = _token(32, 11).lower()  # Azure keys carry no prefix: only the header and the env name them


def _azure_round_trip(client: openai.AzureOpenAI) -> list[str]:
    lines = [{"custom_id": f"request-{i}", "method": "POST", "url": "/chat/completions",
              "body": {"model": "extract-batch", "messages": [{"role": "user", "content": p}]}}
             for i, p in enumerate(PROMPTS, 1)]
    upload = client.files.create(file=("in.jsonl", "".join(json.dumps(row) + "\n" for row in lines).encode()),
                                 purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/chat/completions", completion_window="24h")
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        batch = client.batches.retrieve(batch.id)
    return [json.loads(line)["custom_id"] for line in client.files.content(batch.output_file_id).text.splitlines()]


def test_an_azure_recording_hides_the_key_and_the_resource_and_replays_under_another_api_version(
        monkeypatch, server, cassette) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    with use_cassette(cassette, mode="record", provider="azure", model="extract-batch"):
        recorded = _azure_round_trip(openai.AzureOpenAI(azure_endpoint=server.base_urls["azure"], api_key=AZURE_KEY,
                                                        api_version="2024-10-21", max_retries=0))
    text = cassette.read_text()
    assert AZURE_KEY not in text and AZURE_KEY[:8] not in text
    assert "127.0.0.1" not in text
    assert f"{DEFAULT_HOSTS['azure']}/openai/batches?api-version=2024-10-21" in text
    assert check_cassettes(cassette.parent).secrets == {}
    server.stop()
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    with use_cassette(cassette, mode="replay", provider="azure", model="extract-batch"):
        replayed = _azure_round_trip(openai.AzureOpenAI(azure_endpoint=DEFAULT_HOSTS["azure"], api_key="other",
                                                        api_version="2025-04-01-preview", max_retries=0))
    assert replayed == recorded and len(replayed) == len(PROMPTS)


@pytest.mark.parametrize("host", ["contoso-eu.openai.azure.com", "contoso.cognitiveservices.azure.com",
                                  "my-project.services.ai.azure.com"])
def test_any_azure_resource_is_stored_as_the_stand_in(host: str) -> None:
    url = f"https://{host}/openai/files/file-1/content?api-version=2024-10-21"
    assert to_default_hosts(url, "azure") == f"{DEFAULT_HOSTS['azure']}/openai/files/file-1/content?api-version=" \
                                             "2024-10-21"
    assert to_default_hosts(url, "openai") == url  # only an Azure recording is rewritten


def test_an_api_key_header_left_in_a_cassette_is_found() -> None:
    findings = find_secrets(f"headers:\n  api-key: {AZURE_KEY}\n  api-key: REDACTED\n", extra_values=[])
    assert [(f.kind, f.line) for f in findings] == [("Azure api-key header", 2)]
