"""``BatchProcessor("azure/<deployment>")``: the request lines Azure wants, clients made from
AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY / OPENAI_API_VERSION (classic and v1 API), and
what Azure returns that OpenAI does not (docs/azure-batch.md). The shared behaviour (failures,
counts, retries) runs for azure in test_end_to_end/test_failures/test_counts/test_retry."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from pytest_batch.errors import ConfigurationError, MissingAPIKeyError, UnsupportedOperationError
from pytest_batch.models import BatchStatus, ErrorKind
from pytest_batch.processor import AsyncBatchProcessor, BatchProcessor
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator

AZURE_ENV = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "OPENAI_API_VERSION")


@pytest.fixture
def no_azure_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_request_lines_name_the_deployment_and_azures_endpoint() -> None:
    lines = BatchProcessor("azure/extract-batch", User).build(["Alice is 28."]).lines
    assert lines[0]["url"] == "/chat/completions"  # the classic guide's form: no /v1
    assert lines[0]["body"]["model"] == "extract-batch"
    assert lines[0]["body"]["response_format"]["json_schema"]["name"] == "User"
    responses = BatchProcessor("azure/extract-batch", User, endpoint="/responses").build(["Alice is 28."]).lines[0]
    assert responses["url"] == "/responses" and responses["body"]["input"][0]["content"] == "Alice is 28."
    assert "format" in responses["body"]["text"]
    with pytest.raises(ConfigurationError, match="endpoint must be '/chat/completions' \\(the default\\) or "):
        BatchProcessor("azure/x", User, endpoint="/embeddings")
    assert BatchProcessor("azure/x", User).limits.max_requests == 100_000


@pytest.mark.parametrize("v1", [False, True], ids=["classic", "v1"])
def test_azure_processor_round_trip(v1: bool) -> None:
    emulator = Emulator(seed=5, expectations=seed_expectations(), lifecycle="polls:3")
    bp = BatchProcessor("azure/my-deployment", User, client=emulator.azure_client(v1=v1), sleep=lambda s: None)
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    assert (job.provider, job.status) == ("azure", BatchStatus.COMPLETED)
    results = bp.results(job)
    assert [item.value for item in results.in_input_order()] == list(EXPECTED_USERS)
    assert [j.id for j in bp.list(limit=5)] == [job.id]
    # a job known only by its id: the prompts are read back from Azure's copy of the input file
    retry = BatchProcessor("azure/my-deployment", User, client=emulator.azure_client(v1=v1)).retry_failed(
        ["request-3"], job=job.id)
    assert retry.lines[0]["body"]["messages"][0]["content"] == SEED_PROMPTS[2]
    with pytest.raises(UnsupportedOperationError, match="^Azure OpenAI batches cannot be deleted"):
        bp.delete(job)


def test_a_price_comes_from_a_deployment_named_after_its_model() -> None:
    emulator = Emulator(expectations=seed_expectations())
    named = BatchProcessor("azure/gpt-4o-mini", User, client=emulator.azure_client(), sleep=lambda s: None)
    other = BatchProcessor("azure/team-extract", User, client=emulator.azure_client(), sleep=lambda s: None)
    assert named.results(named.wait(named.submit(list(SEED_PROMPTS[:2])))).estimated_cost > 0
    assert other.results(other.wait(other.submit(list(SEED_PROMPTS[:2])))).estimated_cost is None


def test_a_refusal_and_a_filtered_prompt_are_refusals() -> None:
    emulator = Emulator(expectations=seed_expectations())
    emulator.faults.request("request-2", "refusal")
    bp = BatchProcessor("azure/gpt-4o-mini", User, client=emulator.azure_client(), sleep=lambda s: None)
    items = {item.custom_id: item for item in bp.results(bp.wait(bp.submit(list(SEED_PROMPTS[:3]))))}
    assert items["request-2"].kind is ErrorKind.REFUSAL and "content filter" in items["request-2"].message
    assert items["request-1"].ok and items["request-3"].ok
    # a prompt the filter blocks: HTTP 400 with code content_filter in the error file
    row = {"custom_id": "request-9", "error": None, "response": {"status_code": 400, "request_id": "r", "body": {
        "error": {"code": "content_filter", "status": 400, "param": "prompt",
                  "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                             "management policy."}}}}
    item = bp.provider.parse_row(row, User, "/chat/completions")
    assert (item.kind, item.status) == (ErrorKind.REFUSAL, 400)
    assert item.message.startswith("the content filter blocked the prompt: The response was filtered")
    row["response"]["body"]["error"]["code"] = "429"
    assert bp.provider.parse_row(row, User, "/chat/completions").kind is ErrorKind.HTTP_ERROR


def test_the_first_batch_api_versions_shapes_are_read() -> None:
    """Azure's REST guide shows 2024-07-01-preview answering "Validating", ISO timestamps and null counts."""
    batch = openai.types.Batch.construct(
        id="batch_fe3f047a-de39-4068-9008-346795bfc1db", object="batch", status="Validating",
        endpoint=None, completion_window="24h", input_file_id="file-1", created_at="2024-07-19T17:13:57.2491382+00:00",
        expires_at="2024-07-20T17:13:57.1918498+00:00", errors=None, output_file_id=None, error_file_id=None,
        request_counts=openai.types.BatchRequestCounts.construct(total=None, completed=None, failed=None))
    job = BatchProcessor("azure/x", User).provider.to_job(batch)
    assert job.status is BatchStatus.VALIDATING and job.provider == "azure"
    assert job.created_at.isoformat().startswith("2024-07-19T17:13:57")
    assert (job.counts.total, job.counts.succeeded, job.counts.errored) == (0, 0, 0)


