"""How replay finds the recorded answer for a request: four matchers over one precomputed key."""

from __future__ import annotations

import difflib
from typing import Any

from .format import body_view, view_text
from .scrub import (
    SECRET_QUERY_PARAMS,
)


def _content_type(request: Any) -> str | None:
    return request.headers.get("content-type")


_KEY_ATTR = "_pytest_batch_match_key"
#: query parameters replay does not compare: secrets (scrubbed when recorded), and Azure's
#: ``api-version``, which names the client's configuration (OPENAI_API_VERSION) rather than the
#: request: a cassette recorded with one version replays under another
UNMATCHED_QUERY_PARAMS = SECRET_QUERY_PARAMS | {"api-version"}


def match_key(request: Any) -> tuple[str, tuple[str, str, str], tuple[tuple[str, str], ...], Any]:
    """What matching compares: method, url (scheme, host, path), query without secrets, body view.

    Two requests match when their keys are equal; the four matchers below compare one part each
    (and explain a difference). The key is computed once per request object and kept on it, so a
    stored request is parsed once however many requests are compared with it; it is computed
    again if the request's method, uri, content type or body object changes.
    """
    body, content_type = request.body, _content_type(request)
    cached = getattr(request, _KEY_ATTR, None)
    if (cached is not None and cached[0] is body and cached[1] == content_type and cached[2] == request.uri
            and cached[3] == request.method):
        return cached[4]
    key = (request.method, (request.scheme, request.host, request.path.rstrip("/") or "/"),
           tuple((k, v) for k, v in request.query if k.lower() not in UNMATCHED_QUERY_PARAMS),
           body_view(body, content_type))
    setattr(request, _KEY_ATTR, (body, content_type, request.uri, request.method, key))
    return key


def _request_view(request: Any) -> Any:
    return match_key(request)[3]


def match_method(r1: Any, r2: Any) -> None:
    if r1.method != r2.method:
        raise AssertionError(f"method: sent {r1.method}, recorded {r2.method}")


def match_url(r1: Any, r2: Any) -> None:
    """scheme + host + path (after normalisation the port and emulator prefix are gone)."""
    if match_key(r1)[1] != match_key(r2)[1]:
        raise AssertionError(f"url: sent {r1.scheme}://{r1.host}{r1.path}, recorded {r2.scheme}://{r2.host}{r2.path}")


def match_query(r1: Any, r2: Any) -> None:
    sent, recorded = match_key(r1)[2], match_key(r2)[2]
    if sent != recorded:
        raise AssertionError(f"query: sent {list(sent)}, recorded {list(recorded)}")


def match_body(r1: Any, r2: Any) -> None:
    """JSON-equal, JSONL line by line, multipart part by part (never the boundary)."""
    sent, recorded = _request_view(r1), _request_view(r2)
    if sent != recorded:
        diff = difflib.unified_diff(view_text(recorded).splitlines(), view_text(sent).splitlines(),
                                    "recorded", "sent", lineterm="", n=2)
        lines = list(diff)
        if len(lines) > 40:
            lines = lines[:40] + [f"... ({len(lines) - 40} more diff lines)"]
        raise AssertionError("body:\n" + "\n".join(lines))


MATCHERS = {"method": match_method, "batch_url": match_url, "batch_query": match_query, "batch_body": match_body}
MATCH_ON = ("method", "batch_url", "batch_query", "batch_body")
#: the matchers ``match_key`` equality stands for: replay compares keys, and runs the matchers
#: themselves (which build the diffs) only to explain a request it has no answer for
KEY_MATCHERS = tuple(MATCHERS[name] for name in MATCH_ON)




def describe_request(request: Any) -> list[str]:
    lines = [f"  {request.method} {request.uri}"]
    view = _request_view(request)
    if view is not None:
        import json

        text = json.dumps(view, ensure_ascii=False, default=str)
        if len(text) > 240:
            text = text[:240] + f"… ({len(text)} characters)"
        lines.append(f"    body: {text}")
    return lines
