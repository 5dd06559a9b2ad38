"""The Gemini batch-mode emulator, driven through the real google-genai SDK (and raw HTTP
where the SDK hides the wire: proto3 details, snake_case bodies, v1beta, chunked uploads)."""

from __future__ import annotations

import asyncio
import io
import json

import httpx2
import pytest
from google.genai import errors, types
from pydantic import ValidationError

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim.core import Emulator
from pytest_batch.sim.http import SimRequest

HOST = "https://generativelanguage.googleapis.com"
MODEL = "gemini-2.5-flash"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(expectations=seed_expectations())


@pytest.fixture
def client(emulator: Emulator):
    return emulator.google_client()


def inline_src(prompts=SEED_PROMPTS, *, keys: bool = True) -> list[dict]:
    rows = []
    for index, prompt in enumerate(prompts):
        row = {"contents": prompt, "config": {"response_mime_type": "application/json", "response_schema": User}}
        if keys:
            row["metadata"] = {"key": f"user-{index}"}
        rows.append(row)
    return rows


def jsonl_input(prompts=SEED_PROMPTS) -> bytes:
    lines = [json.dumps({"key": f"user-{i}", "request": {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"responseMimeType": "application/json",
                             "responseJsonSchema": User.model_json_schema()}}})
             for i, prompt in enumerate(prompts)]
    return ("\n".join(lines) + "\n").encode()


def raw(emulator: Emulator, method: str, path: str, *, body=None, key: str | None = "sim-key",
        headers: dict | None = None, content: bytes | None = None) -> httpx2.Response:
    """One HTTP call to the emulator without the SDK, to see the wire."""
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["x-goog-api-key"] = key
    with httpx2.Client(transport=emulator.transport(), base_url=HOST) as http:
        return http.request(method, path, json=body, content=content, headers=all_headers)


def batch_id(job) -> str:
    return job.name.removeprefix("batches/")


# ---------------------------------------------------------------------------- end to end

def test_seed_prompts_inline_come_back_as_users_in_input_order(client, emulator):
    job = client.batches.create(model=MODEL, src=inline_src(), config={"display_name": "seed"})
    emulator.advance()
    job = client.batches.get(name=job.name)

    assert job.state.name == "JOB_STATE_SUCCEEDED"
    responses = job.dest.inlined_responses
    assert [r.metadata["key"] for r in responses] == [f"user-{i}" for i in range(10)]
    assert [User.model_validate_json(r.response.text) for r in responses] == list(EXPECTED_USERS)


def test_a_file_s_display_name_is_echoed_as_sent(client):
    name = '"q"\r\nname %22 ü'
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl", "display_name": name})
    assert uploaded.display_name == name
    assert client.files.get(name=uploaded.name).display_name == name


def test_a_batch_whose_lifecycle_ended_before_48_hours_succeeded_then_even_if_read_later() -> None:
    emulator = Emulator(lifecycle="seconds:3600")
    client = emulator.google_client()
    job = client.batches.create(model=MODEL, src=inline_src())
    emulator.advance(49 * 3600)
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    assert (job.end_time - job.create_time).total_seconds() == 3600
    assert len(job.dest.inlined_responses) == 10 and all(r.response for r in job.dest.inlined_responses)


def test_a_batch_still_running_48_hours_on_expired_then_with_no_results() -> None:
    emulator = Emulator(lifecycle="seconds:400000")
    client = emulator.google_client()
    job = client.batches.create(model=MODEL, src=inline_src())
    emulator.advance(400001)
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_EXPIRED"
    assert (job.end_time - job.create_time).total_seconds() == 48 * 3600
    assert job.dest is None or not job.dest.inlined_responses


