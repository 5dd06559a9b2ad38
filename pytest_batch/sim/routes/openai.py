"""OpenAI Files + Batch API: the HTTP rendering (OpenAIRoutes).

Parses requests and renders the provider's exact JSON. The state, and the rules each answer
follows (with their sources), are in backends/openai.py. Routes run outside the emulator's
state lock (the backend takes it): an upload's multipart body is parsed, and every answer
encoded, while other clients' calls go on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from ..backends.openai import FileRecord, OpenAIBackend
from ..http import HTTPError, SimRequest, SimResponse, content_disposition, find_route, json_response
from ..rules import openai as rules

_ROUTES = [
    ("POST", re.compile(r"^/v1/files$"), "create_file"),
    ("GET", re.compile(r"^/v1/files$"), "list_files"),
    ("GET", re.compile(r"^/v1/files/(?P<file_id>[^/]+)$"), "retrieve_file"),
    ("DELETE", re.compile(r"^/v1/files/(?P<file_id>[^/]+)$"), "delete_file"),
    ("GET", re.compile(r"^/v1/files/(?P<file_id>[^/]+)/content$"), "file_content"),
    ("POST", re.compile(r"^/v1/batches$"), "create_batch"),
    ("GET", re.compile(r"^/v1/batches$"), "list_batches"),
    ("GET", re.compile(r"^/v1/batches/(?P<batch_id>[^/]+)$"), "retrieve_batch"),
    ("POST", re.compile(r"^/v1/batches/(?P<batch_id>[^/]+)/cancel$"), "cancel_batch"),
]


class OpenAIRoutes:
    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend = backend

    def handle(self, request: SimRequest) -> SimResponse:
        _check_key(request)
        found = find_route(_ROUTES, request)
        if found is None:
            raise HTTPError(404, f"Invalid URL ({request.method} {request.path})", code="unknown_url")
        name, params = found
        response = getattr(self, name)(request, **params)
        response.headers.setdefault("x-request-id", self.backend.ids.openai_request())
        return response

    def render_error(self, error: HTTPError) -> SimResponse:
        kind = {401: "invalid_request_error", 429: "requests", 500: "server_error"}.get(error.status,
                                                                                        "invalid_request_error")
        headers = {"x-request-id": self.backend.ids.openai_request(), **error.headers}
        return json_response(error.status, {"error": {"message": error.message, "type": kind,
                                                      "param": error.param, "code": error.code}}, headers)

    def create_file(self, request: SimRequest) -> SimResponse:
        fields = parse_multipart(request)
        upload, purpose = rules.check_upload(fields)
        record = self.backend.create_file(upload[0], purpose, upload[1], self.upload_expiry(fields))
        return json_response(200, self.upload_answer(record))

    # what the Azure routes answer their own way
    def upload_expiry(self, fields: dict[str, str | tuple[str, bytes]]) -> int | None:
        return rules.upload_expiry(fields)

    def upload_answer(self, record: FileRecord) -> dict[str, Any]:
        # The upload's own answer still says expires_at null; a retrieve shows the date
        # (curator recording openai_batch_cancel, 2025-04).
        return {**record.to_json(), "expires_at": None}

    def list_files(self, request: SimRequest) -> SimResponse:
        query = request.query
        return json_response(200, self.backend.list_files(query.get("purpose"), rules.check_order(query.get("order")),
                                                          query.get("after"),
                                                          rules.check_limit(query.get("limit"), 10_000, 10_000)))

    def retrieve_file(self, request: SimRequest, file_id: str) -> SimResponse:
        return json_response(200, self.backend.get_file(file_id).to_json())

    def delete_file(self, request: SimRequest, file_id: str) -> SimResponse:
        return json_response(200, self.backend.delete_file(file_id))

    def file_content(self, request: SimRequest, file_id: str) -> SimResponse:
        record = self.backend.get_file(file_id)
        content = record.content
        chunks = (content[i:i + (1 << 20)] for i in range(0, len(content), 1 << 20))
        # The recorded download names the file (realdata/curator/openai_basic_batch_completion.yaml).
        return SimResponse(200, {"content-type": "application/octet-stream", "content-length": str(len(content)),
                                 "content-disposition": content_disposition(record.filename)}, chunks)

    def create_batch(self, request: SimRequest) -> SimResponse:
        body = _json_body(request)
        return json_response(200, self.backend.create_batch(body))

    def list_batches(self, request: SimRequest) -> SimResponse:
        return json_response(200, self.backend.list_batches(request.query.get("after"),
                                                            rules.check_limit(request.query.get("limit"), 100, 20)))

    def retrieve_batch(self, request: SimRequest, batch_id: str) -> SimResponse:
        return json_response(200, self.backend.retrieve_batch(batch_id))

    def cancel_batch(self, request: SimRequest, batch_id: str) -> SimResponse:
        return json_response(200, self.backend.cancel_batch(batch_id))


def _check_key(request: SimRequest) -> None:
    token = request.headers.get("authorization", "").removeprefix("Bearer").strip()
    if not token:
        raise HTTPError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")


def _json_body(request: SimRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise HTTPError(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "The request body must be a JSON object.")
    return body


def parse_multipart(request: SimRequest) -> dict[str, str | tuple[str, bytes]]:
    """Parse multipart/form-data: text fields as str, file fields as (filename, bytes)."""
    content_type = request.headers.get("content-type", "")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        raise HTTPError(400, "Expected a multipart/form-data body with a 'file' and a 'purpose'.")
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, str | tuple[str, bytes]] = {}
    for head, data in _parts(request.body, delimiter):
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', disposition)
        if not name:
            continue
        filename = _part_filename(disposition)
        if filename is not None:
            fields[name.group(1)] = (filename, data)
            continue
        try:
            fields[name.group(1)] = data.decode()
        except UnicodeDecodeError:
            raise HTTPError(400, f"Invalid value for '{name.group(1)}': expected UTF-8 text.",
                            code="invalid_value", param=name.group(1)) from None
    return fields


_FILENAME = re.compile(r'filename="((?:[^"\\]|\\.)*)"')
_FILENAME_EXTENDED = re.compile(r"filename\*=\s*([^;]*)")
#: how the WHATWG multipart/form-data encoding (httpx, urllib3, browsers) escapes a name: a quote and
#: the control characters as %XX (httpx: also a backslash as two), a quoted-string as backslash escapes
_FORM_ESCAPES = re.compile(r"\\(.)|%(22|[01][0-9A-Fa-f])")


def _part_filename(disposition: str) -> str | None:
    """The file name exactly as the client meant it: the file object echoes it (OpenAI answers a
    name ``"q"`` as ``"q"``, JSON-escaped; only the content download's header encodes it, see
    ``content_disposition``). ``filename*=UTF-8''…`` (RFC 5987) wins over ``filename=``; a quoted
    name loses its backslash escapes and the WHATWG ones (``%22``, ``%0D``, ``%0A``...)."""
    extended = _FILENAME_EXTENDED.search(disposition)
    if extended:
        charset, _, rest = extended.group(1).strip().strip('"').partition("'")
        try:
            return unquote(rest.partition("'")[2], encoding=charset or "utf-8", errors="replace")
        except LookupError:  # an unknown charset: the plain filename= says the name
            pass
    plain = _FILENAME.search(disposition)
    if plain is None:
        return None
    return _FORM_ESCAPES.sub(lambda match: match.group(1) or chr(int(match.group(2), 16)), plain.group(1))


def _parts(body: bytes, delimiter: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(headers, data) of each part, found by offsets: a 100 MB upload's file is copied once."""
    start = body.find(delimiter)
    while start >= 0:
        start += len(delimiter)
        end = body.find(delimiter, start)
        stop = len(body) if end < 0 else end
        if body.startswith(b"--", start, stop):  # the closing delimiter
            return
        blank = body.find(b"\r\n\r\n", start, stop)
        if blank < 0:
            yield body[start:stop], b""
        else:  # the line break before the next delimiter belongs to it, not to the data
            data_end = stop - 2 if stop - 2 >= blank + 4 and body.startswith(b"\r\n", stop - 2) else stop
            yield body[start:blank], body[blank + 4:data_end]
        start = end
