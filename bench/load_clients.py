"""The clients of bench/bench_concurrency.py: one batch each, through the real SDKs.

A client uploads or creates its batch, polls it until it ends and downloads the results,
timing every call; ``Client.report`` says what came back: lost, crossed, duplicated and
failed results. ``client_process`` runs one process's share of the clients, threads with
the sync SDKs and asyncio tasks with the async ones. A client's input is built before the
start, and results are downloaded as raw JSONL (the SDKs' streaming responses) and read
with json.loads: on a machine with few cores, the clients' own work competes with the
server for them, so they do no more than a pipeline must.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import threading
import time
from typing import Any

PROVIDERS = ("openai", "anthropic", "google")
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
PROMPT = "Hi there! My name is Alice and I'm 28 years old. I work as a software engineer. Request {custom_id}."
OPENAI_MODEL, CLAUDE, GEMINI = "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash-lite"
OPENAI_ENDED = ("completed", "failed", "expired", "cancelled")


# ---------------------------------------------------------------------------- one batch's input

def structured(index: int) -> bool:
    """Even requests ask for the User schema (a synthetic answer), odd ones for plain text (an
    answer that names its custom_id)."""
    return index % 2 == 0


def openai_input(custom_ids: list[str]) -> bytes:
    lines = []
    for index, custom_id in enumerate(custom_ids):
        body: dict[str, Any] = {"model": OPENAI_MODEL,
                                "messages": [{"role": "user", "content": PROMPT.format(custom_id=custom_id)}]}
        if structured(index):
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "User", "strict": True, "schema": SCHEMA}}
        lines.append(json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                                 "body": body}))
    return ("\n".join(lines) + "\n").encode()


def anthropic_input(custom_ids: list[str]) -> list[dict[str, Any]]:
    requests = []
    for index, custom_id in enumerate(custom_ids):
        params: dict[str, Any] = {"model": CLAUDE, "max_tokens": 256,
                                  "messages": [{"role": "user", "content": PROMPT.format(custom_id=custom_id)}]}
        if structured(index):
            params["output_config"] = {"format": {"type": "json_schema", "schema": SCHEMA}}
        requests.append({"custom_id": custom_id, "params": params})
    return requests


def gemini_request(index: int, custom_id: str) -> dict[str, Any]:
    request: dict[str, Any] = {"contents": [{"role": "user",
                                             "parts": [{"text": PROMPT.format(custom_id=custom_id)}]}]}
    if structured(index):
        request["generationConfig"] = {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}
    return request


def gemini_input(custom_ids: list[str]) -> bytes:
    return "".join(json.dumps({"key": custom_id, "request": gemini_request(index, custom_id)}) + "\n"
                   for index, custom_id in enumerate(custom_ids)).encode()


# ---------------------------------------------------------------------------- what came back

class Client:
    """One client's batch: its custom_ids, what it timed, and what came back."""

    def __init__(self, number: int, provider: str, size: int, deadline: float, poll_every: float) -> None:
        self.number, self.provider, self.deadline, self.poll_every = number, provider, deadline, poll_every
        self.custom_ids = [f"c{number:03d}-r{index:04d}" for index in range(size)]
        #: the batch's input, built before the start: an upload's bytes, or Anthropic's requests
        self.input: Any = {"openai": openai_input, "anthropic": anthropic_input,
                           "google": gemini_input}[provider](self.custom_ids)
        self.calls: list[tuple[str, float, float | None]] = []  # (kind, seconds, seconds on the wire)
        self.answered: float | None = None  # the last call's time until its answer's headers arrived
        #: when the create call returned, and when a poll first saw the batch ended (perf_counter)
        self.created: float | None = None
        self.ended: float | None = None
        self.rows: list[tuple[str, bool, str | None]] = []  # (custom_id, succeeded, plain text answer)
        self.error: str | None = None

    def timed(self, kind: str, started: float) -> None:
        now = time.perf_counter()
        self.calls.append((kind, now - started, None))
        if kind == "create":
            self.created = now

    def polled(self, started: float, ended: bool) -> None:
        """A status poll, timed as the SDK call returns and on the wire (until the answer's headers
        arrived, the SDK's parsing of the answer left out), and when a poll first sees it ended."""
        now = time.perf_counter()
        self.calls.append(("poll that sees it end" if ended else "poll, batch running", now - started,
                           self.answered))
        if ended:
            self.ended = now

    def http(self, asynchronous: bool = False) -> Any:
        """The httpx2 client the SDK sends through: its hooks time each call on the wire."""
        import httpx2

        def sent(request: Any) -> None:
            request.extensions["bench_sent"] = time.perf_counter()

        def arrived(response: Any) -> None:
            self.answered = time.perf_counter() - response.request.extensions["bench_sent"]

        if not asynchronous:
            return httpx2.Client(event_hooks={"request": [sent], "response": [arrived]}, timeout=120)

        async def sent_async(request: Any) -> None:
            sent(request)

        async def arrived_async(response: Any) -> None:
            arrived(response)

        return httpx2.AsyncClient(event_hooks={"request": [sent_async], "response": [arrived_async]}, timeout=120)

    def polling(self) -> bool:
        if time.time() > self.deadline:
            raise TimeoutError(f"client {self.number}'s batch did not end before the bench's deadline")
        return True

    def report(self) -> dict[str, Any]:
        own = set(self.custom_ids)
        seen: dict[str, int] = {}
        crossed = failed = 0
        for custom_id, ok, text in self.rows:
            seen[custom_id] = seen.get(custom_id, 0) + 1
            if custom_id not in own or (text is not None and f"({custom_id})" not in text):
                crossed += 1
            elif not ok:
                failed += 1
        return {"provider": self.provider, "requests": len(self.custom_ids), "calls": self.calls,
                "created_to_ended": (None if self.created is None or self.ended is None
                                     else self.ended - self.created),
                "lost": sum(1 for custom_id in own if custom_id not in seen), "crossed": crossed,
                "duplicated": sum(count - 1 for count in seen.values()), "failed": failed, "error": self.error}

    def keep(self, custom_id: str, ok: bool, text: str | None) -> None:
        """A result row: ``text`` is the answer's text when the request asked for plain text."""
        self.rows.append((custom_id, ok, text))

    def plain(self, custom_id: str) -> bool:
        try:
            return not structured(int(custom_id.rsplit("-r", 1)[1]))
        except (IndexError, ValueError):
            return False


