"""Run by tests/sim/test_reset.py in a process of its own (the test process's heap holds whatever the
tests before it left): an emulator holding a large batch on every provider, reset; prints its
resident set size before the batches, with them, and after the reset, in bytes (Linux: /proc).

``python reset_memory_probe.py COUNT MODE``: COUNT requests on each provider; MODE "release", or
"no-release" / "keep-data" to check that the probe can fail (a reset that gives nothing back, or
one that keeps the batches referenced)."""

from __future__ import annotations

import json
import os
import sys
import time

from pytest_batch.sim import Emulator
from pytest_batch.sim.http import SimRequest

HEADERS = {"authorization": "Bearer local", "x-api-key": "local", "anthropic-version": "2023-06-01",
           "x-goog-api-key": "local", "content-type": "application/json"}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age", "tags"], "additionalProperties": False}


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def call(emulator: Emulator, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    response = emulator.handle(SimRequest.build(method, f"http://127.0.0.1{path}", headers or HEADERS, body))
    assert response.status == 200, (path, response.read()[:300])
    return response.read()


def load(emulator: Emulator, count: int) -> None:
    """count requests on each of OpenAI, Anthropic and Gemini, run to the end and read back."""
    lines = "".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"prompt number {i}"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "P", "strict": True, "schema": SCHEMA}}}})
        + "\n" for i in range(count)).encode()
    multipart = (b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--B\r\n'
                 b'Content-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n' + lines + b"\r\n--B--\r\n")
    upload = json.loads(call(emulator, "POST", "/openai/v1/files", multipart,
                             {**HEADERS, "content-type": "multipart/form-data; boundary=B"}))
    batch = json.loads(call(emulator, "POST", "/openai/v1/batches", json.dumps({
        "input_file_id": upload["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}).encode()))
    batch = json.loads(call(emulator, "GET", f"/openai/v1/batches/{batch['id']}"))
    call(emulator, "GET", f"/openai/v1/files/{batch['output_file_id']}/content")

    anthropic = json.loads(call(emulator, "POST", "/anthropic/v1/messages/batches", json.dumps({"requests": [
        {"custom_id": f"r{i}", "params": {"model": "claude-haiku-4-5", "max_tokens": 100,
                                          "messages": [{"role": "user", "content": f"prompt number {i}"}],
                                          "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}}
        for i in range(count)]}).encode()))
    call(emulator, "GET", f"/anthropic/v1/messages/batches/{anthropic['id']}")
    call(emulator, "GET", f"/anthropic/v1/messages/batches/{anthropic['id']}/results")

    google = json.loads(call(emulator, "POST", "/google/v1beta/models/gemini-2.5-flash:batchGenerateContent",
                             json.dumps({"batch": {"display_name": "big", "input_config": {"requests": {"requests": [
                                 {"request": {"contents": [{"parts": [{"text": f"prompt number {i}"}]}],
                                              "generation_config": {"response_mime_type": "application/json",
                                                                    "response_json_schema": SCHEMA}},
                                  "metadata": {"key": f"r{i}"}} for i in range(count)]}}}}).encode()))
    call(emulator, "GET", f"/google/v1beta/{google['name']}")


def main() -> None:
    count, mode = int(sys.argv[1]), sys.argv[2]
    import pytest_batch.sim.core as core

    if mode == "no-release":  # the checks that this probe can fail: a reset that gives nothing back
        core._release_memory = lambda: None
    elif mode == "keep-data":
        kept = []
        reset = core.Emulator.reset

        def keeping(self):
            kept.append((self.openai, self.anthropic, self.google))
            reset(self)

        core.Emulator.reset = keeping
    emulator = Emulator(lifecycle="immediate")
    load(emulator, 10)  # code paths warmed up: what a long-lived server holds anyway
    emulator.reset()
    before = rss()
    start = time.monotonic()
    load(emulator, count)
    loaded = rss()
    emulator.reset()
    after = rss()
    print(json.dumps({"before": before, "loaded": loaded, "after": after, "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    main()
