from __future__ import annotations

import json

import pytest

from pytest_batch.seed import SEED_PROMPTS, seed_expectations
from pytest_batch.sim import Emulator

USER_SCHEMA = {
    "type": "object",
    "title": "User",
    "properties": {"name": {"type": "string", "title": "Name"}, "age": {"type": "integer", "title": "Age"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture
def emulator() -> Emulator:
    sim = Emulator(seed=7)
    sim.load_expectations(seed_expectations())
    return sim


def openai_chat_lines(prompts=SEED_PROMPTS, model: str = "gpt-4o-mini", schema=USER_SCHEMA) -> bytes:
    lines = []
    for i, prompt in enumerate(prompts, 1):
        body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "User", "strict": True, "schema": schema}}
        lines.append({"custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()
