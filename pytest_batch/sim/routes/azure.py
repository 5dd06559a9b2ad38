"""Azure OpenAI's Files + Batch API: the HTTP side (AzureRoutes). The state is backends/azure.py.

Paths, below the resource endpoint (``https://<resource>.openai.azure.com``, or ``<server>/azure``
on the loopback server), as openai.AzureOpenAI builds them (openai/lib/azure.py: files and
batches are not deployment endpoints, so they sit under ``{endpoint}/openai``):

- classic API: ``/openai/files[/{id}[/content]]``, ``/openai/batches[/{id}[/cancel]]``, each with
  ``?api-version=YYYY-MM-DD[-preview]`` (the Batch API arrived in 2024-07-01-preview);
- v1 API: ``/openai/v1/files...``, ``/openai/v1/batches...``, no api-version needed.

Credentials: an ``api-key`` header, or ``Authorization: Bearer`` (an Entra ID token; on the v1
API also the key). Errors use Azure's envelope ``{"error": {"code", "message"}}`` with the codes
Azure sends as strings ("401", "404", "BadRequest"). docs/azure-batch.md cites every source.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..backends.azure import AzureBackend, upload_expiry
from ..backends.openai import FileRecord
from ..http import HTTPError, SimRequest, SimResponse, find_route, json_response
from .openai import _ROUTES, OpenAIRoutes

#: the part of a path below ``/openai`` or ``/openai/v1`` that this API serves
_PATH = re.compile(r"^/openai(?P<v1>/v1)?(?P<rest>/(?:files|batches)(?:/.*)?)$")
_VERSION = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?:-preview)?$")
#: the first api-version with the Batch API ("Changes between 2024-5-01-preview and 2024-07-01-preview")
FIRST_BATCH_VERSION = "2024-07-01"
#: the 401 text Azure answers (observed in many public issue reports, e.g. SciSharp/BotSharp#386)
ACCESS_DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                 "key for an active subscription and use a correct regional API endpoint for your resource.")


class AzureRoutes(OpenAIRoutes):
    backend: AzureBackend

    def handle(self, request: SimRequest) -> SimResponse:
        _check_credentials(request)
        match = _PATH.match(request.path)
        if match is None:  # e.g. /openai/deployments/{name}/chat/completions: not a batch API
            raise HTTPError(404, "Resource not found", code="404")
        if not match["v1"]:
            _check_api_version(request.query.get("api-version"))
        # the OpenAI routes' table, on the path as OpenAI writes it (the journal keeps Azure's)
        found = find_route(_ROUTES, replace(request, path="/v1" + match["rest"]))
        if found is None:
            raise HTTPError(404, "Resource not found", code="404")
        name, params = found
        response = getattr(self, name)(request, **params)
        response.headers.setdefault("apim-request-id", self.backend.ids.uuid())
        return response

    def render_error(self, error: HTTPError) -> SimResponse:
        payload: dict[str, Any] = {"code": error.code or str(error.status), "message": error.message}
        if error.param is not None:
            payload["param"] = error.param
        headers = {"apim-request-id": self.backend.ids.uuid(), **error.headers}
        return json_response(error.status, {"error": payload}, headers)

    def upload_expiry(self, fields: dict[str, str | tuple[str, bytes]]) -> int | None:
        return upload_expiry(fields)

    def upload_answer(self, record: FileRecord) -> dict[str, Any]:
        # Azure's upload answer already carries the expiry it was given (the guide's output)
        return record.to_json()


def _check_credentials(request: SimRequest) -> None:
    key = request.headers.get("api-key", "").strip()
    token = request.headers.get("authorization", "").removeprefix("Bearer").strip()
    if not key and not token:
        raise HTTPError(401, ACCESS_DENIED, code="401")


def _check_api_version(version: str | None) -> None:
    """The classic API needs ``api-version``: without one Azure answers 404 "Resource not found"
    (MicrosoftDocs/azure-docs#114602); with a malformed one, 400 "API version not supported"
    (public reports, e.g. hotovo/aider-desk#460). The emulator adds what to do to both."""
    if not version:
        raise HTTPError(404, "Resource not found (pytest-batch emulator: Azure OpenAI's classic API needs an "
                        "api-version query parameter, e.g. ?api-version=2024-10-21; AzureOpenAI sends "
                        "OPENAI_API_VERSION)", code="404")
    match = _VERSION.match(version)
    if match is None:
        raise HTTPError(400, f"API version not supported (pytest-batch emulator: expected YYYY-MM-DD or "
                        f"YYYY-MM-DD-preview, got {version[:40]!r})", code="BadRequest")
    if match["date"] < FIRST_BATCH_VERSION:  # [UNVERIFIED] status for a version before the Batch API
        raise HTTPError(404, f"Resource not found (pytest-batch emulator: the Batch API needs api-version "
                        f"{FIRST_BATCH_VERSION}-preview or later, got {version})", code="404")
