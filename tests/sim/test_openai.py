"""The OpenAI Files + Batch API emulator, driven by the real openai SDK."""

from __future__ import annotations

import io
import json

import openai
import pytest

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User
from pytest_batch.sim import Emulator

from .conftest import USER_SCHEMA, openai_chat_lines

# Field sets of the objects in the curator recordings (realdata/decoded/openai_*.json) and
# the SDK's types/batch.py: the emulator must send at least these, with these types.
BATCH_FIELDS = {
    "id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status", "output_file_id",
    "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
    "expired_at", "cancelling_at", "cancelled_at", "request_counts", "metadata",
}
FILE_FIELDS = {"object", "id", "purpose", "filename", "bytes", "created_at", "expires_at", "status",
               "status_details"}


def submit(client: openai.OpenAI, content: bytes, endpoint: str = "/v1/chat/completions", **kwargs):
    upload = client.files.create(file=("batch_requests.jsonl", content), purpose="batch")
    return client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h", **kwargs)


def rows(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_ten_users_end_to_end(emulator: Emulator) -> None:
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines())
    assert batch.status == "validating"
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.request_counts.model_dump() == {"total": 10, "completed": 10, "failed": 0}
    assert batch.error_file_id is None
    output = rows(client, batch.output_file_id)
    users = [User.model_validate_json(row["response"]["body"]["choices"][0]["message"]["content"]) for row in output]
    assert [row["custom_id"] for row in output] == [f"request-{i}" for i in range(1, 11)]
    assert users == list(EXPECTED_USERS)


def test_wire_shapes_match_the_recordings(emulator: Emulator) -> None:
    client = emulator.openai_client()
    raw = client.files.with_raw_response.create(file=("in.jsonl", openai_chat_lines()), purpose="batch")
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-request-id"].startswith("req_")
    upload = json.loads(raw.text)
    assert set(upload) == FILE_FIELDS
    assert upload["id"].startswith("file-") and len(upload["id"]) == 27
    assert upload["expires_at"] is None  # set by the time the file is retrieved, as recorded
    retrieved = client.files.retrieve(upload["id"])
    assert retrieved.expires_at - retrieved.created_at == 30 * 86400
    created = json.loads(client.batches.with_raw_response.create(
        input_file_id=upload["id"], endpoint="/v1/chat/completions", completion_window="24h").text)
    assert BATCH_FIELDS <= set(created)
    assert created["id"].startswith("batch_") and len(created["id"]) == 6 + 32
    assert created["expires_at"] - created["created_at"] == 86400
    assert created["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    done = json.loads(client.batches.with_raw_response.retrieve(created["id"]).text)
    row = rows(client, done["output_file_id"])[0]
    assert set(row) == {"id", "custom_id", "response", "error"} and row["error"] is None
    assert row["id"].startswith("batch_req_")
    assert set(row["response"]) == {"status_code", "request_id", "body"}
    body = row["response"]["body"]
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "stop"
    assert set(body["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    output_file = client.files.retrieve(done["output_file_id"])
    assert output_file.purpose == "batch_output" and output_file.filename == f"{done['id']}_output.jsonl"
    download = client.files.with_raw_response.content(done["output_file_id"])
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == f'attachment; filename="{done["id"]}_output.jsonl"'


def test_lifecycle_polls_through_every_status_with_growing_counts() -> None:
    emulator = Emulator(lifecycle="polls:4")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:4]))
    seen = [(batch.status, batch.request_counts.completed)]
    while batch.status != "completed":
        batch = client.batches.retrieve(batch.id)
        seen.append((batch.status, batch.request_counts.completed))
    assert seen == [("validating", 0), ("in_progress", 0), ("in_progress", 2), ("finalizing", 4),
                    ("completed", 4)]
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at


def test_seconds_lifecycle_follows_the_injected_clock() -> None:
    emulator = Emulator(lifecycle="seconds:60")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:2]))
    assert client.batches.retrieve(batch.id).status == "validating"
    emulator.advance(30)
    assert client.batches.retrieve(batch.id).status == "in_progress"
    emulator.advance(30)
    assert client.batches.retrieve(batch.id).status == "completed"


def test_manual_lifecycle_waits_for_an_explicit_advance() -> None:
    emulator = Emulator(lifecycle="manual")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:2]))
    for _ in range(3):
        assert client.batches.retrieve(batch.id).status == "validating"
    emulator.advance(batch_id=batch.id)
    assert client.batches.retrieve(batch.id).status == "completed"


