"""The Azure OpenAI batch emulator, driven by the real openai SDK: ``AzureOpenAI`` on the classic
API (``/openai/...?api-version=``, ``api-key``) and the plain ``OpenAI`` client on the v1 API
(``/openai/v1/...``), with Azure's objects, validation codes and lifecycle (docs/azure-batch.md)."""

from __future__ import annotations

import codecs
import json
import re

import httpx2
import openai
import pytest

from pytest_batch.seed import EXPECTED_USERS, User
from pytest_batch.sim import Emulator
from pytest_batch.sim.clock import FrozenClock
from pytest_batch.sim.patch import intercept
from pytest_batch.sim.server import start_server

from .conftest import openai_chat_lines

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def azure_lines(deployment: str = "my-batch", url: str = "/chat/completions", **kwargs) -> bytes:
    """The seed's ten requests as the Azure guide writes them: the deployment as model, no /v1."""
    return openai_chat_lines(model=deployment, **kwargs).replace(b'"/v1/chat/completions"', json.dumps(url).encode())


def submit(client, content: bytes, endpoint: str = "/chat/completions", **kwargs):
    upload = client.files.create(file=("batch.jsonl", content), purpose="batch")
    return client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h", **kwargs)


def rows(client, file_id: str) -> list[dict]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def users_of(output: list[dict]) -> list[User]:
    output = sorted(output, key=lambda row: int(row["custom_id"].split("-")[1]))
    return [User.model_validate_json(row["response"]["body"]["choices"][0]["message"]["content"]) for row in output]