def test_clients_from_the_environment(no_azure_env: pytest.MonkeyPatch) -> None:
    env = no_azure_env
    with pytest.raises(MissingAPIKeyError, match="^AZURE_OPENAI_API_KEY environment variable is not set \\(or "
                                                 "AZURE_OPENAI_AD_TOKEN for Microsoft Entra ID"):
        BatchProcessor("azure/x", User).client  # noqa: B018 - the property makes the client
    env.setenv("AZURE_OPENAI_API_KEY", "k" * 32)
    with pytest.raises(ConfigurationError, match="^AZURE_OPENAI_ENDPOINT environment variable is not set: set it to "
                                                 "your Azure OpenAI resource's endpoint"):
        BatchProcessor("azure/x", User).client  # noqa: B018
    env.setenv("AZURE_OPENAI_ENDPOINT", "my-resource.openai.azure.com")
    with pytest.raises(ConfigurationError, match="must be a URL such as https://my-resource.openai.azure.com"):
        BatchProcessor("azure/x", User).client  # noqa: B018

    env.setenv("AZURE_OPENAI_ENDPOINT", "https://my-resource.openai.azure.com/openai/")  # a common slip
    client = BatchProcessor("azure/x", User).client
    assert isinstance(client, openai.AzureOpenAI)
    assert str(client.base_url) == "https://my-resource.openai.azure.com/openai/"
    assert client._custom_query == {"api-version": "2024-10-21"}  # latest GA, unless OPENAI_API_VERSION says
    env.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
    assert BatchProcessor("azure/x", User).client._custom_query == {"api-version": "2025-04-01-preview"}
    assert BatchProcessor("azure/x", User).client.api_key == "k" * 32

    env.delenv("AZURE_OPENAI_API_KEY")
    env.setenv("AZURE_OPENAI_AD_TOKEN", "entra-token")  # Microsoft Entra ID: a bearer token, not api-key
    client = BatchProcessor("azure/x", User).client
    assert client._azure_ad_token == "entra-token"

    env.setenv("AZURE_OPENAI_ENDPOINT", "https://my-resource.openai.azure.com/openai/v1")  # the v1 API
    async_client = AsyncBatchProcessor("azure/x", User).client
    assert type(async_client) is openai.AsyncOpenAI
    assert str(async_client.base_url) == "https://my-resource.openai.azure.com/openai/v1/"
    assert async_client.api_key == "entra-token"


@pytest.mark.parametrize("v1", [False, True], ids=["classic", "v1"])
def test_a_processor_made_from_the_environment_reaches_a_server(no_azure_env, v1: bool) -> None:
    from pytest_batch.sim.server import start_server

    emulator = Emulator(expectations=seed_expectations())
    with start_server(emulator) as server:
        for name, value in server.env.items():
            no_azure_env.setenv(name, value)
        if v1:
            no_azure_env.setenv("AZURE_OPENAI_ENDPOINT", server.env["AZURE_OPENAI_ENDPOINT"] + "/openai/v1")
        no_azure_env.setenv("AZURE_OPENAI_API_KEY", "local")
        with BatchProcessor("azure/gpt-4o-mini", User, sleep=lambda s: None) as bp:
            job = bp.wait(bp.submit(list(SEED_PROMPTS[:3])))
            assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS[:3])
    assert {entry.provider for entry in emulator.journal} == {"azure"}
    assert emulator.journal[0].path == ("/openai/v1/files" if v1 else "/openai/files")


def test_async_azure_processor() -> None:
    emulator = Emulator(expectations=seed_expectations(), lifecycle="polls:2")

    async def no_sleep(seconds: float) -> None:
        return None

    async def run():
        async with AsyncBatchProcessor("azure/gpt-4o-mini", User, client=emulator.azure_client(async_client=True),
                                       sleep=no_sleep) as bp:
            job = await bp.wait(await bp.submit(list(SEED_PROMPTS[:4])))
            return job, await (await bp.results(job)).values()

    job, values = asyncio.run(run())
    assert job.provider == "azure" and values == list(EXPECTED_USERS[:4])


def test_a_file_built_for_openai_submits_to_azure(tmp_path) -> None:
    """Azure's v1 API takes OpenAI's /v1 urls: a JSONL built for openai runs on a deployment of that name."""
    path = tmp_path / "requests.jsonl"
    BatchProcessor("openai/gpt-4o-mini", User).build(list(SEED_PROMPTS[:2]), output=path)
    assert json.loads(path.read_text().splitlines()[0])["url"] == "/v1/chat/completions"
    emulator = Emulator(expectations=seed_expectations())
    bp = BatchProcessor("azure/gpt-4o-mini", User, client=emulator.azure_client(), sleep=lambda s: None)
    job = bp.wait(bp.submit(path))
    assert [item.value for item in bp.results(job).in_input_order()] == list(EXPECTED_USERS[:2])