# ---------------------------------------------------------------------------- sync clients

def run_sync(client: Client, urls: dict[str, str], start: threading.Barrier) -> None:
    try:
        {"openai": sync_openai, "anthropic": sync_anthropic, "google": sync_google}[client.provider](
            client, urls[client.provider], start)
    except Exception as exc:  # noqa: BLE001 - a bench reports what broke and goes on
        client.error = f"{type(exc).__name__}: {exc}"[:300]


def sync_openai(client: Client, url: str, start: threading.Barrier) -> None:
    import openai

    sdk = openai.OpenAI(base_url=url, api_key="local", max_retries=0, timeout=120, http_client=client.http())
    start.wait()
    t = time.perf_counter()
    upload = sdk.files.create(file=("input.jsonl", client.input), purpose="batch")
    client.timed("upload", t)
    t = time.perf_counter()
    batch = sdk.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    client.timed("create", t)
    while batch.status not in OPENAI_ENDED and client.polling():
        time.sleep(client.poll_every)
        t = time.perf_counter()
        batch = sdk.batches.retrieve(batch.id)
        client.polled(t, batch.status in OPENAI_ENDED)
    t = time.perf_counter()
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for line in sdk.files.content(file_id).content.splitlines():
                openai_row(client, json.loads(line))
    client.timed("download", t)


