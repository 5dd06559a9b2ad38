"""Anthropic Message Batches: the HTTP rendering (AnthropicRoutes).

Parses requests and renders the provider's exact JSON. The state is in backends/anthropic.py;
what the API accepts (headers, bodies, queries), with the sources, is in rules/anthropic.py.
"""

from __future__ import annotations

import re

from ..backends.anthropic import ORGANIZATION_ID, AnthropicBackend, error_type
from ..http import HTTPError, SimRequest, SimResponse, find_route, json_response, jsonl_stream
from ..rules import anthropic as rules

_ROUTES = [
    ("POST", re.compile(r"^/v1/messages/batches$"), "create"),
    ("GET", re.compile(r"^/v1/messages/batches$"), "list"),
    ("GET", re.compile(r"^/v1/messages/batches/(?P<batch_id>[^/]+)$"), "retrieve"),
    ("DELETE", re.compile(r"^/v1/messages/batches/(?P<batch_id>[^/]+)$"), "delete"),
    ("POST", re.compile(r"^/v1/messages/batches/(?P<batch_id>[^/]+)/cancel$"), "cancel"),
    ("GET", re.compile(r"^/v1/messages/batches/(?P<batch_id>[^/]+)/results$"), "results"),
]


class AnthropicRoutes:
    """HTTP for the Message Batches API. The beta namespace (``anthropic-beta``, or anthropic 1.x's
    ``?beta=true``) shares the paths and the state; only the fields a request's params may carry differ."""

    def __init__(self, backend: AnthropicBackend) -> None:
        self.backend = backend

    def handle(self, request: SimRequest) -> SimResponse:
        _check_key(request)
        rules.check_version(request.headers)
        found = find_route(_ROUTES, request)
        if found is None:
            raise HTTPError(404, "Not Found")
        name, params = found
        response = getattr(self, name)(request, **params)
        self._stamp(response)
        return response

    def _stamp(self, response: SimResponse) -> None:
        response.headers.setdefault("request-id", self.backend.ids.anthropic_request())
        response.headers.setdefault("anthropic-organization-id", ORGANIZATION_ID)

    def render_error(self, error: HTTPError) -> SimResponse:
        """The envelope every Anthropic error uses: ``{"type":"error","error":{type,message},"request_id"}``."""
        request_id = self.backend.ids.anthropic_request()
        response = json_response(error.status, {
            "type": "error", "error": {"type": error_type(error.status), "message": error.message},
            "request_id": request_id}, {"request-id": request_id, **error.headers})
        self._stamp(response)
        return response

    def create(self, request: SimRequest) -> SimResponse:
        beta = bool(request.headers.get("anthropic-beta")) or request.query.get("beta") == "true"
        with self.backend.emulator.bulk_lane.turn():  # the body's requests are parsed and checked in a turn
            return json_response(200, self.backend.create_batch(request.body, request.base_url, beta=beta))

    def retrieve(self, request: SimRequest, batch_id: str) -> SimResponse:
        batch = self.backend.retrieve(batch_id, request.base_url)
        response = json_response(200, batch)
        if batch["processing_status"] != "ended":
            # Only polls of an unfinished batch say when to come back: create, cancel and the
            # ended poll carry no retry-after (realdata/curator/anthropic_*.yaml).
            response.headers["retry-after"] = "10"
        return response

    def cancel(self, request: SimRequest, batch_id: str) -> SimResponse:
        return json_response(200, self.backend.cancel(batch_id, request.base_url))

    def delete(self, request: SimRequest, batch_id: str) -> SimResponse:
        return json_response(200, self.backend.delete(batch_id))

    def list(self, request: SimRequest) -> SimResponse:
        before_id, after_id, limit = rules.list_query(request.query)
        data, has_more = self.backend.list(before_id, after_id, limit, request.base_url)
        return json_response(200, {"data": data, "has_more": has_more,
                                   "first_id": data[0]["id"] if data else None,
                                   "last_id": data[-1]["id"] if data else None})

    def results(self, request: SimRequest, batch_id: str) -> SimResponse:
        rows = self.backend.results(batch_id)
        return SimResponse(200, {"content-type": "application/x-jsonl",
                                 "content-disposition": f'attachment; filename="{batch_id}_results.jsonl"'},
                           self.backend.emulator.bulk_lane.chunks(jsonl_stream(rows)))


def _check_key(request: SimRequest) -> None:
    """anthropic 2.x sends the key as ``Authorization: Bearer``, 1.x and older as ``x-api-key``
    (wire-formats.md B.6); either will do."""
    token = request.headers.get("authorization", "").removeprefix("Bearer").strip()
    if not token and not request.headers.get("x-api-key", "").strip():
        raise HTTPError(401, "x-api-key header is required")
