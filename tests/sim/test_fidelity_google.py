"""The emulator's Gemini objects against the installed google-genai SDK's types: every field a
type declares is either sent, or listed here with the reason the live Developer API leaves it
out for that call (sources: ai.google.dev/api/batch-mode, /api/generate-content, /api/files,
wire-formats.md C.3-C.5, the langchain4j recording). An SDK upgrade that declares a new field
makes these tests fail until the field is emulated or explained."""

from __future__ import annotations

import io
import json

import pytest
from google.genai import types

from pytest_batch.seed import SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim.core import Emulator

from .sdk_fields import unexplained
from .test_google import MODEL, raw

#: BatchJob fields _BatchJob_from_mldev never fills from a Developer-API Operation (C.3).
VERTEX_ONLY_JOB = {
    "error": "the SDK does not map the Operation's error for the Developer API (C.3: BatchJob.error stays None)",
    "startTime": "Vertex batchPredictionJobs only; GenerateContentBatch has no start time",
    "src": "Vertex only: the Developer API's Operation metadata is mapped without inputConfig",
    "completionStats": "Vertex only (batchStats is not mapped by _BatchJob_from_mldev)",
    "outputInfo": "Vertex only",
}
NOT_ENDED = {"endTime": "set when the batch ends (recording: PENDING has none)",
             "dest": "metadata.output appears when the batch ends (C.3)"}
#: dest of an inline batch, and of a file batch
INLINE_DEST = {f"dest.{k}": why for k, why in {
    "format": "Vertex only (gcs/bigquery output formats)", "gcsUri": "Vertex only", "bigqueryUri": "Vertex only",
    "vertexDataset": "Vertex only", "fileName": "inline input: the output is inline (C.3)",
    "inlinedEmbedContentResponses": "a generateContent batch, not an embeddings batch"}.items()}
FILE_DEST = {**{k: v for k, v in INLINE_DEST.items() if k != "dest.fileName"},
             "dest.inlinedResponses": "file input: the output is the responses file (C.3)"}

#: GenerateContentResponse fields the Developer API does not send for a text answer in a batch
RESPONSE = {
    "sdkHttpResponse": "set by the SDK on a synchronous call, never on the wire",
    "automaticFunctionCallingHistory": "SDK-side (automatic function calling), never on the wire",
    "parsed": "SDK-side: filled from response_schema on synchronous calls only (D.3)",
    "createTime": "Vertex only; the Developer API sends none (recording, C.4)",
    "promptFeedback": "sent only when the prompt itself is blocked",
    "modelStatus": "sent only for models with a status notice (preview/deprecation); none in the recording",
}
CANDIDATE = {f"candidates[].{k}": why for k, why in {
    "citationMetadata": "only when the answer recites a source",
    "finishMessage": "only with some finish reasons (e.g. MALFORMED_FUNCTION_CALL); not for STOP (recording)",
    "tokenCount": "not sent by generateContent (recording, C.4)",
    "groundingMetadata": "only with the google_search tool", "urlContextMetadata": "only with the url_context tool",
    "avgLogprobs": "gemini-2.5 and later send none (recording, C.4); gemini-1.5/2.0 did",
    "logprobsResult": "only with generationConfig.responseLogprobs", "continuationToken": "Vertex only",
    "safetyRatings": "gemini-2.5 sends none on an answer that was not blocked (recording, C.4)",
}.items()}
PART = {f"candidates[].content.parts[].{k}": "a text answer has text parts only (recording)" for k in (
    "mediaResolution", "codeExecutionResult", "executableCode", "fileData", "functionCall", "functionResponse",
    "inlineData", "thought", "thoughtSignature", "videoMetadata", "toolCall", "toolResponse", "partMetadata",
    "audioTranscription", "mediaProcessing", "speechMetadata", "documentMetadata", "spreadsheetMetadata",
    "audioMetadata")}
USAGE = {f"usageMetadata.{k}": why for k, why in {
    "cacheTokensDetails": "only when cached tokens were used", "cachedContentTokenCount": "only with a cache hit",
    "candidatesTokensDetails": "the Developer API sends prompt details only (C.4 capture)",
    "toolUsePromptTokenCount": "only when a tool ran", "toolUsePromptTokensDetails": "only when a tool ran",
    "trafficType": "Vertex only",
}.items()}
ANSWER = {**RESPONSE, **CANDIDATE, **PART, **USAGE}
THINKING_OFF = {"usageMetadata.thoughtsTokenCount": "not a thinking call (flash-lite without a budget)"}
ROW = {"error": "the row succeeded (an InlinedResponse has response or error)",
       "metadata": "no metadata.key was given"}


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(expectations=seed_expectations(), lifecycle="polls:3")


def _prefixed(prefix: str, paths: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}.{k}": v for k, v in paths.items()}