def openai_row(client: Client, row: dict[str, Any]) -> None:
    response = row.get("response") or {}
    ok = response.get("status_code") == 200
    text = response["body"]["choices"][0]["message"]["content"] if ok else None
    client.keep(row["custom_id"], ok, text if client.plain(row["custom_id"]) else None)


def sync_anthropic(client: Client, url: str, start: threading.Barrier) -> None:
    import anthropic

    sdk = anthropic.Anthropic(base_url=url, api_key="local", max_retries=0, timeout=120, http_client=client.http())
    start.wait()
    t = time.perf_counter()
    batch = sdk.messages.batches.create(requests=client.input)
    client.timed("create", t)
    while batch.processing_status != "ended" and client.polling():
        time.sleep(client.poll_every)
        t = time.perf_counter()
        batch = sdk.messages.batches.retrieve(batch.id)
        client.polled(t, batch.processing_status == "ended")
    t = time.perf_counter()
    with sdk.messages.batches.with_streaming_response.results(batch.id) as response:
        content = response.read()
    for line in content.splitlines():
        anthropic_row(client, json.loads(line))
    client.timed("download", t)


def anthropic_row(client: Client, row: dict[str, Any]) -> None:
    result = row["result"]
    ok = result["type"] == "succeeded"
    text = result["message"]["content"][0]["text"] if ok and client.plain(row["custom_id"]) else None
    client.keep(row["custom_id"], ok, text)


def sync_google(client: Client, url: str, start: threading.Barrier) -> None:
    from google import genai

    sdk = genai.Client(api_key="local", http_options={"base_url": url, "timeout": 120_000,
                                                       "httpx_client": client.http()})
    start.wait()
    t = time.perf_counter()
    uploaded = sdk.files.upload(file=io.BytesIO(client.input), config={"mime_type": "jsonl"})
    client.timed("upload", t)
    t = time.perf_counter()
    job = sdk.batches.create(model=GEMINI, src=uploaded.name)
    client.timed("create", t)
    while not job.done and client.polling():
        time.sleep(client.poll_every)
        t = time.perf_counter()
        job = sdk.batches.get(name=job.name)
        client.polled(t, bool(job.done))
    t = time.perf_counter()
    for line in sdk.files.download(file=job.dest.file_name).splitlines():
        google_row(client, json.loads(line))
    client.timed("download", t)


def google_row(client: Client, row: dict[str, Any]) -> None:
    response = row.get("response")
    ok = response is not None and "error" not in row
    text = response["candidates"][0]["content"]["parts"][0]["text"] if ok and client.plain(row["key"]) else None
    client.keep(row["key"], ok, text)


# ---------------------------------------------------------------------------- asyncio clients

async def run_async(client: Client, urls: dict[str, str]) -> None:
    try:
        await {"openai": async_openai, "anthropic": async_anthropic, "google": async_google}[client.provider](
            client, urls[client.provider])
    except Exception as exc:  # noqa: BLE001
        client.error = f"{type(exc).__name__}: {exc}"[:300]


async def async_openai(client: Client, url: str) -> None:
    import openai

    sdk = openai.AsyncOpenAI(base_url=url, api_key="local", max_retries=0, timeout=120,
                             http_client=client.http(asynchronous=True))
    t = time.perf_counter()
    upload = await sdk.files.create(file=("input.jsonl", client.input), purpose="batch")
    client.timed("upload", t)
    t = time.perf_counter()
    batch = await sdk.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
    client.timed("create", t)
    while batch.status not in OPENAI_ENDED and client.polling():
        await asyncio.sleep(client.poll_every)
        t = time.perf_counter()
        batch = await sdk.batches.retrieve(batch.id)
        client.polled(t, batch.status in OPENAI_ENDED)
    t = time.perf_counter()
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for line in (await sdk.files.content(file_id)).content.splitlines():
                openai_row(client, json.loads(line))
    client.timed("download", t)