def test_per_batch_lifecycle_overrides_the_default() -> None:
    emulator = Emulator(lifecycle="immediate")
    client = emulator.openai_client()
    emulator.set_lifecycle("polls:3", next_batch=True)
    slow = submit(client, openai_chat_lines(SEED_PROMPTS[:1]))
    fast = submit(client, openai_chat_lines(SEED_PROMPTS[:1]))
    assert client.batches.retrieve(fast.id).status == "completed"
    assert client.batches.retrieve(slow.id).status == "in_progress"


@pytest.mark.parametrize(
    ("mutate", "code", "param", "line"),
    [
        (lambda lines: lines[:1] + ["{not json"] + lines[2:], "invalid_json_line", None, 2),
        (lambda lines: lines[:1] + [lines[0]] + lines[2:], "duplicate_custom_id", "custom_id", 2),
        (lambda lines: [lines[0], json.dumps({**json.loads(lines[1]), "custom_id": None})],
         "missing_required_parameter",
         "custom_id", 2),
        (lambda lines: [lines[0], lines[1].replace("gpt-4o-mini", "gpt-4o")], "mismatched_model", "body.model", 2),
        (lambda lines: [lines[0], lines[1].replace('"url": "/v1/chat/completions"', '"url": "/v1/responses"')],
         "invalid_url", "url", 2),
        (lambda lines: [lines[0], lines[1].replace('"body": {', '"body": {"stream": true, ')], "streaming_unsupported",
         "body.stream", 2),
    ],
    ids=["invalid-json", "duplicate-custom-id", "missing-custom-id", "mixed-models", "url-mismatch", "stream"],
)
def test_invalid_input_fails_the_batch_asynchronously(mutate, code, param, line) -> None:
    emulator = Emulator()
    client = emulator.openai_client()
    lines = openai_chat_lines(SEED_PROMPTS[:3]).decode().splitlines()
    batch = submit(client, ("\n".join(mutate(lines)) + "\n").encode())
    assert batch.status == "validating"  # never a 4xx at create (wire-formats.md A.2)
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.request_counts.model_dump() == {"total": 0, "completed": 0, "failed": 0}
    [error] = batch.errors.data
    assert (error.code, error.param, error.line) == (code, param, line)
    if code == "invalid_json_line":
        assert error.message == "This line is not parseable as valid JSON."


def test_too_many_requests_and_too_large_files_fail_validation() -> None:
    emulator = Emulator()
    emulator.openai.max_requests = 2
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:3])).id)
    assert batch.status == "failed" and batch.errors.data[0].code == "too_many_tasks"
    emulator.openai.max_input_bytes = 100
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:1])).id)
    assert batch.status == "failed" and batch.errors.data[0].code == "file_too_large"


def test_unknown_input_file_fails_the_batch() -> None:
    client = Emulator().openai_client()
    batch = client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions",
                                  completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "failed"
    assert (batch.errors.data[0].code, batch.errors.data[0].param) == ("invalid_request", "file_id")


@pytest.mark.parametrize("name", ["requests.txt", "requests.csv", "requests.json"])
def test_non_jsonl_upload_is_rejected_like_the_real_api(name: str) -> None:
    client = Emulator().openai_client()
    with pytest.raises(openai.BadRequestError, match=r"Invalid file format for Batch API\. Must be \.jsonl"):
        client.files.create(file=(name, b"{}"), purpose="batch")


@pytest.mark.parametrize("name", ['"q".jsonl', "a\r\nb.jsonl", "back\\slash.jsonl", "tab\there%20ü.jsonl"],
                         ids=["quotes", "crlf", "backslash", "tab, literal %20 and non-ASCII"])
def test_the_file_object_echoes_the_uploaded_name_as_sent(name: str) -> None:
    """httpx escapes a multipart name (``"`` as ``%22``, CR LF as ``%0D%0A``, ``\\`` doubled); OpenAI
    answers the name as the client meant it, so does the emulator: only the download's
    Content-Disposition header encodes it (test_hostile: a name never becomes a header)."""
    client = Emulator().openai_client()
    uploaded = client.files.create(file=(name, openai_chat_lines(SEED_PROMPTS[:1])), purpose="batch")
    assert uploaded.filename == name
    assert client.files.retrieve(uploaded.id).filename == name
    assert [item.filename for item in client.files.list() if item.id == uploaded.id] == [name]


