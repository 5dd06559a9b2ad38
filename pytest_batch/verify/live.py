"""``verify --live``: a tiny probe batch against a live target, then the same calls through the emulator.

The probe speaks plain HTTP (no SDK), to a base URL with a key: the live API, a proxy, or a
stand-in on loopback (how it is tested). Per provider it submits one or two requests (``MAX_REQUESTS``)
on a cheap model with ``max_tokens`` 16, refuses to start when the worst-case cost could pass
``max_cost``, polls until the batch ends, downloads the results, and cancels the batch when it is
still running at the timeout. Every exchange is kept in memory only (keys replaced by
``REDACTED``, never written) and replayed through a fresh emulator (``replay.replay``): the live
objects at each state seen are compared with the emulator's for the same calls.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..endpoints import DEFAULT_HOSTS
from ..model_catalog import DEFAULT_MODELS
from .replay import Exchange, Replay, replay

#: the model probed on each provider: its default, the cheapest current model in the catalog
PROBE_MODELS = {provider: model.partition("/")[2] for provider, model in DEFAULT_MODELS.items()}
MAX_REQUESTS = 2
MAX_TOKENS = 16
#: a generous upper bound of a probe prompt's input tokens, for the cost cap
PROMPT_TOKENS = 40
PROMPTS = ("Reply with the single word: ok", "Reply with the single word: yes")
#: where each provider's API lives below its host (the SDKs' default base URLs)
DEFAULT_BASES = {"openai": DEFAULT_HOSTS["openai"] + "/v1", "anthropic": DEFAULT_HOSTS["anthropic"],
                 "google": DEFAULT_HOSTS["google"]}
KEY_HEADERS = {"openai": "authorization", "anthropic": "x-api-key", "google": "x-goog-api-key"}


class ProbeError(Exception):
    """The probe could not run (a cap refused it, the target answered an error at create)."""


@dataclass
class ProbeOptions:
    requests: int = 1
    model: str | None = None
    max_cost: float = 0.01
    timeout: float = 600.0
    interval: float = 10.0


def worst_case_cost(provider: str, model: str, requests: int) -> float:
    """US dollars at batch prices if every request used ``PROMPT_TOKENS`` in and ``MAX_TOKENS`` out."""
    from ..model_catalog import find
    from ..processor.pricing import BATCH_DISCOUNT, price_of
    from ..providers import provider_named

    price = price_of(provider_named(provider), model)
    if price is None:
        listed = ("is listed by `pytest-batch list-models` but no price is published for it"
                  if find(provider, model) is not None else "is not a model `pytest-batch list-models` prices")
        raise ProbeError(f"{provider}/{model} {listed}, so --max-cost cannot be checked: probe a model with "
                         f"a price (the default, {provider}/{PROBE_MODELS[provider]}, or another list-models "
                         "prices), or from Python register this one's price first (pytest_batch.register_price)")
    return requests * (PROMPT_TOKENS * price[0] + MAX_TOKENS * price[1]) / 1e6 * BATCH_DISCOUNT


def usd(amount: float) -> str:
    """``$0.01``, ``$1.50``; a smaller amount with two significant digits (``$0.000012``), never ``$0.0000``."""
    if amount <= 0:
        return "$0"
    decimals = max(2, 1 - math.floor(math.log10(amount)))
    text = f"{amount:.{decimals}f}"
    return "$" + (text.rstrip("0") if decimals > 2 else text)


class _Http:
    """Plain HTTP to the target, keeping each exchange (without the key) for the replay."""

    def __init__(self, provider: str, base_url: str, key: str) -> None:
        self.provider, self.base_url, self.key = provider, base_url.rstrip("/"), key
        self.exchanges: list[Exchange] = []

    def call(self, method: str, url: str, body: bytes = b"", content_type: str | None = None) -> tuple[int, Any]:
        headers = {"accept": "application/json"}
        if content_type:
            headers["content-type"] = content_type
        if self.provider == "anthropic":
            headers["anthropic-version"] = "2023-06-01"
        secret = {"openai": f"Bearer {self.key}", "anthropic": self.key, "google": self.key}[self.provider]
        request = urllib.request.Request(url, data=body if method != "GET" else None, method=method,
                                         headers={**headers, KEY_HEADERS[self.provider]: secret})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the user's target
                status, response_headers, raw = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, raw = error.code, dict(error.headers.items()), error.read()
        default = DEFAULT_BASES[self.provider]

        def normal(text: str) -> str:  # the emulator answers under the default host
            return text.replace(self.base_url, default)

        self.exchanges.append(Exchange(
            method, normal(url), {**headers, KEY_HEADERS[self.provider]: "REDACTED"}, body, status,
            {k.lower(): normal(v) for k, v in response_headers.items()},
            raw.replace(self.key.encode(), b"REDACTED").replace(self.base_url.encode(), default.encode())))
        try:
            return status, json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw
        except ValueError:
            return status, raw


def _check(status: int, payload: Any, what: str) -> Any:
    if status >= 400:
        message = payload.get("error", payload) if isinstance(payload, dict) else payload
        raise ProbeError(f"the target answered HTTP {status} to {what}: {str(message)[:300]}")
    return payload


def _multipart(jsonl: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"verify_probe.jsonl\"\r\n"
            "Content-Type: application/jsonl\r\n\r\n").encode() + jsonl + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _probe_openai(http: _Http, model: str, prompts: list[str], wait: Callable[[Callable[[], bool]], bool]) -> None:
    base = http.base_url
    lines = "".join(json.dumps({"custom_id": f"probe-{i + 1}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": model, "max_tokens": MAX_TOKENS,
                                         "messages": [{"role": "user", "content": p}]}}) + "\n"
                    for i, p in enumerate(prompts))
    body, content_type = _multipart(lines.encode())
    file = _check(*http.call("POST", f"{base}/files", body, content_type), "the file upload")
    batch = _check(*http.call("POST", f"{base}/batches", json.dumps(
        {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}).encode(),
        "application/json"), "the batch create")
    state = {"batch": batch}

    def done() -> bool:
        state["batch"] = http.call("GET", f"{base}/batches/{batch['id']}")[1]
        return state["batch"].get("status") in ("completed", "failed", "expired", "cancelled")

    if not wait(done):
        http.call("POST", f"{base}/batches/{batch['id']}/cancel", b"", "application/json")
        done()
    for key in ("output_file_id", "error_file_id"):
        if state["batch"].get(key):
            http.call("GET", f"{base}/files/{state['batch'][key]}/content")


def _probe_anthropic(http: _Http, model: str, prompts: list[str], wait: Callable[[Callable[[], bool]], bool]) -> None:
    base = f"{http.base_url}/v1/messages/batches"
    requests = [{"custom_id": f"probe-{i + 1}", "params": {"model": model, "max_tokens": MAX_TOKENS,
                                                          "messages": [{"role": "user", "content": p}]}}
                for i, p in enumerate(prompts)]
    batch = _check(*http.call("POST", base, json.dumps({"requests": requests}).encode(), "application/json"),
                   "the batch create")
    state = {"batch": batch}

    def done() -> bool:
        state["batch"] = http.call("GET", f"{base}/{batch['id']}")[1]
        return state["batch"].get("processing_status") == "ended"

    if not wait(done):
        http.call("POST", f"{base}/{batch['id']}/cancel", b"", "application/json")
        done()
    if state["batch"].get("results_url"):
        http.call("GET", state["batch"]["results_url"].replace(DEFAULT_BASES["anthropic"], http.base_url))


def _probe_google(http: _Http, model: str, prompts: list[str], wait: Callable[[Callable[[], bool]], bool]) -> None:
    base = f"{http.base_url}/v1beta"
    requests = [{"request": {"contents": [{"role": "user", "parts": [{"text": p}]}],
                             "generationConfig": {"maxOutputTokens": MAX_TOKENS}},
                 "metadata": {"key": f"probe-{i + 1}"}} for i, p in enumerate(prompts)]
    operation = _check(*http.call("POST", f"{base}/models/{model}:batchGenerateContent", json.dumps(
        {"batch": {"displayName": "pytest-batch-verify", "inputConfig": {"requests": {"requests": requests}}}}
    ).encode(), "application/json"), "the batch create")

    def done() -> bool:
        return bool(http.call("GET", f"{base}/{operation['name']}")[1].get("done"))

    if not wait(done):
        http.call("POST", f"{base}/{operation['name']}:cancel", b"", "application/json")
        done()


PROBES = {"openai": _probe_openai, "anthropic": _probe_anthropic, "google": _probe_google}


def probe(provider: str, base_url: str, key: str, options: ProbeOptions | None = None, *,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Any] = time.sleep) -> Replay:
    """Run the probe batch against ``base_url`` (the provider's API base, as its SDK takes it) and
    compare every exchange with the emulator's answer to the same call."""
    options = options or ProbeOptions()
    if not 1 <= options.requests <= MAX_REQUESTS:
        raise ProbeError(f"the probe sends 1 or {MAX_REQUESTS} requests, got {options.requests}")
    model = options.model or PROBE_MODELS[provider]
    if model.startswith(f"{provider}/"):  # "openai/gpt-6-sol", as list-models prints it
        model = model.partition("/")[2]
    cost = worst_case_cost(provider, model, options.requests)
    if cost > options.max_cost:
        raise ProbeError(f"the probe could cost up to {usd(cost)} on {provider}/{model}, above the cap "
                         f"{usd(options.max_cost)}: raise --max-cost or pick a cheaper --probe-model")
    http = _Http(provider, base_url, key)
    deadline = clock() + options.timeout

    def wait(done: Callable[[], bool]) -> bool:
        while not done():
            if clock() + options.interval > deadline:
                return False
            sleep(options.interval)
        return True

    try:
        PROBES[provider](http, model, list(PROMPTS[:options.requests]), wait)
    except urllib.error.URLError as exc:
        raise ProbeError(f"cannot reach {base_url} ({exc.reason})") from None
    from ..cassettes.session import EMULATOR_HEADER

    # a `pytest-batch serve` (or a proxy in front of one) marks every answer, as record mode reads it
    against = "emulator" if any(e.headers.get(EMULATOR_HEADER) == "1" for e in http.exchanges) else "live"
    return replay(http.exchanges, source=f"{provider} probe ({http.base_url})", provider=provider,
                  recorded_against=against)
