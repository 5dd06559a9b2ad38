"""Google Gemini batch mode (Developer API): the HTTP rendering (GoogleRoutes).

Parses requests and renders the provider's exact JSON. The state, and the rules each answer
follows (with their sources), are in backends/google.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ..backends.google import NO_KEY_MESSAGE, STATUS_NAMES, GoogleBackend
from ..http import HTTPError, SimRequest, SimResponse, find_route, json_response
from ..rules.google import GoogleInvalidArgument

_V = r"/(?P<version>v1|v1beta)"
_ROUTES = [
    ("POST", re.compile(rf"^{_V}/(?P<model>(?:models|tunedModels)/[^/]+):batchGenerateContent$"), "create_batch"),
    ("GET", re.compile(rf"^{_V}/batches$"), "list_batches"),
    ("GET", re.compile(rf"^{_V}/batches/(?P<batch_id>[^/:]+)$"), "get_batch"),
    ("POST", re.compile(rf"^{_V}/batches/(?P<batch_id>[^/]+):cancel$"), "cancel_batch"),
    ("DELETE", re.compile(rf"^{_V}/batches/(?P<batch_id>[^/:]+)$"), "delete_batch"),
    ("POST", re.compile(rf"^{_V}/batches/(?P<batch_id>[^/]+):delete$"), "delete_batch"),
    ("POST", re.compile(rf"^/upload{_V}/files$"), "upload"),
    ("GET", re.compile(rf"^{_V}/files$"), "list_files"),
    ("GET", re.compile(rf"^{_V}/files/(?P<file_id>[^/:]+)$"), "get_file"),
    ("DELETE", re.compile(rf"^{_V}/files/(?P<file_id>[^/:]+)$"), "delete_file"),
    ("GET", re.compile(rf"^(?:/download)?{_V}/files/(?P<file_id>[^/]+):download$"), "download_file"),
]


class GoogleRoutes:
    """HTTP surface of the Gemini Developer API's batch mode and Files API."""

    def __init__(self, backend: GoogleBackend) -> None:
        self.backend = backend

    def handle(self, request: SimRequest) -> SimResponse:
        found = find_route(_ROUTES, request)
        name, params = found if found is not None else ("", {})
        # The upload POST carries no key: its upload_id is the capability (C.5).
        if not (name == "upload" and request.query.get("upload_id")):
            _check_key(request)
        if found is None:
            raise HTTPError(404, f"The pytest-batch emulator does not serve {request.method} {request.path} "
                            "(Gemini batch mode and Files API only).")
        return getattr(self, name)(request, **params)

    def render_error(self, error: HTTPError) -> SimResponse:
        status = error.code or STATUS_NAMES.get(error.status, "UNKNOWN")
        # a body the front end cannot read lists each problem as a BadRequest field violation
        # (python-genai #1103, #1451)
        details = error.details() if isinstance(error, GoogleInvalidArgument) else []
        return json_response(error.status, {"error": {"code": error.status, "message": error.message,
                                                      "status": status, "details": details}}, dict(error.headers))

    # ------------------------------------------------------------------ batches
    def create_batch(self, request: SimRequest, version: str, model: str) -> SimResponse:
        with self.backend.emulator.bulk_lane.turn():  # inline requests or an input file, parsed in a turn
            body = _json_body(request)
            return json_response(200, self.backend.create_batch(model, body, len(request.body), request.base_url,
                                                                version))

    def list_batches(self, request: SimRequest, version: str) -> SimResponse:
        return json_response(200, self.backend.list_batches(_page_size(request), _page_token(request)))

    def get_batch(self, request: SimRequest, version: str, batch_id: str) -> SimResponse:
        return json_response(200, self.backend.get_batch(batch_id))

    def cancel_batch(self, request: SimRequest, version: str, batch_id: str) -> SimResponse:
        self.backend.cancel_batch(batch_id)
        return json_response(200, {})

    def delete_batch(self, request: SimRequest, version: str, batch_id: str) -> SimResponse:
        self.backend.delete_batch(batch_id)
        return json_response(200, {})

    # ------------------------------------------------------------------ files
    def upload(self, request: SimRequest, version: str) -> SimResponse:
        commands = {c.strip().lower() for c in request.headers.get("x-goog-upload-command", "").split(",") if c.strip()}
        upload_id = request.query.get("upload_id")
        if upload_id is None:
            if request.headers.get("x-goog-upload-protocol", "").lower() != "resumable" or "start" not in commands:
                raise HTTPError(400, "Uploads use the resumable protocol: send X-Goog-Upload-Protocol: resumable "
                                "and X-Goog-Upload-Command: start first.")
            declared = request.headers.get("x-goog-upload-header-content-length")
            body = _json_body(request) if request.body.strip() else {}
            session = self.backend.start_upload(body, int(declared) if declared and declared.isdigit() else None,
                                                request.headers.get("x-goog-upload-header-content-type"),
                                                request.base_url, version)
            url = (f"{request.base_url}/upload/{version}/files?upload_id={session.upload_id}"
                   "&upload_protocol=resumable")
            return SimResponse(200, {"x-goog-upload-url": url, "x-goog-upload-status": "active",
                                     "x-goog-upload-chunk-granularity": str(8 * 1024 * 1024),
                                     "x-goog-upload-control-url": url}, b"")
        if not commands & {"upload", "finalize", "query"}:
            raise HTTPError(400, "X-Goog-Upload-Command must be 'upload', 'upload, finalize', 'finalize' or 'query'.")
        offset_header = request.headers.get("x-goog-upload-offset")
        try:
            offset = int(offset_header) if offset_header else None
        except ValueError:
            raise HTTPError(400, f"X-Goog-Upload-Offset must be an integer, got {offset_header!r}.") from None
        session = self.backend.upload_chunk(upload_id, commands, offset, request.body)
        if "finalize" in commands:
            return json_response(200, {"file": session.file.to_json()}, {"x-goog-upload-status": "final"})
        return SimResponse(200, {"x-goog-upload-status": "active",
                                 "x-goog-upload-size-received": str(session.size)}, b"")

    def list_files(self, request: SimRequest, version: str) -> SimResponse:
        return json_response(200, self.backend.list_files(_page_size(request), _page_token(request)))

    def get_file(self, request: SimRequest, version: str, file_id: str) -> SimResponse:
        return json_response(200, self.backend.get_file(file_id).to_json())

    def delete_file(self, request: SimRequest, version: str, file_id: str) -> SimResponse:
        self.backend.delete_file(file_id)
        return json_response(200, {})

    def download_file(self, request: SimRequest, version: str, file_id: str) -> SimResponse:
        if request.query.get("alt") != "media":
            raise HTTPError(400, "Downloads need ?alt=media.")
        content = self.backend.get_file(file_id).content
        return SimResponse(200, {"content-type": "application/octet-stream", "content-length": str(len(content))},
                           _chunks(content))


def _chunks(content: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start:start + size]


def _check_key(request: SimRequest) -> None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key or not key.strip():
        raise HTTPError(403, NO_KEY_MESSAGE)


def _json_body(request: SimRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError as exc:
        raise HTTPError(400, f"Invalid JSON payload received. {exc}") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "Invalid JSON payload received: the body must be a JSON object.")
    return body


def _page_size(request: SimRequest) -> int | None:
    raw = request.query.get("pageSize") or request.query.get("page_size")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        # a query parameter of the wrong type, as the front end words it (gemini-cli #4120's form)
        raise HTTPError(400, f"Invalid value at 'page_size' (TYPE_INT32), {json.dumps(raw)}") from None
    if value < 0:
        raise HTTPError(400, f"Invalid value at 'page_size' ({value}): must not be negative.")
    return value


def _page_token(request: SimRequest) -> str | None:
    return request.query.get("pageToken") or request.query.get("page_token") or None