@pytest.mark.parametrize("upload", [lambda content: content, io.BytesIO], ids=["raw-bytes", "bytesio"])
def test_uploads_without_a_filename_are_accepted_and_run(upload) -> None:
    """The SDK names raw bytes and BytesIO "upload"; the real API took that name with
    purpose=batch (curator recording, filename "upload", 200)."""
    client = Emulator().openai_client()
    content = openai_chat_lines(SEED_PROMPTS[:2])
    uploaded = client.files.create(file=upload(content), purpose="batch")
    assert uploaded.filename == "upload" and uploaded.bytes == len(content)
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts.completed == 2


def test_bad_create_parameters_are_synchronous_400s() -> None:
    client = Emulator().openai_client()
    upload = client.files.create(file=("in.jsonl", openai_chat_lines(SEED_PROMPTS[:1])), purpose="batch")
    # the live "Invalid value: '...'. Supported values are: ..." names the field in param only
    with pytest.raises(openai.BadRequestError, match="/v1/nope") as bad_endpoint:
        client.batches.create(input_file_id=upload.id, endpoint="/v1/nope", completion_window="24h")
    assert bad_endpoint.value.param == "endpoint"
    with pytest.raises(openai.BadRequestError, match="48h") as bad_window:
        client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="48h")
    assert bad_window.value.param == "completion_window"


def test_mixed_outcomes_split_between_output_and_error_files(emulator: Emulator) -> None:
    emulator.faults.request("request-2", "http_error", status=400, message="Invalid 'temperature'.")
    emulator.faults.request("request-3", "refusal")
    emulator.faults.request("request-4", "truncated")
    emulator.faults.request("request-5", "malformed_json")
    emulator.faults.request("request-6", "schema_violation")
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines()).id)
    assert batch.status == "completed"
    assert batch.request_counts.model_dump() == {"total": 10, "completed": 9, "failed": 1}
    [error_row] = rows(client, batch.error_file_id)
    assert error_row["custom_id"] == "request-2" and error_row["error"] is None
    assert error_row["response"]["status_code"] == 400
    assert error_row["response"]["body"]["error"]["message"] == "Invalid 'temperature'."
    output = {row["custom_id"]: row["response"]["body"]["choices"][0] for row in rows(client, batch.output_file_id)}
    assert output["request-3"]["message"]["content"] is None
    assert output["request-3"]["message"]["refusal"]
    assert output["request-4"]["finish_reason"] == "length"
    with pytest.raises(ValueError):
        json.loads(output["request-5"]["message"]["content"])
    with pytest.raises(ValueError):
        User.model_validate_json(output["request-6"]["message"]["content"])
    User.model_validate_json(output["request-1"]["message"]["content"])


def test_http_error_expectation_without_a_status_is_a_500_error_row(tmp_path) -> None:
    table = tmp_path / "answers.jsonl"
    table.write_text(json.dumps({"custom_id": "request-2", "outcome": "http_error", "message": "Upstream broke."})
                     + "\n")
    client = Emulator(expectations=table).openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:2])).id)
    assert batch.status == "completed"
    assert batch.request_counts.model_dump() == {"total": 2, "completed": 1, "failed": 1}
    assert [row["custom_id"] for row in rows(client, batch.output_file_id)] == ["request-1"]
    [error_row] = rows(client, batch.error_file_id)
    assert error_row["custom_id"] == "request-2" and error_row["error"] is None
    assert error_row["response"]["status_code"] == 500
    assert error_row["response"]["body"]["error"] == {"message": "Upstream broke.", "type": "server_error",
                                                      "param": None, "code": None}


def test_nothing_succeeded_means_no_output_file() -> None:
    emulator = Emulator()
    emulator.faults.fraction(1.0, "http_error", status=500)
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:3])).id)
    assert batch.status == "completed"
    assert batch.output_file_id is None and batch.error_file_id is not None
    assert batch.request_counts.model_dump() == {"total": 3, "completed": 0, "failed": 3}