def test_a_batch_job_carries_every_field_the_sdk_declares_in_each_state(emulator):
    client = emulator.google_client()
    src = [{"contents": p, "metadata": {"key": str(i)}} for i, p in enumerate(SEED_PROMPTS[:2])]
    job = client.batches.create(model=MODEL, src=src, config={"display_name": "states"})
    pending = {**VERTEX_ONLY_JOB, **NOT_ENDED}
    assert unexplained(job, pending) == []
    running = client.batches.get(name=job.name)
    assert running.state.name == "JOB_STATE_RUNNING"
    assert unexplained(running, pending) == []
    client.batches.get(name=job.name)
    done = client.batches.get(name=job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    row = "dest.inlinedResponses[]"
    assert unexplained(done, {**VERTEX_ONLY_JOB, **INLINE_DEST, f"{row}.error": ROW["error"],
                              **_prefixed(f"{row}.response", ANSWER)}) == []

    cancelled = client.batches.create(model=MODEL, src=src, config={"display_name": "c"})
    client.batches.cancel(name=cancelled.name)
    cancelled = client.batches.get(name=cancelled.name)
    assert cancelled.state.name == "JOB_STATE_CANCELLED"
    # nothing had run: no output (C.3), but the batch has ended
    assert unexplained(cancelled, {**VERTEX_ONLY_JOB, "dest": NOT_ENDED["dest"]}) == []

    emulator.faults.batch("validation_failure")
    failed = client.batches.create(model=MODEL, src=src, config={"display_name": "f"})
    client.batches.get(name=failed.name)
    failed = client.batches.get(name=failed.name)
    assert failed.state.name == "JOB_STATE_FAILED"
    assert unexplained(failed, {**VERTEX_ONLY_JOB, "dest": "a failed batch has no output"}) == []


def test_the_operation_on_the_wire_carries_the_documented_batch_fields(emulator):
    """The SDK reads only part of the Operation (C.3); REST users read the rest."""
    client = emulator.google_client()
    job = client.batches.create(model=MODEL, src=[{"contents": "hi"}], config={"display_name": "d"})
    pending = raw(emulator, "GET", f"/v1/{job.name}").json()
    assert set(pending) == {"name", "metadata"}
    assert set(pending["metadata"]) == {"@type", "model", "displayName", "createTime", "updateTime", "batchStats",
                                        "state", "name"}
    raw(emulator, "GET", f"/v1/{job.name}")
    done = raw(emulator, "GET", f"/v1/{job.name}").json()
    # GenerateContentBatch (ai.google.dev/api/batch-mode) also has priority, omitted at its default 0
    assert set(done["metadata"]) == {"@type", "model", "displayName", "createTime", "endTime", "updateTime",
                                     "batchStats", "state", "name", "output"}
    assert set(done) == {"name", "metadata", "done", "response"}


@pytest.mark.parametrize(("model", "thinking"), [("gemini-2.5-flash", True), ("gemini-2.5-flash-lite", False),
                                                 ("gemini-2.5-pro", True)])
def test_each_inline_answer_carries_the_usage_the_model_reports(emulator, model, thinking):
    emulator.set_lifecycle("immediate")
    client = emulator.google_client()
    job = client.batches.create(model=model, src=[{"contents": SEED_PROMPTS[0], "config": {
        "response_mime_type": "application/json", "response_schema": User}}])
    answer = client.batches.get(name=job.name).dest.inlined_responses[0]
    assert unexplained(answer, {**ROW, **_prefixed("response", {**ANSWER, **({} if thinking else THINKING_OFF)})}) \
        == []
    usage = answer.response.usage_metadata
    assert usage.prompt_tokens_details == [types.ModalityTokenCount(modality="TEXT",
                                                                    token_count=usage.prompt_token_count)]
    assert usage.total_token_count == (usage.prompt_token_count + usage.candidates_token_count
                                       + (usage.thoughts_token_count or 0))


def test_a_thinking_budget_of_zero_turns_thinking_off_and_a_budget_caps_it(emulator):
    emulator.set_lifecycle("immediate")
    client = emulator.google_client()
    off = {"thinking_config": {"thinking_budget": 0}}
    capped = {"thinking_config": {"thinking_budget": 3}}
    job = client.batches.create(model="gemini-2.5-flash", src=[{"contents": "a", "config": off},
                                                                {"contents": "b", "config": capped}])
    first, second = (row.response.usage_metadata for row in client.batches.get(name=job.name).dest.inlined_responses)
    assert first.thoughts_token_count is None and second.thoughts_token_count == 3


def test_each_line_of_a_responses_file_carries_the_fields_the_sdk_declares(emulator):
    emulator.set_lifecycle("immediate")
    client = emulator.google_client()
    line = {"key": "k", "request": {"contents": [{"parts": [{"text": SEED_PROMPTS[0]}]}]}}
    uploaded = client.files.upload(file=io.BytesIO(json.dumps(line).encode()), config={"mime_type": "jsonl",
                                                                                        "display_name": "in"})
    created = client.batches.create(model=MODEL, src=uploaded.name, config={"display_name": "from-file"})
    job = client.batches.get(name=created.name)
    assert unexplained(job, {**VERTEX_ONLY_JOB, **FILE_DEST}) == []
    row = json.loads(client.files.download(file=job.dest.file_name).splitlines()[0])
    assert set(row) == {"key", "response"}
    parsed = types.GenerateContentResponse._from_response(response=row["response"], kwargs={})
    assert unexplained(parsed, ANSWER) == []


def test_files_carry_the_fields_the_sdk_declares(emulator):
    client = emulator.google_client()
    uploaded = client.files.upload(file=io.BytesIO(b'{"key": "a", "request": {"contents": "x"}}\n'),
                                   config={"mime_type": "jsonl", "display_name": "in"})
    not_video = {"videoMetadata": "only for video files", "error": "only when processing failed (state FAILED)"}
    assert unexplained(client.files.get(name=uploaded.name),
                       {**not_video, "downloadUri": "uploaded files cannot be downloaded (C.5)"}) == []
    emulator.set_lifecycle("immediate")
    line = {"key": "k", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}
    source = client.files.upload(file=io.BytesIO(json.dumps(line).encode()), config={"mime_type": "jsonl"})
    job = client.batches.get(name=client.batches.create(model=MODEL, src=source.name).name)
    # a batch output file has no display name (C.3 capture of files/batch-…)
    assert unexplained(client.files.get(name=job.dest.file_name),
                       {**not_video, "displayName": "a generated output file has none"}) == []