def test_seed_prompts_file_input_round_trip_through_files_api(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    job = client.batches.create(model=MODEL, src=uploaded.name)
    emulator.advance()
    job = client.batches.get(name=job.name)

    assert job.dest.file_name == f"files/batch-{batch_id(job)}"
    lines = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    assert [line["key"] for line in lines] == [f"user-{i}" for i in range(10)]
    users = [User.model_validate_json(line["response"]["candidates"][0]["content"]["parts"][0]["text"])
             for line in lines]
    assert users == list(EXPECTED_USERS)


def test_async_client_creates_polls_and_downloads(emulator):
    aio = emulator.google_client().aio

    async def run():
        uploaded = await aio.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
        job = await aio.batches.create(model=MODEL, src=uploaded.name)
        emulator.advance()
        job = await aio.batches.get(name=job.name)
        return job, await aio.files.download(file=job.dest.file_name)

    job, data = asyncio.run(run())
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    texts = [json.loads(line)["response"]["candidates"][0]["content"]["parts"][0]["text"]
             for line in data.splitlines()]
    assert [User.model_validate_json(t) for t in texts] == list(EXPECTED_USERS)


def test_uppercase_response_schema_without_expectation_gets_a_valid_synthetic_object(client):
    job = client.batches.create(model=MODEL, src=inline_src(["Describe somebody."]))
    job = client.batches.get(name=job.name)
    User.model_validate_json(job.dest.inlined_responses[0].response.text)


def test_system_instruction_text_is_part_of_the_prompt_for_matching(client, emulator):
    emulator.expect("matched on the system text", match="You are terse.")
    src = [{"contents": "hi", "config": {"system_instruction": "You are terse."}}]
    job = client.batches.create(model=MODEL, src=src)
    job = client.batches.get(name=job.name)
    assert job.dest.inlined_responses[0].response.text == "matched on the system text"


# ---------------------------------------------------------------------------- lifecycle

def test_polls_lifecycle_goes_pending_running_succeeded(client, emulator):
    emulator.set_lifecycle("polls:3")
    job = client.batches.create(model=MODEL, src=inline_src())
    states = [job.state.name] + [client.batches.get(name=job.name).state.name for _ in range(3)]
    assert states == ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]


def test_running_operation_omits_done_and_counts_progress_as_strings(client, emulator):
    emulator.set_lifecycle("polls:4")
    job = client.batches.create(model=MODEL, src=inline_src())
    client.batches.get(name=job.name)
    op = raw(emulator, "GET", f"/v1/{job.name}").json()  # third read: progress 0.5

    assert "done" not in op and "response" not in op and "output" not in op["metadata"]
    assert op["metadata"]["state"] == "BATCH_STATE_RUNNING"
    assert op["metadata"]["batchStats"] == {"requestCount": "10", "pendingRequestCount": "5",
                                            "successfulRequestCount": "5"}


def test_created_operation_is_pending_with_every_request_pending(client, emulator):
    emulator.set_lifecycle("manual")
    created = raw(emulator, "POST", f"/v1/models/{MODEL}:batchGenerateContent", body={"batch": {
        "displayName": "d", "inputConfig": {"requests": {"requests": [
            {"request": {"contents": [{"parts": [{"text": "hi"}]}]}}] * 3}}}}).json()

    assert created["metadata"]["state"] == "BATCH_STATE_PENDING"
    assert created["metadata"]["batchStats"] == {"requestCount": "3", "pendingRequestCount": "3"}
    assert "done" not in created and "endTime" not in created["metadata"]


def test_cancel_keeps_the_requests_processed_so_far(client, emulator):
    emulator.set_lifecycle("polls:4")
    job = client.batches.create(model=MODEL, src=inline_src())
    client.batches.get(name=job.name)
    client.batches.get(name=job.name)  # progress 0.5: five requests done
    assert client.batches.cancel(name=job.name) is None
    job = client.batches.get(name=job.name)

    assert job.state.name == "JOB_STATE_CANCELLED"
    responses = job.dest.inlined_responses
    assert [User.model_validate_json(r.response.text) for r in responses] == list(EXPECTED_USERS[:5])
    op = raw(emulator, "GET", f"/v1/{job.name}").json()
    assert op["done"] is True and op["error"]["code"] == 13
    assert op["metadata"]["batchStats"] == {"requestCount": "10", "pendingRequestCount": "5",
                                            "successfulRequestCount": "5"}


def test_cancel_before_any_progress_leaves_no_output(client, emulator):
    emulator.set_lifecycle("manual")
    job = client.batches.create(model=MODEL, src=inline_src())
    client.batches.cancel(name=job.name)
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_CANCELLED" and job.dest is None