def test_a_seeded_fraction_of_faults_is_deterministic() -> None:
    def failed_ids(seed: int) -> list[str]:
        emulator = Emulator(seed=seed)
        emulator.faults.fraction(0.3, "http_error", status=500)
        client = emulator.openai_client()
        batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS * 5)).id)
        return sorted(row["custom_id"] for row in rows(client, batch.error_file_id))

    assert failed_ids(1) == failed_ids(1)
    assert 5 <= len(failed_ids(1)) <= 25


def test_expired_batch_keeps_partial_output_and_expires_the_rest() -> None:
    emulator = Emulator()
    emulator.faults.batch("expire", completed_fraction=0.5)
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:4])).id)
    assert batch.status == "expired" and batch.expired_at is not None
    assert len(rows(client, batch.output_file_id)) == 2
    expired = rows(client, batch.error_file_id)
    assert [row["error"]["code"] for row in expired] == ["batch_expired", "batch_expired"]
    assert all(row["response"] is None for row in expired)


def test_the_24h_window_expires_a_batch_on_the_clock() -> None:
    emulator = Emulator(lifecycle="manual")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:2]))
    emulator.advance(86400)
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "expired"
    assert {row["error"]["code"] for row in rows(client, batch.error_file_id)} == {"batch_expired"}


def test_a_batch_whose_lifecycle_ended_before_expires_at_completed_then_even_if_read_a_day_later() -> None:
    """``seconds:3600``, first read a day on: completed at one hour (not expired with every row
    done), each timestamp where its lifecycle put it."""
    emulator = Emulator(lifecycle="seconds:3600")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:2]))
    emulator.advance(86401)
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.expired_at is None
    assert (batch.in_progress_at, batch.finalizing_at, batch.completed_at) == (
        batch.created_at + 900, batch.created_at + 2700, batch.created_at + 3600)
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 0)
    assert len(rows(client, batch.output_file_id)) == 2 and batch.error_file_id is None


def test_a_batch_still_running_at_expires_at_expires_then_with_its_unfinished_rows_batch_expired() -> None:
    """``seconds:200000``: at the 24 h mark 43% of its time had passed, so a quarter of its requests
    ((0.432 - 0.25) / 0.5 of the in_progress span) had run; the rest are batch_expired rows."""
    emulator = Emulator(lifecycle="seconds:200000")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS))
    emulator.advance(86401 + 50000)
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "expired" and batch.expired_at == batch.expires_at and batch.completed_at is None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (10, 3, 7)
    assert len(rows(client, batch.output_file_id)) == 3
    assert [row["error"]["code"] for row in rows(client, batch.error_file_id)] == ["batch_expired"] * 7


def test_batch_validation_failure_fault() -> None:
    emulator = Emulator()
    emulator.faults.batch("validation_failure", message="Enqueued token limit reached.")
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:2])).id)
    assert batch.status == "failed" and batch.errors.data[0].message == "Enqueued token limit reached."


def test_cancel_goes_through_cancelling_to_cancelled() -> None:
    emulator = Emulator(lifecycle="polls:4")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:4]))
    client.batches.retrieve(batch.id)
    client.batches.retrieve(batch.id)  # in_progress, half done
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert cancelling.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 0}
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    # as captured live: the requests done before the cancel are in neither file, counts drop to 0
    assert cancelled.output_file_id is None
    assert cancelled.request_counts.model_dump() == {"total": 4, "completed": 0, "failed": 0}
    not_run = rows(client, cancelled.error_file_id)
    assert [row["error"]["code"] for row in not_run] == ["batch_cancelled"] * 2
    assert [row["custom_id"] for row in not_run] == ["request-3", "request-4"]
    assert all(row["response"] is None for row in not_run)
    assert client.batches.cancel(batch.id).status == "cancelled"


def test_a_canceled_request_cancels_the_batch_through_cancelling(emulator: Emulator) -> None:
    """OpenAI cancels batches, not requests: a batch_cancelled row only exists in a cancelled
    batch, which passed through cancelling (never cancelled with cancelling_at null)."""
    emulator.faults.request("request-2", "canceled")
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:3]))
    cancelling = client.batches.retrieve(batch.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None and cancelling.cancelled_at is None
    assert cancelling.request_counts.model_dump() == {"total": 3, "completed": 2, "failed": 0}
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at >= cancelled.cancelling_at
    assert cancelled.cancelling_at == cancelling.cancelling_at
    assert cancelled.finalizing_at is None and cancelled.completed_at is None
    assert cancelled.request_counts.model_dump() == {"total": 3, "completed": 2, "failed": 0}
    assert [row["custom_id"] for row in rows(client, cancelled.output_file_id)] == ["request-1", "request-3"]
    [not_run] = rows(client, cancelled.error_file_id)
    assert not_run["custom_id"] == "request-2" and not_run["response"] is None
    assert not_run["error"] == {"code": "batch_cancelled",
                                "message": "This request was not executed because the batch was cancelled."}


def test_cancelling_a_finished_batch_is_a_conflict_not_retried() -> None:
    emulator = Emulator()
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:1])).id)
    with pytest.raises(openai.ConflictError, match="completed"):
        client.batches.cancel(batch.id)
    assert len(emulator.journal.calls(method="POST", path_contains="/cancel")) == 1


