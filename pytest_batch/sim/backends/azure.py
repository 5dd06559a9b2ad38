"""Azure OpenAI's Files + Batch API: the state (AzureBackend), the OpenAI backend with what Azure
does differently. The HTTP side (paths, api-version, api-key, error envelope) is routes/azure.py.

Sources (docs/azure-batch.md cites each): "Getting started with Azure OpenAI batch deployments"
(learn.microsoft.com/azure/ai-foundry/openai/how-to/batch, with its Python and REST tabs) and
its "Batch limits" table. Marked [UNVERIFIED] where the docs are silent and the choice is ours.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

from ..http import HTTPError
from ..responders import Answer, BatchItem
from .base import BatchRecord, EmulatorState
from .openai import FileRecord, OpenAIBackend, ValidationFailure

#: the batch endpoints Azure documents (request lines may write them with a /v1 prefix)
AZURE_ENDPOINTS = ("/chat/completions", "/responses")
#: the deployment types a batch runs on; any other is refused ("the Azure OpenAI deployment SKU
#: is `globalbatch` for batch API requests", error code invalid_request)
BATCH_SKUS = ("GlobalBatch", "DataZoneBatch")
#: what ``expires_after.seconds`` of an upload and ``output_expires_after`` may be: 14 to 30 days
EXPIRY_RANGE = (1_209_600, 2_592_000)

#: Azure's "Error codes" table names these validation failures differently from OpenAI's
_CODES = {"mismatched_model": "model_mismatch", "invalid_url": "url_mismatch",
          "missing_required_parameter": "invalid_request", "streaming_unsupported": "invalid_request",
          "empty_file": "empty_file", "too_many_tasks": "too_many_tasks"}
#: the guide's "Known issues": a UTF-8 file with a byte-order mark fails with this generic message
BOM_MESSAGE = ("Validation failed: A valid model deployment name couldn't be extracted from the input file. Please "
               "ensure that each row in the input file has a valid deployment name specified in the 'model' field, "
               "and that the deployment name is consistent across all rows.")
_SAFE = {"filtered": False, "severity": "safe"}
_FILTER_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


@dataclass(frozen=True)
class Deployment:
    """A model deployment on the emulated resource: what ``model`` in a request line names."""

    name: str
    #: the model (and version) answers report, e.g. ``gpt-4o-mini-2024-07-18``
    model: str
    #: ``GlobalBatch`` or ``DataZoneBatch`` run batches; ``Standard``, ``GlobalStandard``... do not
    sku: str = "GlobalBatch"


class AzureBackend(OpenAIBackend):
    """Azure OpenAI batches. Any deployment name is accepted as a Global-Batch deployment of a model
    of the same name, unless declared with ``add_deployment`` (another model, or a SKU that cannot
    run batches); with ``strict_deployments`` an undeclared name fails with ``model_not_found``."""

    provider = "azure"
    max_requests = 100_000  # "Maximum requests per file"; 200 MB per file as on OpenAI
    # "We aim to process batch requests within 24 hours; we don't expire the jobs that take longer."
    expires_on_clock = False
    # "When you cancel the job, any remaining work is canceled and any already completed work is returned."
    keeps_rows_on_cancel = True
    # the guide's output line is {"custom_id", "response", "error"}: no id
    row_ids = False
    # "Successful jobs will still generate an error_file_id, but it will be associated with an empty
    # file with zero bytes" (troubleshooting); the output file likewise [UNVERIFIED]
    empty_result_files = True

    def __init__(self, emulator: EmulatorState) -> None:
        super().__init__(emulator)
        self.deployments: dict[str, Deployment] = {}
        self.strict_deployments = False

    def add_deployment(self, name: str, model: str | None = None, *, sku: str = "GlobalBatch") -> Deployment:
        """Declare a deployment: ``add_deployment("extract", "gpt-4o-mini-2024-07-18")``, or one that
        cannot run batches, ``add_deployment("chat", "gpt-4o", sku="Standard")``."""
        deployment = Deployment(name, model or name, sku)
        self.deployments[name] = deployment
        return deployment

    def model_of(self, deployment: str) -> str:
        """The model an answer of ``deployment`` reports (Azure answers name the model, not the deployment)."""
        found = self.deployments.get(deployment)
        return found.model if found is not None else deployment

    # ------------------------------------------------------------------ ids (the guide's examples)
    def new_file_id(self) -> str:
        return self.ids.azure_file()

    def new_output_file_id(self) -> str:
        return self.ids.azure_output_file()

    def new_batch_id(self) -> str:
        return self.ids.azure_batch()

    def new_request_id(self) -> str:
        return self.ids.uuid()

    def same_endpoint(self, url: Any, endpoint: str) -> bool:
        # the classic guide's lines say "/chat/completions", the v1 guide's "/v1/chat/completions",
        # for a batch created with endpoint "/chat/completions" in both
        return isinstance(url, str) and _short(url) == _short(endpoint)

    # ------------------------------------------------------------------ files
    def create_file(self, filename: str, purpose: str, content: bytes, expires_after: int | None) -> FileRecord:
        with self.lock:
            record = super().create_file(filename, purpose, content, expires_after)
            # an upload expires only when asked to ("There's a max limit of 500 batch files per resource
            # when no expiration is set")
            record.expires_at = record.created_at + expires_after if expires_after else None
        return record

    # ------------------------------------------------------------------ batches
    def create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint, window = body.get("endpoint"), body.get("completion_window")
        wire = dict(body)
        if isinstance(endpoint, str) and endpoint:
            if _short(endpoint) not in AZURE_ENDPOINTS:
                # [UNVERIFIED] wording; the endpoints are the guide's
                raise HTTPError(400, f"Invalid value for 'endpoint': '{endpoint}'. Supported values are: "
                                + ", ".join(f"'{e}'" for e in AZURE_ENDPOINTS) + ".", code="invalid_value",
                                param="endpoint")
            wire["endpoint"] = "/v1" + _short(endpoint)  # the OpenAI backend's own name for it
        if isinstance(window, str) and window:
            # "If you set any other value than 24h your job will fail": at validation, not here
            wire["completion_window"] = "24h"
        expiry = body.get("output_expires_after")
        if expiry is not None:
            _check_expiry(expiry.get("seconds") if isinstance(expiry, dict) else expiry, "output_expires_after.seconds")
        with self.lock:
            batch = super().create_batch(wire)
            self.batches[batch["id"]].extra["window"] = window
            self.batch_json[batch["id"]].update(endpoint=endpoint, completion_window=window)
        return self.view({**batch, "endpoint": endpoint, "completion_window": window})

    def retrieve_batch(self, batch_id: str, *, count_read: bool = True) -> dict[str, Any]:
        return self.view(super().retrieve_batch(batch_id, count_read=count_read))

    def list_batches(self, after: str | None, limit: int) -> dict[str, Any]:
        page = super().list_batches(after, limit)
        page["data"] = [self.view(batch) for batch in page["data"]]
        return page

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return self.view(super().cancel_batch(batch_id))

    @staticmethod
    def view(batch: dict[str, Any]) -> dict[str, Any]:
        """A batch as Azure shows it: ``endpoint`` null while validating, ``""`` for result files not
        written yet, no ``model`` or ``usage`` (the guide's create, retrieve and fail-fast outputs)."""
        if batch["status"] == "validating":
            batch["endpoint"] = None
        for name in ("output_file_id", "error_file_id"):
            if batch.get(name) is None:
                batch[name] = ""
        batch.pop("model", None)
        batch.pop("usage", None)
        return batch

    # ------------------------------------------------------------------ validation
    def _items(self, record: BatchRecord, source: FileRecord) -> list[BatchItem]:
        window = record.extra.get("window", "24h")
        if window != "24h":
            raise ValidationFailure("invalid_request", f"The completion window '{window}' is not supported; it must "
                                    "be '24h'.", "completion_window")  # [UNVERIFIED] wording
        if source.content.startswith(codecs.BOM_UTF8):
            raise ValidationFailure("invalid_request", BOM_MESSAGE)  # [UNVERIFIED] code
        try:
            items = super()._items(record, source)
        except ValidationFailure as failure:
            code = failure.error["code"]
            failure.error["code"] = _CODES.get(code, code)
            if code == "too_many_tasks":
                failure.error["message"] = (f"The number of requests in the input file exceeds the maximum allowed "
                                            f"value of {self.max_requests:,}.")
            elif code == "empty_file":
                failure.error["message"] = ("The input file is empty. Please ensure that the batch contains at least "
                                            "one request.")
            raise
        self._check_deployment(items[0].model)
        return items

    def _check_deployment(self, name: str) -> None:
        deployment = self.deployments.get(name)
        if deployment is None and self.strict_deployments:
            raise ValidationFailure("model_not_found", f"The Azure OpenAI model deployment name '{name}' that was "
                                    "specified in the 'model' property of the input file wasn't found.", "body.model")
        if deployment is not None and deployment.sku not in BATCH_SKUS:
            raise ValidationFailure("invalid_request", f"The deployment '{name}' is a {deployment.sku} deployment: "
                                    "batch requests need a Global-Batch or Data Zone Batch deployment (SKU "
                                    "'globalbatch').", "body.model")

    # ------------------------------------------------------------------ answers
    def _render(self, item: BatchItem, answer: Answer, endpoint: str, created: int) -> tuple[int, dict[str, Any]]:
        status, body = super()._render(item, answer, endpoint, created)
        if status != 200:
            return status, body
        body["model"] = self.model_of(item.model)
        if body.get("object") != "chat.completion":
            return status, body
        # Azure's chat completions carry the content filter's verdict on the answer and on the prompt,
        # and no service_tier (the guide's output example)
        body.pop("service_tier", None)
        filtered = answer.outcome == "refusal"
        for choice in body["choices"]:
            if filtered:  # the emulator's refusal, Azure's way: the filter withheld the answer
                choice["finish_reason"] = "content_filter"
                choice["message"].update(content=None, refusal=None)
            choice["content_filter_results"] = _filter_results(filtered)
        body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {
            **_filter_results(False), "jailbreak": {"filtered": False, "detected": False}}}]
        return status, body