def test_cancel_answers_an_empty_object(client, emulator):
    job = client.batches.create(model=MODEL, src=inline_src())
    response = raw(emulator, "POST", f"/v1/{job.name}:cancel")
    assert (response.status_code, response.json()) == (200, {})


def test_delete_of_a_running_batch_then_get_is_not_found(client, emulator):
    emulator.set_lifecycle("polls:5")
    job = client.batches.create(model=MODEL, src=inline_src())
    client.batches.get(name=job.name)
    client.batches.delete(name=job.name)

    with pytest.raises(errors.ClientError) as caught:
        client.batches.get(name=job.name)
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert job.name in caught.value.message
    assert list(client.batches.list()) == []


def test_delete_by_colon_verb_is_served_too(client, emulator):
    job = client.batches.create(model=MODEL, src=inline_src())
    assert raw(emulator, "POST", f"/v1/{job.name}:delete").json() == {}
    assert raw(emulator, "GET", f"/v1/{job.name}").status_code == 404


def test_deleting_a_batch_removes_its_responses_file(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    job = client.batches.create(model=MODEL, src=uploaded.name)
    job = client.batches.get(name=job.name)
    client.batches.delete(name=job.name)
    with pytest.raises(errors.ClientError) as caught:
        client.files.get(name=job.dest.file_name)
    assert caught.value.code == 404


def test_list_pages_through_every_batch_newest_first(client, emulator):
    names = [client.batches.create(model=MODEL, src=inline_src(SEED_PROMPTS[:1])).name for _ in range(5)]
    listed = [job.name for job in client.batches.list(config={"page_size": 2})]

    assert listed == names[::-1]
    calls = emulator.journal.calls("google", "GET", "/v1/batches")
    assert [("pageToken" in c.query) for c in calls] == [False, True, True]
    assert all(c.query["pageSize"] == "2" for c in calls)


def test_list_uses_the_operations_key_and_an_opaque_token(client, emulator):
    for _ in range(3):
        client.batches.create(model=MODEL, src=inline_src(SEED_PROMPTS[:1]))
    page = raw(emulator, "GET", "/v1/batches?pageSize=2").json()
    assert len(page["operations"]) == 2 and page["nextPageToken"]
    last = raw(emulator, "GET", f"/v1/batches?pageSize=2&pageToken={page['nextPageToken']}").json()
    assert len(last["operations"]) == 1 and "nextPageToken" not in last


def test_expire_fault_ends_expired_without_results(client, emulator):
    emulator.faults.batch("expire")
    job = client.batches.create(model=MODEL, src=inline_src())
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_EXPIRED" and job.dest is None


def test_batch_still_open_after_48_hours_expires(client, emulator):
    emulator.set_lifecycle("manual")
    job = client.batches.create(model=MODEL, src=inline_src())
    emulator.advance(seconds=47 * 3600)
    assert client.batches.get(name=job.name).state.name == "JOB_STATE_PENDING"
    emulator.advance(seconds=3600)
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_EXPIRED" and job.dest is None


def test_validation_failure_fault_fails_the_operation_with_an_error(client, emulator):
    emulator.faults.batch("validation_failure", message="bad request in line 3")
    job = client.batches.create(model=MODEL, src=inline_src())
    job = client.batches.get(name=job.name)

    assert job.state.name == "JOB_STATE_FAILED" and job.dest is None
    op = raw(emulator, "GET", f"/v1/{job.name}").json()
    assert op["done"] is True
    assert op["error"] == {"code": 3, "message": "bad request in line 3"}


# ---------------------------------------------------------------------------- per-request faults

def _answers(client, emulator, outcome, **fault):
    emulator.faults.request("user-1", outcome, **fault)
    job = client.batches.create(model=MODEL, src=inline_src(SEED_PROMPTS[:3]))
    job = client.batches.get(name=job.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    return job, job.dest.inlined_responses


def test_http_error_request_becomes_an_error_item_and_counts_as_failed(client, emulator):
    job, items = _answers(client, emulator, "http_error", status=400, message="Invalid argument: bad part.")
    assert items[1].response is None
    assert (items[1].error.code, items[1].error.message) == (400, "Invalid argument: bad part.")
    assert items[1].metadata == {"key": "user-1"}
    assert User.model_validate_json(items[2].response.text) == EXPECTED_USERS[2]
    stats = raw(emulator, "GET", f"/v1/{job.name}").json()["metadata"]["batchStats"]
    assert stats == {"requestCount": "3", "successfulRequestCount": "2", "failedRequestCount": "1"}


def test_expired_request_carries_the_deadline_error_of_the_recording(client, emulator):
    _, items = _answers(client, emulator, "expired")
    assert (items[1].error.code, items[1].error.message) == (4, "Deadline expired before operation could complete.")


def test_canceled_request_carries_a_cancelled_error(client, emulator):
    _, items = _answers(client, emulator, "canceled")
    assert items[1].error.code == 1 and items[1].response is None


def test_refusal_is_a_safety_stop_with_no_content(client, emulator):
    _, items = _answers(client, emulator, "refusal")
    candidate = items[1].response.candidates[0]
    assert candidate.finish_reason.name == "SAFETY"
    assert candidate.content is None and items[1].response.text is None


def test_truncated_answer_stops_at_max_tokens_with_cut_text(client, emulator):
    _, items = _answers(client, emulator, "truncated")
    assert items[1].response.candidates[0].finish_reason.name == "MAX_TOKENS"
    assert json.dumps(EXPECTED_USERS[1].model_dump(), separators=(",", ":")).startswith(items[1].response.text)
    with pytest.raises(ValidationError):
        User.model_validate_json(items[1].response.text)


@pytest.mark.parametrize("outcome", ["malformed_json", "schema_violation"])
def test_broken_structured_answers_finish_normally_but_do_not_parse(client, emulator, outcome):
    _, items = _answers(client, emulator, outcome)
    assert items[1].response.candidates[0].finish_reason.name == "STOP"
    with pytest.raises(ValidationError):
        User.model_validate_json(items[1].response.text)


def test_requests_without_keys_are_addressed_by_position(client, emulator):
    emulator.faults.request("request-2", "http_error", status=500)
    job = client.batches.create(model=MODEL, src=inline_src(SEED_PROMPTS[:3], keys=False))
    items = client.batches.get(name=job.name).dest.inlined_responses
    assert [i.error is not None for i in items] == [False, True, False]
    assert all(i.metadata is None for i in items)


def test_file_output_error_line_keeps_key_and_status(client, emulator):
    emulator.faults.request("user-0", "http_error", status=429, message="Quota exceeded.")
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input(SEED_PROMPTS[:2])), config={"mime_type": "jsonl"})
    job = client.batches.create(model=MODEL, src=uploaded.name)
    job = client.batches.get(name=job.name)
    first, second = [json.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]
    assert first == {"key": "user-0", "error": {"code": 429, "message": "Quota exceeded.",
                                                "status": "RESOURCE_EXHAUSTED"}}
    assert second["key"] == "user-1" and "response" in second


