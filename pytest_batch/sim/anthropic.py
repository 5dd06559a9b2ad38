"""Placeholder: being written."""
from __future__ import annotations

from .batches import BackendBase
from .http import HTTPError, json_response


class AnthropicBackend(BackendBase):
    provider = "anthropic"


class AnthropicRoutes:
    def __init__(self, backend):
        self.backend = backend

    def handle(self, request):
        raise HTTPError(404, "not yet")

    def render_error(self, error):
        return json_response(error.status, {"error": {"message": error.message}})