def _short(endpoint: str) -> str:
    """``/v1/chat/completions`` -> ``/chat/completions``: Azure's classic name of an endpoint."""
    return endpoint.removeprefix("/v1") if endpoint.startswith("/v1/") else endpoint


def _filter_results(filtered: bool) -> dict[str, Any]:
    results = {name: dict(_SAFE) for name in _FILTER_CATEGORIES}
    if filtered:
        results["violence"] = {"filtered": True, "severity": "high"}
    return results


def _check_expiry(seconds: Any, param: str) -> None:
    """An expiry in seconds must lie in 14 to 30 days ("You can set to a number between 1209600-2592000")."""
    low, high = EXPIRY_RANGE
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(seconds, bool) or not low <= value <= high:
        raise HTTPError(400, f"Invalid '{param}': expected a number of seconds between {low} (14 days) and {high} "
                             f"(30 days), got {str(seconds)[:40]!r}.", code="invalid_value", param=param)


def upload_expiry(fields: dict[str, Any]) -> int | None:
    """The upload's ``expires_after.seconds``: the SDK sends ``expires_after[seconds]``, the guide's curl
    example ``expires_after.seconds``."""
    seconds = fields.get("expires_after[seconds]", fields.get("expires_after.seconds"))
    if seconds is None:
        return None
    if not isinstance(seconds, str):
        raise HTTPError(400, "Invalid 'expires_after.seconds': expected a number of seconds.", code="invalid_value",
                        param="expires_after.seconds")
    _check_expiry(seconds.strip(), "expires_after.seconds")
    return int(seconds)