async def async_anthropic(client: Client, url: str) -> None:
    import anthropic

    sdk = anthropic.AsyncAnthropic(base_url=url, api_key="local", max_retries=0, timeout=120,
                                   http_client=client.http(asynchronous=True))
    t = time.perf_counter()
    batch = await sdk.messages.batches.create(requests=client.input)
    client.timed("create", t)
    while batch.processing_status != "ended" and client.polling():
        await asyncio.sleep(client.poll_every)
        t = time.perf_counter()
        batch = await sdk.messages.batches.retrieve(batch.id)
        client.polled(t, batch.processing_status == "ended")
    t = time.perf_counter()
    async with sdk.messages.batches.with_streaming_response.results(batch.id) as response:
        content = await response.read()
    for line in content.splitlines():
        anthropic_row(client, json.loads(line))
    client.timed("download", t)


async def async_google(client: Client, url: str) -> None:
    from google import genai

    sdk = genai.Client(api_key="local", http_options={"base_url": url, "timeout": 120_000,
                                                       "httpx_async_client": client.http(asynchronous=True)}).aio
    t = time.perf_counter()
    uploaded = await sdk.files.upload(file=io.BytesIO(client.input), config={"mime_type": "jsonl"})
    client.timed("upload", t)
    t = time.perf_counter()
    job = await sdk.batches.create(model=GEMINI, src=uploaded.name)
    client.timed("create", t)
    while not job.done and client.polling():
        await asyncio.sleep(client.poll_every)
        t = time.perf_counter()
        job = await sdk.batches.get(name=job.name)
        client.polled(t, bool(job.done))
    t = time.perf_counter()
    for line in (await sdk.files.download(file=job.dest.file_name)).splitlines():
        google_row(client, json.loads(line))
    client.timed("download", t)


# ---------------------------------------------------------------------------- one client process

def warm_up(urls: dict[str, str]) -> None:
    """One whole client of each kind (sync and async, each provider: upload, create, polls until the
    batch ends, download) before the start, on a lifecycle that ends batches at once: the SDKs
    import modules and build models on first use (the first ended Gemini job alone cost 35 ms of
    CPU), and that is not what the bench measures; in the load it would hold every client of
    the process up."""
    for number, provider in enumerate(PROVIDERS):
        for asynchronous in (False, True):
            client = Client(-1 - number, provider, 1, time.time() + 60, 0.01)
            if asynchronous:
                asyncio.run(run_async(client, urls))
            else:
                run_sync(client, urls, threading.Barrier(1))
            if client.error or client.report()["lost"]:
                raise RuntimeError(f"the warm-up {provider} client failed: {client.error or 'results lost'}")


def client_process(specs: list[dict[str, Any]], urls: dict[str, str], ready: Any, go: Any, out: Any) -> None:
    """Warm up (``warm_up``), say so on ``ready``, wait for ``go``, run this process's clients
    (threads and one event loop) and put their reports on ``out``."""
    threads = [Client(**spec["client"]) for spec in specs if not spec["async"]]
    tasks = [Client(**spec["client"]) for spec in specs if spec["async"]]
    start = threading.Barrier(len(threads) + (1 if tasks else 0))

    async def loop() -> None:
        start.wait()
        await asyncio.gather(*(run_async(client, urls) for client in tasks))

    warm_up(urls)
    workers = [threading.Thread(target=run_sync, args=(client, urls, start)) for client in threads]
    if tasks:
        workers.append(threading.Thread(target=asyncio.run, args=(loop(),)))
    collections: list[float] = []  # seconds of each cyclic GC run in this process: it stops its clients
    started = [0.0]

    def collecting(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collections.append(time.perf_counter() - started[0])

    # What the imports and the warm-up made (the SDKs' modules and models: hundreds of thousands of
    # objects) moves out of the collector's reach, as a long-running service does after its start:
    # otherwise each full collection rescans them and stops every client of this process meanwhile.
    gc.freeze()
    ready.put(True)
    go.wait()
    gc.callbacks.append(collecting)
    cpu = time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    gc.callbacks.remove(collecting)
    out.put(([client.report() for client in threads + tasks], time.process_time() - cpu, collections))