def test_list_pages_newest_first_with_cursor() -> None:
    emulator = Emulator()
    client = emulator.openai_client()
    created = []
    for _ in range(5):
        created.append(submit(client, openai_chat_lines(SEED_PROMPTS[:1])).id)
        emulator.advance(1)
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == created[::-1][:2] and page.has_more
    assert [b.id for b in client.batches.list(limit=2)] == created[::-1]  # SDK auto-pagination via after=
    last = client.batches.list(limit=2, after=created[1])
    assert [b.id for b in last.data] == [created[0]] and not last.has_more


def test_lists_are_newest_first_within_one_second() -> None:
    """No clock advance: every batch and file shares one created_at, and the random ids must
    not decide the order (the list is newest first by creation)."""
    client = Emulator().openai_client()
    batches, files = [], []
    for _ in range(6):
        batch = submit(client, openai_chat_lines(SEED_PROMPTS[:1]))
        batches.append(batch.id)
        files.append(batch.input_file_id)
    assert len({client.batches.retrieve(b).created_at for b in batches}) == 1
    assert [b.id for b in client.batches.list(limit=4)] == batches[::-1]  # two pages through after=
    assert [f.id for f in client.files.list(purpose="batch")] == files[::-1]
    assert [f.id for f in client.files.list(purpose="batch", order="asc")] == files


def test_files_retrieve_list_content_and_delete() -> None:
    client = Emulator().openai_client()
    content = openai_chat_lines(SEED_PROMPTS[:2])
    upload = client.files.create(file=("in.jsonl", content), purpose="batch")
    assert client.files.retrieve(upload.id).bytes == len(content)
    assert client.files.content(upload.id).content == content
    assert [f.id for f in client.files.list(purpose="batch")] == [upload.id]
    assert client.files.delete(upload.id).deleted is True
    with pytest.raises(openai.NotFoundError, match=f"No such File object: {upload.id}"):
        client.files.retrieve(upload.id)


def test_unknown_batch_is_a_404_in_openais_envelope() -> None:
    client = Emulator().openai_client()
    with pytest.raises(openai.NotFoundError) as info:
        client.batches.retrieve("batch_unknown")
    assert info.value.body == {"message": "No batch found with id 'batch_unknown'.", "type": "invalid_request_error",
                               "param": None, "code": None}
    assert info.value.request_id.startswith("req_")


@pytest.mark.parametrize("key", ["", " "])
def test_no_api_key_is_a_401(key: str) -> None:
    client = Emulator().openai_client(api_key="x", default_headers={"Authorization": key})
    with pytest.raises(openai.AuthenticationError, match="You didn't provide an API key"):
        client.batches.list()


def test_rate_limit_is_retried_after_retry_after() -> None:
    emulator = Emulator()
    emulator.faults.http_error(429, times=2, provider="openai", retry_after=0)
    client = emulator.openai_client()
    assert client.batches.list().data == []
    assert [e.status for e in emulator.journal] == [429, 429, 200]


def test_server_errors_surface_after_the_sdk_retries() -> None:
    emulator = Emulator()
    emulator.faults.http_error(500, times=5, provider="openai", retry_after=0)
    client = emulator.openai_client(max_retries=1)
    with pytest.raises(openai.InternalServerError):
        client.batches.list()
    assert len(emulator.journal) == 2