# ---------------------------------------------------------------------------- request bodies

def test_snake_case_inline_body_is_accepted(client, emulator):
    body = {"batch": {"display_name": "snake", "input_config": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": SEED_PROMPTS[0]}], "role": "user"}],
                     "system_instruction": {"parts": [{"text": "Extract."}]},
                     "generation_config": {"response_mime_type": "application/json",
                                           "response_json_schema": User.model_json_schema()}},
         "metadata": {"key": "alice"}}]}}}}
    created = raw(emulator, "POST", f"/v1/models/{MODEL}:batchGenerateContent", body=body).json()
    job = client.batches.get(name=created["name"])

    assert job.display_name == "snake"
    assert User.model_validate_json(job.dest.inlined_responses[0].response.text) == EXPECTED_USERS[0]


def test_snake_case_file_input_is_accepted_and_echoed_camel_case(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    body = {"batch": {"display_name": "f", "input_config": {"file_name": uploaded.name}}}
    created = raw(emulator, "POST", f"/v1/models/{MODEL}:batchGenerateContent", body=body).json()
    assert created["metadata"]["inputConfig"] == {"fileName": uploaded.name}
    assert created["metadata"]["displayName"] == "f"


def test_v1beta_paths_are_served(client, emulator):
    body = {"batch": {"inputConfig": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": SEED_PROMPTS[1]}]}]}}]}}}}
    created = raw(emulator, "POST", f"/v1beta/models/{MODEL}:batchGenerateContent", body=body)
    op = raw(emulator, "GET", f"/v1beta/{created.json()['name']}").json()
    text = op["response"]["inlinedResponses"]["inlinedResponses"][0]["response"]["candidates"][0]
    assert User.model_validate_json(text["content"]["parts"][0]["text"]) == EXPECTED_USERS[1]
    assert raw(emulator, "GET", "/v1beta/batches").json()["operations"][0]["name"] == created.json()["name"]


@pytest.mark.parametrize("http_options", [{"api_version": "v1beta"}, types.HttpOptions(api_version="v1beta")])
def test_google_client_keeps_the_callers_http_options(emulator, http_options):
    client = emulator.google_client(http_options=http_options)
    job = client.batches.create(model=MODEL, src=inline_src(SEED_PROMPTS[:1]))
    assert client.batches.get(name=job.name).state.name == "JOB_STATE_SUCCEEDED"
    assert {e.path.split("/")[1] for e in emulator.journal} == {"v1beta"}


def test_malformed_jsonl_row_is_rejected_at_create_naming_the_line(client, emulator):
    content = jsonl_input(SEED_PROMPTS[:1]) + b"{not json\n"
    uploaded = client.files.upload(file=io.BytesIO(content), config={"mime_type": "jsonl"})
    with pytest.raises(errors.ClientError) as caught:
        client.batches.create(model=MODEL, src=uploaded.name)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "line 2" in caught.value.message
    assert list(client.batches.list()) == []


def test_body_without_batch_object_is_invalid_argument(emulator):
    response = raw(emulator, "POST", f"/v1/models/{MODEL}:batchGenerateContent", body={"requests": []})
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    # "requests" is no field of BatchGenerateContentRequest: named as the front end names it (python-genai #1451)
    assert error["details"][0]["fieldViolations"] == [
        {"description": 'Invalid JSON payload received. Unknown name "requests": Cannot find field.'}]


def test_inline_create_over_the_size_limit_is_413(client, emulator):
    emulator.google.max_inline_bytes = 1000
    with pytest.raises(errors.ClientError) as caught:
        client.batches.create(model=MODEL, src=inline_src())
    assert caught.value.code == 413 and "1000 bytes" in caught.value.message


# ---------------------------------------------------------------------------- auth and errors

def test_missing_api_key_is_permission_denied(emulator):
    response = raw(emulator, "GET", "/v1/batches", key=None)
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"
    assert response.json()["error"]["message"].startswith("Method doesn't allow unregistered callers")


def test_api_key_in_query_string_is_accepted(emulator):
    assert raw(emulator, "GET", "/v1/batches?key=sim-key", key=None).status_code == 200


def test_unknown_batch_raises_client_error_not_found(client):
    with pytest.raises(errors.ClientError) as caught:
        client.batches.get(name="batches/doesnotexist")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert str(caught.value).startswith("404 NOT_FOUND.")


@pytest.mark.parametrize(("status", "error_class", "name"), [
    (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
    (500, errors.ServerError, "INTERNAL"),
    (503, errors.ServerError, "UNAVAILABLE"),
])
def test_injected_http_faults_use_the_google_error_envelope(client, emulator, status, error_class, name):
    emulator.faults.http_error(status, provider="google")
    with pytest.raises(error_class) as caught:
        client.batches.list()
    assert (caught.value.code, caught.value.status) == (status, name)
    assert list(client.batches.list()) == []  # the fault fired once


def test_529_is_a_server_error_and_google_genai_does_not_retry(client, emulator):
    emulator.faults.http_error(529, times=2, provider="google", retry_after=0.001)
    with pytest.raises(errors.ServerError) as caught:
        client.batches.list()
    assert (caught.value.code, caught.value.status) == (529, "UNAVAILABLE")
    assert caught.value.response.headers["retry-after"] == "1"
    assert [e.status for e in emulator.journal] == [529]


def test_dropped_connection_reaches_the_caller_as_the_transport_error(client, emulator):
    emulator.faults.drop_connection(provider="google")
    with pytest.raises(httpx2.TransportError, match="dropped the connection"):
        client.batches.list()
    assert list(client.batches.list()) == []
    assert [e.fault for e in emulator.journal] == ["dropped connection", None]


# ---------------------------------------------------------------------------- files

def test_uploaded_file_resource_is_proto3_camel_case(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(b'{"key":"a"}\n'), config={"mime_type": "jsonl",
                                                                             "display_name": "in"})
    resource = raw(emulator, "GET", f"/v1/{uploaded.name}").json()
    assert resource["sizeBytes"] == "12" and resource["displayName"] == "in"
    assert (resource["state"], resource["source"]) == ("ACTIVE", "UPLOADED")
    assert "downloadUri" not in resource
    assert resource["createTime"] == "2026-01-01T00:00:00.000000000Z"
    assert resource["expirationTime"] == "2026-01-03T00:00:00.000000000Z"


def test_files_list_is_newest_first_within_one_instant(client):
    names = [client.files.upload(file=io.BytesIO(b'{"key":"a"}\n'), config={"mime_type": "jsonl"}).name
             for _ in range(4)]
    assert [f.name for f in client.files.list(config={"page_size": 3})] == names[::-1]


def test_responses_file_is_generated_and_downloadable_by_resource(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    job = client.batches.get(name=client.batches.create(model=MODEL, src=uploaded.name).name)
    output = client.files.get(name=job.dest.file_name)
    assert output.source.name == "GENERATED" and output.download_uri
    assert client.files.download(file=output).count(b"\n") == 10


def test_download_is_served_under_both_paths(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    job = client.batches.get(name=client.batches.create(model=MODEL, src=uploaded.name).name)
    short = raw(emulator, "GET", f"/v1/{job.dest.file_name}:download?alt=media").content
    long = raw(emulator, "GET", f"/download/v1/{job.dest.file_name}:download?alt=media").content
    assert short == long and short.count(b"\n") == 10


def test_chunked_upload_reports_active_then_final_and_needs_no_key(emulator):
    start = raw(emulator, "POST", "/upload/v1/files", body={"file": {"display_name": "parts"}},
                headers={"X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
                         "X-Goog-Upload-Header-Content-Length": "6"})
    url = start.headers["x-goog-upload-url"]
    assert url.startswith(f"{HOST}/upload/v1/files?upload_id=")
    first = raw(emulator, "POST", url, key=None, content=b"abc",
                headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"})
    assert first.headers["x-goog-upload-status"] == "active"
    wrong = raw(emulator, "POST", url, key=None, content=b"def",
                headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "1"})
    assert wrong.status_code == 400
    last = raw(emulator, "POST", url, key=None, content=b"def",
               headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "3"})
    assert last.headers["x-goog-upload-status"] == "final"
    assert last.json()["file"]["sizeBytes"] == "6"


def test_upload_url_points_back_at_the_loopback_prefix(emulator):
    request = SimRequest.build("POST", "http://127.0.0.1:8123/google/upload/v1beta/files",
                               {"x-goog-api-key": "k", "x-goog-upload-protocol": "resumable",
                                "x-goog-upload-command": "start"}, b'{"file": {"mimeType": "jsonl"}}')
    url = emulator.handle(request).headers["x-goog-upload-url"]
    assert url.startswith("http://127.0.0.1:8123/google/upload/v1beta/files?upload_id=")


def test_deleting_an_uploaded_file_twice_is_permission_denied(client):
    uploaded = client.files.upload(file=io.BytesIO(b"x"), config={"mime_type": "jsonl"})
    client.files.delete(name=uploaded.name)
    with pytest.raises(errors.ClientError) as caught:
        client.files.delete(name=uploaded.name)
    assert (caught.value.code, caught.value.status) == (403, "PERMISSION_DENIED")


def test_generated_file_cannot_be_deleted_directly(client, emulator):
    uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
    job = client.batches.get(name=client.batches.create(model=MODEL, src=uploaded.name).name)
    with pytest.raises(errors.ClientError) as caught:
        client.files.delete(name=job.dest.file_name)
    assert caught.value.code == 400


# ---------------------------------------------------------------------------- wire shapes

#: key order of the langchain4j recording (GoogleAiGeminiBatchChatModelTest, PENDING/SUCCEEDED).
RECORDED_PENDING_METADATA = ["@type", "model", "displayName", "createTime", "updateTime", "batchStats", "state",
                             "name"]
RECORDED_SUCCEEDED_METADATA = ["@type", "model", "displayName", "createTime", "endTime", "updateTime",
                               "batchStats", "state", "name"]


def test_operation_shapes_match_the_recording(client, emulator):
    emulator.set_lifecycle("manual")
    job = client.batches.create(model=MODEL, src=inline_src(SEED_PROMPTS[:3]), config={"display_name": "rec"})
    pending = raw(emulator, "GET", f"/v1/{job.name}").json()
    emulator.advance()
    done = raw(emulator, "GET", f"/v1/{job.name}").json()

    assert list(pending) == ["name", "metadata"]
    assert list(pending["metadata"]) == RECORDED_PENDING_METADATA
    assert pending["metadata"]["@type"] == ("type.googleapis.com/google.ai.generativelanguage.v1main."
                                            "GenerateContentBatch")
    assert list(done) == ["name", "metadata", "done", "response"]
    assert [k for k in done["metadata"] if k != "output"] == RECORDED_SUCCEEDED_METADATA
    assert done["response"]["@type"].endswith("v1main.GenerateContentBatchOutput")
    # the SDK reads dest from metadata.output; REST readers use response: both carry it (C.3).
    assert done["metadata"]["output"]["inlinedResponses"] == done["response"]["inlinedResponses"]
    item = done["response"]["inlinedResponses"]["inlinedResponses"][0]
    assert list(item) == ["response", "metadata"]
    assert list(item["response"]) == ["candidates", "usageMetadata", "modelVersion", "responseId"]
    assert list(item["response"]["candidates"][0]) == ["content", "finishReason", "index"]
    # gemini-2.5-flash thinks: usage as in wire-formats.md C.4's capture of that model (the langchain4j
    # text blocks were trimmed: their gemini-3 total counts 2359 thinking tokens no field names)
    assert list(item["response"]["usageMetadata"]) == ["promptTokenCount", "candidatesTokenCount",
                                                       "totalTokenCount", "promptTokensDetails",
                                                       "thoughtsTokenCount"]
    assert item["response"]["modelVersion"] == MODEL
    assert done["metadata"]["endTime"].endswith("Z") and len(done["metadata"]["endTime"]) == 30


def test_a_thousand_inline_requests_come_back_complete_and_in_order(client, emulator):
    prompts = [f"Request number {i}" for i in range(1000)]
    job = client.batches.create(model=MODEL, src=[{"contents": p, "metadata": {"key": str(i)}}
                                                   for i, p in enumerate(prompts)])
    items = client.batches.get(name=job.name).dest.inlined_responses
    assert [item.metadata["key"] for item in items] == [str(i) for i in range(1000)]


def test_files_list_pages_through_the_sdk_pager(client):
    names = {client.files.upload(file=io.BytesIO(b"x"), config={"mime_type": "jsonl"}).name for _ in range(3)}
    assert {f.name for f in client.files.list(config={"page_size": 2})} == names


def test_upload_batch_and_download_over_the_loopback_server(emulator):
    from google import genai

    from pytest_batch.sim.server import start_server

    with start_server(emulator) as server:
        client = genai.Client(api_key="sim-key", http_options={"base_url": server.base_urls["google"]})
        uploaded = client.files.upload(file=io.BytesIO(jsonl_input()), config={"mime_type": "jsonl"})
        job = client.batches.get(name=client.batches.create(model=MODEL, src=uploaded.name).name)
        output = client.files.get(name=job.dest.file_name)
        assert output.download_uri.startswith(f"{server.base_urls['google']}/download/v1/files/batch-")
        lines = client.files.download(file=output).splitlines()
    texts = [json.loads(line)["response"]["candidates"][0]["content"]["parts"][0]["text"] for line in lines]
    assert [User.model_validate_json(t) for t in texts] == list(EXPECTED_USERS)
