from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

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


# ---------------------------------------------------------------------------- access paths

#: the emulator's three access paths (issue 2): ready-made in-process clients, the patch
#: context catching clients made with the SDKs' defaults, and the loopback server.
ACCESS_PATHS = ("in-process", "intercept", "server")


@dataclass
class Access:
    """Real SDK clients reaching one emulator through one access path."""

    path: str
    emulator: Emulator
    #: the server's base URLs; empty for the other paths (the SDKs keep their default hosts)
    base_urls: dict[str, str] = field(default_factory=dict)

    def openai(self, **kwargs: Any) -> Any:
        if self.path == "in-process":
            return self.emulator.openai_client(**kwargs)
        import openai

        return openai.OpenAI(api_key="local", base_url=self.base_urls.get("openai"), **kwargs)

    def anthropic(self, **kwargs: Any) -> Any:
        if self.path == "in-process":
            return self.emulator.anthropic_client(**kwargs)
        import anthropic

        return anthropic.Anthropic(api_key="local", base_url=self.base_urls.get("anthropic"), **kwargs)

    def google(self) -> Any:
        if self.path == "in-process":
            return self.emulator.google_client()
        from google import genai

        url = self.base_urls.get("google")
        return genai.Client(api_key="local", http_options={"base_url": url} if url else None)


@pytest.fixture(params=ACCESS_PATHS)
def connect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Emulator], Access]]:
    """``connect(emulator)``: an Access on this test's path; patches and servers end with the test."""
    from pytest_batch.sim.patch import intercept
    from pytest_batch.sim.server import start_server

    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with contextlib.ExitStack() as stack:
        def connect(emulator: Emulator) -> Access:
            if request.param == "intercept":
                stack.enter_context(intercept(emulator))
            elif request.param == "server":
                return Access("server", emulator, stack.enter_context(start_server(emulator)).base_urls)
            return Access(request.param, emulator)

        yield connect
