"""The Anthropic Message Batches emulator, driven by the real anthropic SDK."""

from __future__ import annotations

import asyncio
import json
import re
import time
import types

import anthropic
import httpx2
import pytest

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User
from pytest_batch.sim import Emulator
from pytest_batch.sim.http import SimRequest

# Field sets of the curator recordings (realdata/decoded/anthropic_*.json) and the live
# rows of the OpenRouter notes: the emulator must send exactly these.
BATCH_FIELDS = {"id", "type", "processing_status", "request_counts", "ended_at", "created_at", "expires_at",
                "archived_at", "cancel_initiated_at", "results_url"}
COUNT_FIELDS = {"processing", "succeeded", "errored", "canceled", "expired"}
MESSAGE_FIELDS = {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
USAGE_FIELDS = {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation",
                "output_tokens", "service_tier", "inference_geo"}
#: recorded timestamps: microseconds and "+00:00", e.g. 2025-01-12T05:59:14.154311+00:00
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
# anthropic < 0.73 has no transform_schema (the SDK matrix collects this file there too)
USER_SCHEMA = getattr(anthropic, "transform_schema", lambda model: model.model_json_schema())(User)
MODEL = "claude-haiku-4-5"
#: what a hand-made HTTP call needs besides the body: the SDKs send both headers on every call.
RAW_HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def params(prompt: str, *, mode: str = "text", **extra) -> dict:
    """One request's params: plain text, structured output ("json") or a forced tool ("tool")."""
    body = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": prompt}]}
    if mode == "json":
        body["output_config"] = {"format": {"type": "json_schema", "schema": USER_SCHEMA}}
    elif mode == "tool":
        body["tools"] = [{"name": "User", "description": "Record the user.", "input_schema": USER_SCHEMA}]
        body["tool_choice"] = {"type": "tool", "name": "User"}
    body.update(extra)
    return body


def seed_requests(mode: str = "json") -> list[dict]:
    return [{"custom_id": f"user-{i}", "params": params(prompt, mode=mode)} for i, prompt in enumerate(SEED_PROMPTS)]


def results(client: anthropic.Anthropic, batch_id: str) -> dict[str, dict]:
    """custom_id -> result, as plain JSON."""
    return {row.custom_id: row.result.model_dump(mode="json", exclude_unset=True)
            for row in client.messages.batches.results(batch_id)}


def raw_json(response) -> dict:
    """The JSON body of a ``with_raw_response`` call, as sent."""
    return json.loads(response.http_response.text)


def ended(client: anthropic.Anthropic, requests: list[dict]) -> tuple[object, dict[str, dict]]:
    batch = client.messages.batches.create(requests=requests)
    batch = client.messages.batches.retrieve(batch.id)
    assert batch.processing_status == "ended"
    return batch, results(client, batch.id)


# --------------------------------------------------------------------------- the seed prompts end to end

def test_ten_users_come_back_as_structured_output(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch, rows = ended(client, seed_requests("json"))
    assert batch.request_counts.succeeded == 10
    users = []
    for i in range(10):
        message = rows[f"user-{i}"]["message"]
        assert message["stop_reason"] == "end_turn" and message["content"][0]["type"] == "text"
        users.append(User.model_validate_json(message["content"][0]["text"]))
    assert users == list(EXPECTED_USERS)


def test_ten_users_come_back_as_forced_tool_calls(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    _, rows = ended(client, seed_requests("tool"))
    users = []
    for i in range(10):
        message = rows[f"user-{i}"]["message"]
        block = message["content"][0]
        assert message["stop_reason"] == "tool_use"
        assert block["type"] == "tool_use" and block["name"] == "User" and block["id"].startswith("toolu_01")
        users.append(User.model_validate(block["input"]))
    assert users == list(EXPECTED_USERS)


def test_async_client_runs_the_seed_batch_end_to_end(emulator: Emulator) -> None:
    async def run() -> list[User]:
        client = emulator.anthropic_client(async_client=True)
        batch = await client.messages.batches.create(requests=seed_requests("json"))
        batch = await client.messages.batches.retrieve(batch.id)
        assert batch.processing_status == "ended"
        found = {}
        async for row in await client.messages.batches.results(batch.id):
            found[row.custom_id] = User.model_validate_json(row.result.message.content[0].text)
        return [found[f"user-{i}"] for i in range(10)]

    assert asyncio.run(run()) == list(EXPECTED_USERS)


def test_beta_namespace_with_legacy_output_format_shares_the_batches(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    requests = [{"custom_id": "alice", "params": {
        "model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": SEED_PROMPTS[0]}],
        "output_format": {"type": "json_schema", "schema": USER_SCHEMA}}}]
    batch = client.beta.messages.batches.create(requests=requests, betas=["structured-outputs-2025-11-13"])
    assert client.beta.messages.batches.retrieve(batch.id).processing_status == "ended"
    assert client.messages.batches.retrieve(batch.id).id == batch.id
    row = next(iter(client.beta.messages.batches.results(batch.id)))
    assert User.model_validate_json(row.result.message.content[0].text) == EXPECTED_USERS[0]


def test_beta_true_query_of_anthropic_1x_is_ignored(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests(), extra_query={"beta": "true"})
    again = client.messages.batches.retrieve(batch.id, extra_query={"beta": "true"})
    assert again.id == batch.id


def test_prompt_matching_sees_system_text_blocks_and_every_message(emulator: Emulator) -> None:
    emulator.expect("from system", match="SYSTEM-MARK")
    emulator.expect("from a later block", match="BLOCK-MARK")
    client = emulator.anthropic_client()
    requests = [
        {"custom_id": "sys", "params": params("hi", system=[{"type": "text", "text": "SYSTEM-MARK"}])},
        {"custom_id": "blocks", "params": {"model": MODEL, "max_tokens": 9, "messages": [
            {"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "BLOCK-MARK"}]}]}},
    ]
    _, rows = ended(client, requests)
    assert rows["sys"]["message"]["content"][0]["text"] == "from system"
    assert rows["blocks"]["message"]["content"][0]["text"] == "from a later block"


# --------------------------------------------------------------------------- wire shapes

def test_batch_object_and_headers_match_the_recordings(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    raw = client.messages.batches.with_raw_response.create(requests=seed_requests())
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["request-id"].startswith("req_")
    created = raw_json(raw)
    assert set(created) == BATCH_FIELDS and set(created["request_counts"]) == COUNT_FIELDS
    assert re.fullmatch(r"msgbatch_01[1-9A-HJ-NP-Za-km-z]{22}", created["id"])
    assert created["type"] == "message_batch" and created["processing_status"] == "in_progress"
    assert TIMESTAMP.match(created["created_at"]) and TIMESTAMP.match(created["expires_at"])
    batch = client.messages.batches.retrieve(created["id"])
    assert (batch.expires_at - batch.created_at).total_seconds() == 86400
    done = raw_json(client.messages.batches.with_raw_response.retrieve(created["id"]))
    assert TIMESTAMP.match(done["ended_at"]) and done["archived_at"] is None and done["cancel_initiated_at"] is None
    assert done["results_url"] == f"https://api.anthropic.com/v1/messages/batches/{done['id']}/results"


def test_only_polls_of_an_unfinished_batch_carry_retry_after() -> None:
    """As recorded: create and cancel answer without retry-after, in-progress polls with 10 s."""
    emulator = Emulator(lifecycle="polls:2")
    client = emulator.anthropic_client()
    created = client.messages.batches.with_raw_response.create(requests=seed_requests()[:1])
    assert "retry-after" not in created.headers
    batch_id = raw_json(created)["id"]
    assert client.messages.batches.with_raw_response.retrieve(batch_id).headers["retry-after"] == "10"
    assert "retry-after" not in client.messages.batches.with_raw_response.retrieve(batch_id).headers
    other = client.messages.batches.create(requests=seed_requests()[:1])
    assert "retry-after" not in client.messages.batches.with_raw_response.cancel(other.id).headers


def test_result_rows_match_the_recordings(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch, _ = ended(client, seed_requests("text"))
    raw = client.get(f"/v1/messages/batches/{batch.id}/results", cast_to=httpx2.Response)
    assert raw.headers["content-type"] == "application/x-jsonl"
    assert raw.headers["content-disposition"] == f'attachment; filename="{batch.id}_results.jsonl"'
    lines = raw.text.split("\n")
    assert lines[-1] == "" and all(lines[:-1]), "one object a line, no blank lines"
    row = json.loads(lines[0])
    assert set(row) == {"custom_id", "result"} and row["result"]["type"] == "succeeded"
    message = row["result"]["message"]
    assert set(message) == MESSAGE_FIELDS
    assert re.fullmatch(r"msg_01[1-9A-HJ-NP-Za-km-z]{22}", message["id"])
    assert message["type"] == "message" and message["role"] == "assistant" and message["model"] == MODEL
    assert message["stop_sequence"] is None
    assert set(message["usage"]) == USAGE_FIELDS and message["usage"]["service_tier"] == "batch"
    assert message["usage"]["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}


def test_results_url_points_back_at_the_loopback_server(emulator: Emulator) -> None:
    def call(method: str, path: str, body: bytes = b"") -> dict:
        request = SimRequest.build(method, f"http://127.0.0.1:8765/anthropic{path}", RAW_HEADERS, body)
        return json.loads(emulator.handle(request).read())

    created = call("POST", "/v1/messages/batches", json.dumps({"requests": seed_requests()}).encode())
    done = call("GET", f"/v1/messages/batches/{created['id']}")
    assert done["results_url"] == f"http://127.0.0.1:8765/anthropic/v1/messages/batches/{created['id']}/results"


def test_sdk_downloads_results_over_the_loopback_server(emulator: Emulator) -> None:
    from pytest_batch.sim.server import start_server

    with start_server(emulator) as server:
        client = anthropic.Anthropic(base_url=server.base_urls["anthropic"], api_key="local", max_retries=0)
        _, rows = ended(client, seed_requests("tool"))
    users = [User.model_validate(rows[f"user-{i}"]["message"]["content"][0]["input"]) for i in range(10)]
    assert users == list(EXPECTED_USERS)


def test_results_are_identical_on_every_download(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch, first = ended(client, seed_requests("tool"))
    assert results(client, batch.id) == first


# --------------------------------------------------------------------------- lifecycle

def test_counts_stay_processing_until_ended_then_flip_at_once() -> None:
    emulator = Emulator(lifecycle="polls:3")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    seen = []
    for _ in range(3):
        batch = client.messages.batches.retrieve(batch.id)
        seen.append((batch.processing_status, batch.request_counts.model_dump()))
    waiting = {"processing": 10, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    assert seen == [("in_progress", waiting), ("in_progress", waiting),
                    ("ended", {"processing": 0, "succeeded": 10, "errored": 0, "canceled": 0, "expired": 0})]
    assert batch.ended_at is not None and batch.results_url is not None


def test_results_before_the_batch_ends_are_404(emulator: Emulator) -> None:
    emulator.set_lifecycle("manual")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.get(f"/v1/messages/batches/{batch.id}/results", cast_to=httpx2.Response)
    assert caught.value.api_message == f"Message Batch {batch.id} has no available results."
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        client.messages.batches.results(batch.id)


def test_manual_lifecycle_ends_on_advance(emulator: Emulator) -> None:
    emulator.set_lifecycle("manual")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    emulator.advance()
    assert client.messages.batches.retrieve(batch.id).request_counts.succeeded == 10


def test_cancel_goes_through_canceling_to_ended_with_canceled_rows(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    emulator.advance(2.5)
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert (canceling.cancel_initiated_at - canceling.created_at).total_seconds() == 2.5
    assert canceling.request_counts.processing == 10 and canceling.results_url is None
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended" and done.request_counts.canceled == 10
    assert done.cancel_initiated_at == canceling.cancel_initiated_at
    assert {row["type"] for row in results(client, batch.id).values()} == {"canceled"}


def test_cancel_keeps_the_requests_finished_before_it() -> None:
    emulator = Emulator(lifecycle="polls:4")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    client.messages.batches.retrieve(batch.id)
    client.messages.batches.retrieve(batch.id)  # half way
    client.messages.batches.cancel(batch.id)
    counts = client.messages.batches.retrieve(batch.id).request_counts
    assert (counts.succeeded, counts.canceled, counts.processing) == (5, 5, 0)


def test_cancel_under_manual_lifecycle_waits_for_advance() -> None:
    emulator = Emulator(lifecycle="manual")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    client.messages.batches.cancel(batch.id)
    assert client.messages.batches.retrieve(batch.id).processing_status == "canceling"
    emulator.advance(batch_id=batch.id)
    assert client.messages.batches.retrieve(batch.id).request_counts.canceled == 10


def test_cancel_of_an_ended_batch_returns_it_unchanged(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch, _ = ended(client, seed_requests())
    again = client.messages.batches.cancel(batch.id)
    assert again.processing_status == "ended" and again.cancel_initiated_at is None


def test_deleting_an_in_progress_batch_is_refused(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.delete(batch.id)
    assert caught.value.type == "invalid_request_error"
    assert caught.value.api_message == "In progress batches cannot be deleted. Consider canceling the batch instead."


def test_deleting_an_ended_batch_forgets_it(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch, _ = ended(client, seed_requests())
    deleted = client.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)
    assert [b.id for b in client.messages.batches.list()] == []


def test_clock_past_expires_at_expires_the_unfinished_requests() -> None:
    emulator = Emulator(lifecycle="polls:4")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    client.messages.batches.retrieve(batch.id)  # a quarter done
    emulator.advance(24 * 3600)
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert (done.request_counts.succeeded, done.request_counts.expired) == (2, 8)
    assert sorted(row["type"] for row in results(client, batch.id).values()) == ["expired"] * 8 + ["succeeded"] * 2


def test_a_batch_whose_lifecycle_ended_before_expires_at_ended_then_with_nothing_expired() -> None:
    emulator = Emulator(lifecycle="seconds:3600")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    emulator.advance(86401)
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert (done.request_counts.succeeded, done.request_counts.expired) == (10, 0)
    assert (done.ended_at - done.created_at).total_seconds() == 3600


def test_a_batch_still_running_at_expires_at_ends_then_with_its_unfinished_requests_expired() -> None:
    """``seconds:200000``: 43.2% done when the 24 h window closed (not everything, as read later)."""
    emulator = Emulator(lifecycle="seconds:200000")
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    emulator.advance(200001)
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended" and done.ended_at == done.expires_at
    assert (done.request_counts.succeeded, done.request_counts.expired) == (4, 6)
    assert sorted(row["type"] for row in results(client, batch.id).values()) == ["expired"] * 6 + ["succeeded"] * 4


def test_expire_fault_ends_with_the_unfinished_share_expired(emulator: Emulator) -> None:
    emulator.faults.batch("expire", completed_fraction=0.3)
    client = emulator.anthropic_client()
    batch, rows = ended(client, seed_requests())
    assert (batch.request_counts.succeeded, batch.request_counts.expired) == (3, 7)
    assert rows["user-9"] == {"type": "expired"}


def test_results_are_archived_after_29_days(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    batch, _ = ended(client, seed_requests())
    emulator.advance(29 * 86400)
    archived = client.messages.batches.retrieve(batch.id)
    assert (archived.archived_at - archived.created_at).days == 29
    with pytest.raises(anthropic.NotFoundError, match="has no available results"):
        client.messages.batches.results(batch.id)


# --------------------------------------------------------------------------- list

def make_batches(client: anthropic.Anthropic, n: int) -> list[str]:
    """``n`` batches, returned newest first (the list order)."""
    ids = [client.messages.batches.create(requests=seed_requests()[:1]).id for _ in range(n)]
    return ids[::-1]


def test_list_auto_pagination_walks_newest_first(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    ids = make_batches(client, 5)
    assert [b.id for b in client.messages.batches.list(limit=2)] == ids
    assert [b.id for b in client.messages.batches.list()] == ids


def test_list_explicit_pages_after_id(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    ids = make_batches(client, 5)
    first = client.messages.batches.list(limit=2)
    assert ([b.id for b in first.data], first.has_more, first.first_id, first.last_id) == (
        ids[:2], True, ids[0], ids[1])
    last = client.messages.batches.list(limit=2, after_id=ids[3])
    assert ([b.id for b in last.data], last.has_more) == ([ids[4]], False)


def test_list_before_id_pages_towards_newer_batches(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    ids = make_batches(client, 5)
    page = client.messages.batches.list(limit=2, before_id=ids[4])
    assert ([b.id for b in page.data], page.has_more) == (ids[2:4], True)
    assert [b.id for b in client.messages.batches.list(limit=2, before_id=ids[4])] == ids[2:4] + ids[:2]


@pytest.mark.parametrize("limit, message", [(0, "limit: Input should be greater than or equal to 1"),
                                            (1001, "limit: Input should be less than or equal to 1000")])
def test_list_limit_outside_1_to_1000_is_400(emulator: Emulator, limit: int, message: str) -> None:
    client = emulator.anthropic_client()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.list(limit=limit)
    assert caught.value.api_message == message


# --------------------------------------------------------------------------- synchronous errors

@pytest.mark.parametrize("custom_id, message", [
    ("x" * 65, "requests.0.custom_id: String should have at most 64 characters"),
    ("has space", "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
    (None, "requests.0.custom_id: Field required"),
])
def test_bad_custom_id_is_a_synchronous_400(emulator: Emulator, custom_id: str | None, message: str) -> None:
    client = emulator.anthropic_client()
    entry = {"params": params("hi")} if custom_id is None else {"custom_id": custom_id, "params": params("hi")}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=[entry])
    assert (caught.value.type, caught.value.api_message) == ("invalid_request_error", message)
    assert caught.value.body["request_id"] == caught.value.request_id
    assert emulator.anthropic.batches == {}


def test_duplicate_custom_id_is_a_synchronous_400(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    entries = [{"custom_id": "dup", "params": params("a")}, {"custom_id": "dup", "params": params("b")}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=entries)
    assert caught.value.api_message == ("requests: custom_id's must be unique within a batch. "
                                        "Duplicate custom_id found: dup")


def test_empty_request_list_is_a_synchronous_400(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=[])
    assert caught.value.api_message == "requests: List should have at least 1 item after validation, not 0"


def test_body_that_is_not_json_is_a_400(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages/batches", cast_to=httpx2.Response, content=b"{not json",
                    options={"headers": {"content-type": "application/json"}})
    assert caught.value.api_message.startswith("The request body is not valid JSON: ")


def test_too_many_requests_is_413(emulator: Emulator) -> None:
    emulator.anthropic.max_requests = 3
    client = emulator.anthropic_client()
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        client.messages.batches.create(requests=seed_requests()[:4])
    assert caught.value.type == "request_too_large" and "at most 3 requests" in caught.value.api_message
    assert client.messages.batches.create(requests=seed_requests()[:3]).request_counts.processing == 3


def test_too_many_bytes_is_413(emulator: Emulator) -> None:
    emulator.anthropic.max_bytes = 1000
    client = emulator.anthropic_client()
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        client.messages.batches.create(requests=seed_requests())
    assert caught.value.type == "request_too_large"


def test_unknown_batch_id_is_404_not_found_error(emulator: Emulator) -> None:
    client = emulator.anthropic_client()
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.batches.retrieve("msgbatch_01nope")
    assert (caught.value.type, caught.value.api_message) == ("not_found_error",
                                                             "Message Batch msgbatch_01nope not found.")
    assert caught.value.request_id.startswith("req_")


def test_missing_api_key_is_401(emulator: Emulator) -> None:
    client = emulator.anthropic_client(api_key="", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.batches.list()
    assert caught.value.body == {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "x-api-key header is required"},
                                 "request_id": caught.value.request_id}


def test_x_api_key_of_older_sdks_is_accepted(emulator: Emulator) -> None:
    client = emulator.anthropic_client(api_key=None, default_headers={"x-api-key": "sim-key"})
    assert client.messages.batches.list().data == []


def test_429_carries_retry_after_in_the_envelope(emulator: Emulator) -> None:
    emulator.faults.http_error(429, retry_after=7, provider="anthropic")
    client = emulator.anthropic_client(max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.batches.list()
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.type == "rate_limit_error" and caught.value.request_id.startswith("req_")


def test_injected_529_is_retried_by_the_sdk_after_the_retry_after_ms_it_names(emulator: Emulator, monkeypatch) -> None:
    import anthropic._base_client

    slept: list[float] = []

    class Time(types.ModuleType):  # the SDK's ``time`` module, with a sleep that only records
        def __getattr__(self, name: str) -> object:
            return getattr(time, name)

    fake_time = Time("time")
    fake_time.sleep = slept.append  # type: ignore[attr-defined]
    monkeypatch.setattr(anthropic._base_client, "time", fake_time)
    emulator.faults.http_error(529, times=1, retry_after=0.001, provider="anthropic")
    seen: list[httpx2.Response] = []
    client = anthropic.Anthropic(api_key="sim", http_client=httpx2.Client(
        transport=emulator.transport(), event_hooks={"response": [seen.append]}))
    batch = client.messages.batches.create(requests=seed_requests())
    # The SDK waits what retry-after-ms says (without it, at least 0.375 s of backoff).
    assert slept == [0.001]
    assert batch.processing_status == "in_progress"
    assert [r.status_code for r in seen] == [529, 200]
    assert seen[0].headers["retry-after-ms"] == "1" and seen[0].headers["request-id"].startswith("req_")
    assert seen[1].request.headers["x-stainless-retry-count"] == "1"


def test_529_without_retries_is_an_overloaded_error(emulator: Emulator) -> None:
    emulator.faults.http_error(529, provider="anthropic")
    client = emulator.anthropic_client(max_retries=0)
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.batches.list()
    assert caught.value.type == "overloaded_error"


def test_500_is_retried_then_surfaces_as_an_internal_server_error(emulator: Emulator) -> None:
    emulator.faults.http_error(500, times=3, provider="anthropic")
    client = emulator.anthropic_client(max_retries=1)
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.batches.list()
    assert caught.value.type == "api_error" and caught.value.request_id.startswith("req_")
    assert [e.status for e in emulator.journal] == [500, 500]
    assert client.messages.batches.list().data == []  # the third fault answers this call's first try


def test_dropped_connection_is_a_connection_error_then_a_retry_succeeds(emulator: Emulator) -> None:
    emulator.faults.drop_connection(provider="anthropic")
    with pytest.raises(anthropic.APIConnectionError):
        emulator.anthropic_client(max_retries=0).messages.batches.list()
    emulator.faults.drop_connection(provider="anthropic")
    assert emulator.anthropic_client(max_retries=1).messages.batches.list().data == []
    assert [e.fault for e in emulator.journal] == ["dropped connection", "dropped connection", None]


# --------------------------------------------------------------------------- per-request outcomes

def test_http_error_fault_is_an_errored_row_with_the_full_envelope(emulator: Emulator) -> None:
    emulator.faults.request("user-1", "http_error", status=500, message="boom")
    emulator.faults.request("user-2", "http_error", status=400, message="bad temperature")
    client = emulator.anthropic_client()
    batch, rows = ended(client, seed_requests())
    assert (batch.request_counts.succeeded, batch.request_counts.errored) == (8, 2)
    error = rows["user-1"]["error"]
    assert error["type"] == "error" and error["request_id"].startswith("req_")
    assert (error["error"]["type"], error["error"]["message"]) == ("api_error", "boom")
    assert rows["user-2"]["error"]["error"]["type"] == "invalid_request_error"


def test_refusal_fault_stops_with_refusal(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "refusal")
    _, rows = ended(emulator.anthropic_client(), seed_requests())
    assert rows["user-0"]["type"] == "succeeded"
    assert rows["user-0"]["message"]["stop_reason"] == "refusal"


def test_truncated_fault_stops_with_max_tokens_and_cut_text(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "truncated")
    _, rows = ended(emulator.anthropic_client(), seed_requests())
    message = rows["user-0"]["message"]
    assert message["stop_reason"] == "max_tokens" and message["usage"]["output_tokens"] == 256
    text = message["content"][0]["text"]
    assert '{"name":"Alice","age":28}'.startswith(text) and len(text) < 25


def test_malformed_json_fault_gives_unparseable_text(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "malformed_json")
    _, rows = ended(emulator.anthropic_client(), seed_requests())
    message = rows["user-0"]["message"]
    assert message["stop_reason"] == "end_turn"
    with pytest.raises(ValueError):
        json.loads(message["content"][0]["text"])


def test_schema_violation_fault_gives_json_that_fails_the_model(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "schema_violation")
    _, rows = ended(emulator.anthropic_client(), seed_requests())
    value = json.loads(rows["user-0"]["message"]["content"][0]["text"])
    with pytest.raises(ValueError):
        User.model_validate(value)


@pytest.mark.parametrize("outcome", ["expired", "canceled"])
def test_expired_and_canceled_faults_are_bare_result_types(emulator: Emulator, outcome: str) -> None:
    emulator.faults.request("user-3", outcome)
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    statuses = []
    while batch.processing_status != "ended" and len(statuses) < 5:
        batch = client.messages.batches.retrieve(batch.id)
        statuses.append(batch.processing_status)
    rows = results(client, batch.id)
    assert rows["user-3"] == {"type": outcome}
    assert getattr(batch.request_counts, outcome) == 1 and batch.request_counts.succeeded == 9
    if outcome == "canceled":  # only a canceled batch has canceled results: it went through canceling
        assert statuses == ["canceling", "ended"] and batch.cancel_initiated_at is not None
    else:
        assert statuses == ["ended"] and batch.cancel_initiated_at is None


def test_truncated_tool_call_has_empty_input(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "truncated")
    _, rows = ended(emulator.anthropic_client(), seed_requests("tool"))
    message = rows["user-0"]["message"]
    assert message["stop_reason"] == "max_tokens"
    assert message["content"][0]["type"] == "tool_use" and message["content"][0]["input"] == {}


def test_malformed_json_in_tool_mode_comes_back_as_text_without_tool_use(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "malformed_json")
    _, rows = ended(emulator.anthropic_client(), seed_requests("tool"))
    content = rows["user-0"]["message"]["content"]
    assert [block["type"] for block in content] == ["text"]
    with pytest.raises(ValueError):
        json.loads(content[0]["text"])


def test_schema_violation_in_tool_mode_is_a_tool_input_that_fails_the_model(emulator: Emulator) -> None:
    emulator.faults.request("user-0", "schema_violation")
    _, rows = ended(emulator.anthropic_client(), seed_requests("tool"))
    block = rows["user-0"]["message"]["content"][0]
    assert block["type"] == "tool_use" and isinstance(block["input"], dict)
    with pytest.raises(ValueError):
        User.model_validate(block["input"])


@pytest.mark.parametrize("change, message", [
    ({"messages": None}, "messages: Field required"),
    ({"max_tokens": 0}, "max_tokens: must be greater than or equal to 1"),
    ({"stream": True}, '"stream=True" is not supported in the Message Batches API'),
])
def test_invalid_params_are_accepted_then_errored(emulator: Emulator, change: dict, message: str) -> None:
    bad = params("hi")
    bad.update(change)
    bad = {k: v for k, v in bad.items() if v is not None}
    client = emulator.anthropic_client()
    batch, rows = ended(client, [{"custom_id": "bad", "params": bad}, {"custom_id": "ok", "params": params("x")}])
    assert (batch.request_counts.errored, batch.request_counts.succeeded) == (1, 1)
    assert rows["bad"]["error"]["error"] == {"details": {"error_visibility": "user_facing"},
                                             "type": "invalid_request_error", "message": message}


def test_validation_failure_fault_errors_every_request(emulator: Emulator) -> None:
    emulator.faults.batch("validation_failure", message="bad batch")
    batch, rows = ended(emulator.anthropic_client(), seed_requests())
    assert batch.request_counts.errored == 10
    assert {(r["error"]["error"]["type"], r["error"]["error"]["message"]) for r in rows.values()} == {
        ("invalid_request_error", "bad batch")}


def test_shuffled_results_keep_every_row_once() -> None:
    emulator = Emulator(shuffle_results=True)
    client = emulator.anthropic_client()
    batch = client.messages.batches.create(requests=seed_requests())
    client.messages.batches.retrieve(batch.id)
    order = [row.custom_id for row in client.messages.batches.results(batch.id)]
    assert sorted(order) == sorted(f"user-{i}" for i in range(10)) and order != sorted(order)


def test_a_100000_request_batch_runs_through(emulator: Emulator) -> None:
    def call(method: str, path: str, body: bytes = b""):
        return emulator.handle(SimRequest.build(method, f"https://api.anthropic.com{path}", RAW_HEADERS, body))

    entry = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "ping"}]}
    body = json.dumps({"requests": [{"custom_id": f"r{i}", "params": entry} for i in range(100_000)]}).encode()
    batch_id = json.loads(call("POST", "/v1/messages/batches", body).read())["id"]
    counts = json.loads(call("GET", f"/v1/messages/batches/{batch_id}").read())["request_counts"]
    assert counts["succeeded"] == 100_000
    response = call("GET", f"/v1/messages/batches/{batch_id}/results")
    assert not isinstance(response.body, bytes), "results are streamed, never one big string"
    assert sum(chunk.count(b"\n") for chunk in response.iter_bytes()) == 100_000