def test_dropped_connection_is_a_connection_error() -> None:
    emulator = Emulator()
    emulator.faults.drop_connection(times=1, provider="openai")
    client = emulator.openai_client(max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.batches.list()
    assert client.batches.list().data == []


def test_responses_endpoint_returns_response_objects(emulator: Emulator) -> None:
    client = emulator.openai_client()
    lines = []
    for i, prompt in enumerate(SEED_PROMPTS[:2], 1):
        body = {"model": "gpt-4o-mini", "input": prompt,
                "text": {"format": {"type": "json_schema", "name": "User", "strict": True, "schema": USER_SCHEMA}}}
        lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/responses", "body": body}))
    batch = client.batches.retrieve(submit(client, ("\n".join(lines) + "\n").encode(), "/v1/responses").id)
    from openai.types.responses import Response

    output = [Response.model_validate(row["response"]["body"]) for row in rows(client, batch.output_file_id)]
    assert [User.model_validate_json(r.output_text) for r in output] == list(EXPECTED_USERS[:2])


def test_schema_synthetic_answers_are_valid_and_deterministic() -> None:
    prompts = ["Tell me about somebody.", "Another person."]

    def answers() -> list[dict]:
        client = Emulator(seed=3).openai_client()
        batch = client.batches.retrieve(submit(client, openai_chat_lines(prompts)).id)
        return [json.loads(row["response"]["body"]["choices"][0]["message"]["content"])
                for row in rows(client, batch.output_file_id)]

    first = answers()
    assert first == answers()
    assert all(User.model_validate(answer) for answer in first)


def test_plain_text_requests_get_deterministic_text() -> None:
    client = Emulator().openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(["Say hi"], schema=None)).id)
    [row] = rows(client, batch.output_file_id)
    assert "Simulated answer" in row["response"]["body"]["choices"][0]["message"]["content"]


def test_expectations_by_custom_id_and_regex_first_match_wins() -> None:
    emulator = Emulator()
    emulator.expect({"name": "Zed", "age": 1}, custom_id="request-2")
    emulator.expect({"name": "Regex", "age": 2}, regex=r"\bBob\b")
    emulator.expect({"name": "Never", "age": 3}, match="Bob")
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:2])).id)
    by_id = {row["custom_id"]: json.loads(row["response"]["body"]["choices"][0]["message"]["content"])
             for row in rows(client, batch.output_file_id)}
    assert by_id["request-2"] == {"name": "Zed", "age": 1}


def test_callable_responder() -> None:
    emulator = Emulator()
    emulator.respond_with(lambda item: {"name": item.custom_id, "age": item.index})
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines(SEED_PROMPTS[:2])).id)
    assert [json.loads(r["response"]["body"]["choices"][0]["message"]["content"])
            for r in rows(client, batch.output_file_id)] == [{"name": "request-1", "age": 0},
                                                             {"name": "request-2", "age": 1}]


def test_shuffled_results_still_cover_every_request(emulator: Emulator) -> None:
    emulator.shuffle_results = True
    client = emulator.openai_client()
    batch = client.batches.retrieve(submit(client, openai_chat_lines()).id)
    ids = [row["custom_id"] for row in rows(client, batch.output_file_id)]
    assert sorted(ids) == sorted(f"request-{i}" for i in range(1, 11)) and ids != sorted(ids, key=lambda s: int(s[8:]))


async def _async_round_trip(emulator: Emulator) -> list[User]:
    client = emulator.openai_client(async_client=True)
    upload = await client.files.create(file=("in.jsonl", openai_chat_lines()), purpose="batch")
    batch = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                        completion_window="24h")
    batch = await client.batches.retrieve(batch.id)
    content = await client.files.content(batch.output_file_id)
    return [User.model_validate_json(json.loads(line)["response"]["body"]["choices"][0]["message"]["content"])
            for line in content.text.splitlines()]


def test_async_client(emulator: Emulator) -> None:
    import asyncio

    assert asyncio.run(_async_round_trip(emulator)) == list(EXPECTED_USERS)


def test_same_seed_same_ids() -> None:
    def ids() -> tuple[str, str]:
        client = Emulator(seed=11).openai_client()
        batch = submit(client, openai_chat_lines(SEED_PROMPTS[:1]))
        return batch.input_file_id, batch.id

    assert ids() == ids()


def test_reset_forgets_everything(emulator: Emulator) -> None:
    client = emulator.openai_client()
    batch = submit(client, openai_chat_lines(SEED_PROMPTS[:1]))
    emulator.reset()
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve(batch.id)
    assert emulator.journal.calls() == [e for e in emulator.journal if e.status == 404]