def test_azure_openai_client_round_trip_with_azures_objects(emulator: Emulator) -> None:
    client = emulator.azure_client()
    assert isinstance(client, openai.AzureOpenAI)
    upload = client.files.create(file=("batch.jsonl", azure_lines()), purpose="batch")
    assert re.fullmatch(r"file-[0-9a-f]{32}", upload.id)
    assert upload.expires_at is None  # no expiry unless asked for
    raw = client.batches.with_raw_response.create(input_file_id=upload.id, endpoint="/chat/completions",
                                                  completion_window="24h")
    batch = raw.parse()
    # the guide's create output: endpoint null while validating, result files "" until written,
    # no model and no usage
    validating = json.loads(raw.text)
    assert re.fullmatch(f"batch_{UUID}", batch.id)
    assert (validating["status"], validating["endpoint"]) == ("validating", None)
    assert (validating["output_file_id"], validating["error_file_id"]) == ("", "")
    assert "model" not in validating and "usage" not in validating
    assert raw.headers["content-type"] == "application/json"
    assert re.fullmatch(UUID, raw.headers["apim-request-id"])

    done = client.batches.retrieve(batch.id)
    assert (done.status, done.endpoint) == ("completed", "/chat/completions")
    assert done.request_counts.model_dump() == {"total": 10, "completed": 10, "failed": 0}
    assert re.fullmatch(f"file-{UUID}", done.output_file_id)
    # "Successful jobs will still generate an error_file_id ... associated with an empty file"
    assert done.error_file_id and client.files.content(done.error_file_id).content == b""
    output = rows(client, done.output_file_id)
    assert users_of(output) == list(EXPECTED_USERS)
    row = output[0]
    assert set(row) == {"custom_id", "response", "error"}, "Azure's rows carry no id"
    assert re.fullmatch(UUID, row["response"]["request_id"])
    body = row["response"]["body"]
    assert body["model"] == "my-batch"  # an undeclared deployment answers as a model of its own name
    assert "service_tier" not in body
    assert body["choices"][0]["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
    assert body["prompt_filter_results"][0]["content_filter_results"]["jailbreak"] == {"filtered": False,
                                                                                       "detected": False}
    # the classic API's paths and api-version, as openai.AzureOpenAI sends them
    paths = [(entry.method, entry.path, entry.query.get("api-version")) for entry in emulator.journal][:2]
    assert paths == [("POST", "/openai/files", "2024-10-21"), ("POST", "/openai/batches", "2024-10-21")]
    assert {entry.provider for entry in emulator.journal} == {"azure"}


def test_the_v1_api_through_the_plain_openai_client(emulator: Emulator) -> None:
    client = emulator.azure_client(v1=True)
    assert type(client) is openai.OpenAI and str(client.base_url).endswith("/openai/v1/")
    # the v1 guide writes the lines' url with /v1 and creates the batch with /chat/completions
    batch = submit(client, azure_lines(url="/v1/chat/completions"))
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert users_of(rows(client, done.output_file_id)) == list(EXPECTED_USERS)
    assert [page.id for page in client.batches.list()] == [batch.id]
    assert [(e.path, e.query) for e in emulator.journal][:2] == [("/openai/v1/files", {}), ("/openai/v1/batches", {})]


def test_declared_deployments_name_their_model_and_must_be_global_batch(emulator: Emulator) -> None:
    emulator.azure.add_deployment("extract", "gpt-4o-mini-2024-07-18")
    emulator.azure.add_deployment("chat", "gpt-4o", sku="Standard")
    client = emulator.azure_client()
    done = client.batches.retrieve(submit(client, azure_lines("extract")).id)
    assert rows(client, done.output_file_id)[0]["response"]["body"]["model"] == "gpt-4o-mini-2024-07-18"

    refused = client.batches.retrieve(submit(client, azure_lines("chat")).id)
    assert refused.status == "failed"
    assert refused.errors.data[0].code == "invalid_request"
    assert "Standard deployment" in refused.errors.data[0].message and "Global-Batch" in refused.errors.data[0].message

    emulator.azure.strict_deployments = True
    unknown = client.batches.retrieve(submit(client, azure_lines("nope")).id)
    assert (unknown.status, unknown.errors.data[0].code) == ("failed", "model_not_found")
    assert "'nope'" in unknown.errors.data[0].message


@pytest.mark.parametrize(("content", "code"), [
    (azure_lines() + azure_lines("other").split(b"\n")[0].replace(b"request-1", b"request-11") + b"\n",
     "model_mismatch"),
    (azure_lines().replace(b'"url": "/chat/completions"', b'"url": "/responses"', 1), "url_mismatch"),
    (azure_lines().replace(b"request-2", b"request-1"), "duplicate_custom_id"),
    (b"\n", "empty_file"),
    (b"{not json\n", "invalid_json_line"),
    (codecs.BOM_UTF8 + azure_lines(), "invalid_request"),
])
def test_validation_failures_use_azures_codes(emulator: Emulator, content: bytes, code: str) -> None:
    client = emulator.azure_client()
    failed = client.batches.retrieve(submit(client, content).id)
    assert failed.status == "failed"
    assert failed.errors.data[0].code == code
    if code == "invalid_request":  # the guide's known issue: a UTF-8 BOM gets the generic message
        assert "A valid model deployment name couldn't be extracted" in failed.errors.data[0].message


def test_limits_are_azures(emulator: Emulator) -> None:
    emulator.azure.max_requests = 3
    client = emulator.azure_client()
    failed = client.batches.retrieve(submit(client, azure_lines()).id)
    assert failed.errors.data[0].code == "too_many_tasks"
    assert "maximum allowed value of 3" in failed.errors.data[0].message
    assert Emulator().azure.max_requests == 100_000


def test_a_completion_window_other_than_24h_fails_the_job(emulator: Emulator) -> None:
    client = emulator.azure_client()
    upload = client.files.create(file=("batch.jsonl", azure_lines()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/chat/completions",
                                  completion_window="48h")  # type: ignore[arg-type]
    assert batch.status == "validating" and batch.completion_window == "48h"
    failed = client.batches.retrieve(batch.id)
    assert (failed.status, failed.errors.data[0].code) == ("failed", "invalid_request")


def test_an_endpoint_azure_does_not_batch_is_refused(emulator: Emulator) -> None:
    client = emulator.azure_client(max_retries=0)
    upload = client.files.create(file=("batch.jsonl", azure_lines()), purpose="batch")
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(input_file_id=upload.id, endpoint="/embeddings", completion_window="24h")
    assert caught.value.body["code"] == "invalid_value"
    assert "'/chat/completions', '/responses'" in caught.value.body["message"]


def test_batches_run_past_expires_at_and_a_cancel_returns_the_finished_work() -> None:
    """"We aim to process batch requests within 24 hours; we don't expire the jobs that take longer.
    ... When you cancel the job ... any already completed work is returned.\""""
    sim = Emulator(seed=2, clock=FrozenClock(), lifecycle="seconds:200000")
    client = sim.azure_client()
    batch = submit(client, azure_lines())
    sim.advance(100_000)  # past expires_at (created + 24 h), half way through the lifecycle
    running = client.batches.retrieve(batch.id)
    assert running.status == "in_progress" and running.expires_at < sim.clock.now()
    client.batches.cancel(batch.id)
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled"
    kept = rows(client, cancelled.output_file_id)
    not_run = rows(client, cancelled.error_file_id)
    assert kept and not_run and len(kept) + len(not_run) == 10
    assert all(row["response"]["status_code"] == 200 for row in kept)
    assert {row["error"]["code"] for row in not_run} == {"batch_cancelled"}

    # the same clock on OpenAI expires the batch
    openai_client = sim.openai_client()
    upload = openai_client.files.create(file=("in.jsonl", openai_chat_lines()), purpose="batch")
    other = openai_client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                         completion_window="24h")
    sim.advance(100_000)
    assert openai_client.batches.retrieve(other.id).status == "expired"


def test_the_content_filter_is_azures_refusal(emulator: Emulator) -> None:
    emulator.faults.request("request-2", "refusal")
    client = emulator.azure_client()
    done = client.batches.retrieve(submit(client, azure_lines()).id)
    refused = next(row for row in rows(client, done.output_file_id) if row["custom_id"] == "request-2")
    choice = refused["response"]["body"]["choices"][0]
    assert choice["finish_reason"] == "content_filter" and choice["message"]["content"] is None
    assert choice["content_filter_results"]["violence"]["filtered"] is True


def test_upload_expiry_is_14_to_30_days(emulator: Emulator) -> None:
    client = emulator.azure_client(max_retries=0)
    kept = client.files.create(file=("batch.jsonl", azure_lines()), purpose="batch",
                               expires_after={"anchor": "created_at", "seconds": 1_209_600})
    assert kept.expires_at == kept.created_at + 1_209_600  # the upload's own answer says so on Azure
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("batch.jsonl", azure_lines()), purpose="batch",
                            expires_after={"anchor": "created_at", "seconds": 3600})
    assert caught.value.body["param"] == "expires_after.seconds"
    assert "between 1209600 (14 days) and 2592000 (30 days)" in caught.value.body["message"]


