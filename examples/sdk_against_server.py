"""The ten-user extraction with the official SDKs only, against any server that speaks the
batch APIs: the real services, or `pytest-batch serve`.

    pytest-batch serve --port 0 &        # prints the export lines below
    export OPENAI_BASE_URL=http://127.0.0.1:PORT/openai/v1
    export ANTHROPIC_BASE_URL=http://127.0.0.1:PORT/anthropic
    export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT/google
    export AZURE_OPENAI_ENDPOINT=http://127.0.0.1:PORT/azure
    export OPENAI_API_VERSION=2024-10-21
    python examples/sdk_against_server.py

No pytest-batch code runs here: the SDKs read the variables themselves (the google-genai
client is given GOOGLE_GEMINI_BASE_URL explicitly, as its docs show). Azure OpenAI runs when
AZURE_OPENAI_ENDPOINT is set, on the deployment AZURE_OPENAI_DEPLOYMENT (default gpt-4o-mini),
which must be a Global-Batch deployment on a real resource.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from pydantic import BaseModel


class User(BaseModel):
    name: str
    age: int


PROMPTS = [
    "Hi there! My name is Alice and I'm 28 years old. I work as a software engineer.",
    "Hello, I'm Bob, 35 years old, and I love hiking and photography.",
    "This is Sarah speaking. I'm 42 and I'm a graphic designer.",
    "Hey! John here, I'm 29 years old and I teach high school math.",
    "I'm Emma, 33 years old, currently working as a marketing manager.",
    "My name is Michael and I'm 45 years old. I'm a chef at a downtown restaurant.",
    "I'm Lisa, 31 years old, working as a nurse at the local hospital.",
    "This is David, 38 years old, I'm a freelance photographer.",
    "Hello, I'm Jessica, 26 years old, and I'm a data scientist.",
    "I'm Ryan, 41 years old, working in software development for a tech startup.",
]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
POLL_SECONDS = float(os.environ.get("POLL_SECONDS", "0.2"))


def run_openai() -> list[User]:
    import openai

    return _files_and_batches(openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "local")),
                              "/v1/chat/completions", "gpt-4o-mini")


def run_azure() -> list[User]:
    """AzureOpenAI reads AZURE_OPENAI_ENDPOINT and OPENAI_API_VERSION; the model of every line is
    the deployment's name, and Azure's lines and endpoint say /chat/completions (no /v1)."""
    import openai

    client = openai.AzureOpenAI(api_key=os.environ.get("AZURE_OPENAI_API_KEY", "local"))
    return _files_and_batches(client, "/chat/completions", os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini"))


def _files_and_batches(client: Any, endpoint: str, model: str) -> list[User]:
    """The Files + Batch API round trip, the same on OpenAI and Azure OpenAI."""
    lines = [{"custom_id": f"request-{i}", "method": "POST", "url": endpoint,
              "body": {"model": model, "messages": [{"role": "user", "content": p}],
                       "response_format": {"type": "json_schema",
                                           "json_schema": {"name": "User", "strict": True, "schema": SCHEMA}}}}
             for i, p in enumerate(PROMPTS, 1)]
    upload = client.files.create(file=("users.jsonl", "\n".join(map(json.dumps, lines)).encode()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h")
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(POLL_SECONDS)
        batch = client.batches.retrieve(batch.id)
    rows = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    rows.sort(key=lambda row: int(row["custom_id"].split("-")[1]))
    return [User.model_validate_json(r["response"]["body"]["choices"][0]["message"]["content"]) for r in rows]


def run_anthropic() -> list[User]:
    import anthropic

    client = anthropic.Anthropic(api_key=os.environ.get("ANTHROPIC_API_KEY", "local"))
    requests = [{"custom_id": f"request-{i}",
                 "params": {"model": "claude-3-5-sonnet-20241022", "max_tokens": 256,
                            "messages": [{"role": "user", "content": p}],
                            "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}}
                for i, p in enumerate(PROMPTS, 1)]
    batch = client.messages.batches.create(requests=requests)
    while batch.processing_status != "ended":
        time.sleep(POLL_SECONDS)
        batch = client.messages.batches.retrieve(batch.id)
    rows = sorted(client.messages.batches.results(batch.id), key=lambda r: int(r.custom_id.split("-")[1]))
    return [User.model_validate_json(r.result.message.content[0].text) for r in rows]


def run_google() -> list[User]:
    from google import genai

    base_url = os.environ.get("GOOGLE_GEMINI_BASE_URL")
    client = genai.Client(api_key=os.environ.get("GOOGLE_API_KEY", "local"),
                          http_options={"base_url": base_url} if base_url else None)
    src = [{"contents": [{"parts": [{"text": p}], "role": "user"}],
            "config": {"response_mime_type": "application/json", "response_json_schema": SCHEMA},
            "metadata": {"key": f"request-{i}"}} for i, p in enumerate(PROMPTS, 1)]
    job = client.batches.create(model="gemini-2.0-flash-001", src=src)
    while not job.done:
        time.sleep(POLL_SECONDS)
        job = client.batches.get(name=job.name)
    return [User.model_validate_json(r.response.text) for r in job.dest.inlined_responses]


def main() -> int:
    failures = 0
    runs = [("openai", run_openai), ("anthropic", run_anthropic), ("google", run_google)]
    if os.environ.get("AZURE_OPENAI_ENDPOINT"):
        runs.append(("azure", run_azure))
    for name, run in runs:
        users = run()
        print(f"{name}: " + ", ".join(f"{u.name}/{u.age}" for u in users), flush=True)
        failures += len(users) != len(PROMPTS)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