def _raw(emulator: Emulator, path: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    with httpx2.Client(transport=emulator.transport()) as http:
        return http.get(f"https://my-resource.openai.azure.com{path}",
                        headers={"api-key": "k"} if headers is None else headers)


@pytest.mark.parametrize(("path", "headers", "status", "code", "says"), [
    ("/openai/batches?api-version=2024-10-21", {}, 401, "401", "Access denied due to invalid subscription key"),
    ("/openai/batches", None, 404, "404", "needs an api-version query parameter"),
    ("/openai/batches?api-version=latest-please", None, 400, "BadRequest", "API version not supported"),
    ("/openai/batches?api-version=2024-02-01", None, 404, "404", "needs api-version 2024-07-01-preview or later"),
    ("/openai/deployments/x/chat/completions?api-version=2024-10-21", None, 404, "404", "Resource not found"),
    ("/openai/v1/batches", {"authorization": "Bearer entra-token"}, 200, None, '"object":"list"'),
    ("/openai/batches?api-version=2025-04-01-preview", {"api-key": "k"}, 200, None, '"object":"list"'),
])
def test_paths_versions_and_credentials(emulator: Emulator, path, headers, status, code, says) -> None:
    """Azure's envelope {"error": {"code", "message"}} with its string codes; the emulator adds what to do."""
    response = _raw(emulator, path, headers)
    assert response.status_code == status, response.text
    assert says in response.text
    if code is not None:
        assert response.json()["error"]["code"] == code


def test_the_sdk_reports_azures_errors(emulator: Emulator) -> None:
    client = emulator.azure_client(api_version="2024-02-01", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="Resource not found"):
        client.batches.list()


def test_any_azure_resource_host_is_intercepted(emulator: Emulator) -> None:
    with intercept(emulator):
        client = openai.AzureOpenAI(azure_endpoint="https://contoso-eu.openai.azure.com", api_key="k",
                                    api_version="2025-04-01-preview", azure_deployment="my-batch")
        done = client.batches.retrieve(submit(client, azure_lines()).id)
        assert users_of(rows(client, done.output_file_id)) == list(EXPECTED_USERS)
    # azure_deployment= only moves deployment endpoints: files and batches stay under /openai
    assert emulator.journal[0].path == "/openai/files"


@pytest.mark.parametrize("v1", [False, True], ids=["classic", "v1"])
def test_azure_through_the_server(emulator: Emulator, v1: bool) -> None:
    with start_server(emulator) as server:
        endpoint = server.base_urls["azure"]
        assert endpoint == f"{server.url}/azure" and server.env["AZURE_OPENAI_ENDPOINT"] == endpoint
        if v1:
            client = openai.OpenAI(base_url=f"{endpoint}/openai/v1", api_key="local")
        else:
            client = openai.AzureOpenAI(azure_endpoint=endpoint, api_key="local",
                                        api_version=server.env["OPENAI_API_VERSION"])
        done = client.batches.retrieve(submit(client, azure_lines()).id)
        assert users_of(rows(client, done.output_file_id)) == list(EXPECTED_USERS)
    assert emulator.journal[0].path == ("/openai/v1/files" if v1 else "/openai/files")


def test_a_state_saved_before_azure_loads_with_an_empty_resource(tmp_path) -> None:
    """A CLI state pickled by an older pytest-batch has no Azure backend: loading it adds one."""
    old = Emulator(seed=4)
    old.openai_client().files.create(file=("in.jsonl", openai_chat_lines()), purpose="batch")
    state = old.__getstate__()
    del state["azure"]
    state["_routes"] = {name: routes for name, routes in state["_routes"].items() if name != "azure"}
    loaded = Emulator.__new__(Emulator)
    loaded.__setstate__(state)
    loaded.advance()  # every backend, Azure's included
    client = loaded.azure_client()
    assert client.batches.retrieve(submit(client, azure_lines()).id).status == "completed"
    assert len(loaded.openai.files) == 1
