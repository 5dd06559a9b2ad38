"""The emulator server under many clients at once, and one small call alone, over loopback.

    python bench/bench_concurrency.py [--clients 50] [--async-clients 10] [--processes 5]
                                      [--requests 100 1000] [--lifecycle seconds:5] [--poll-every 0.25]
                                      [--small-calls 15]

The server is ``pytest-batch serve`` in its own process (bench/served.py says why), on a
free port of 127.0.0.1.

- Small calls: the median of ``--small-calls`` calls of each kind, one client, nothing else
  running: ``batches.create`` of a one-row batch and ``retrieve`` of a completed one, through
  each provider's SDK, over loopback beside the same call in process (the SDK over the
  emulator's transport).
- Under load: ``--clients`` clients, spread over ``--processes`` processes (so the clients'
  own SDK work does not queue on one interpreter's GIL and count as server latency), start
  together. Each takes a provider in turn (OpenAI, Anthropic, Gemini) and a batch of a seeded
  random size in ``--requests`` (half the requests ask for a JSON schema, half for plain
  text); it uploads or creates the batch, polls its status every ``--poll-every`` seconds
  until it ends (the server's lifecycle is ``--lifecycle``) and downloads the results.
  ``--async-clients`` of them are asyncio tasks with the async SDKs (one event loop per
  process), the rest threads with the sync SDKs. Every call's latency is recorded; the table
  gives p50/p95/p99/max per kind of call.
- Results: every custom_id of every batch must come back exactly once, in its own batch, as
  a success; a plain-text request's simulated answer names its custom_id, so an answer that
  landed on another request's row is caught too. The bench counts lost, crossed, duplicated
  and failed results and exits 1 if any.

Bounded: at most ``--timeout`` seconds; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from served import Server, control, served  # noqa: E402

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
        self.calls: list[tuple[str, float, float | None]] = []  # (kind, seconds, seconds on the wire)
        self.answered: float | None = None  # the last call's time until its answer's headers arrived
        self.rows: list[tuple[str, bool, str | None]] = []  # (custom_id, succeeded, plain text answer)
        self.error: str | None = None

    def timed(self, kind: str, started: float) -> None:
        self.calls.append((kind, time.perf_counter() - started, None))

    def polled(self, started: float, ended: bool) -> None:
        """A status poll, timed as the SDK call returns and on the wire (until the answer's headers
        arrived, the SDK's parsing of the answer left out); the poll that sees the batch end is the
        one the server renders its results in."""
        self.calls.append(("poll that sees it end" if ended else "poll, batch running",
                           time.perf_counter() - started, self.answered))

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
    content = openai_input(client.custom_ids)
    start.wait()
    t = time.perf_counter()
    upload = sdk.files.create(file=("input.jsonl", content), purpose="batch")
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
            for line in sdk.files.content(file_id).text.splitlines():
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
    requests = anthropic_input(client.custom_ids)
    start.wait()
    t = time.perf_counter()
    batch = sdk.messages.batches.create(requests=requests)
    client.timed("create", t)
    while batch.processing_status != "ended" and client.polling():
        time.sleep(client.poll_every)
        t = time.perf_counter()
        batch = sdk.messages.batches.retrieve(batch.id)
        client.polled(t, batch.processing_status == "ended")
    t = time.perf_counter()
    for row in sdk.messages.batches.results(batch.id):
        anthropic_row(client, row)
    client.timed("download", t)


def anthropic_row(client: Client, row: Any) -> None:
    ok = row.result.type == "succeeded"
    text = row.result.message.content[0].text if ok and client.plain(row.custom_id) else None
    client.keep(row.custom_id, ok, text)


def sync_google(client: Client, url: str, start: threading.Barrier) -> None:
    from google import genai

    sdk = genai.Client(api_key="local", http_options={"base_url": url, "timeout": 120_000,
                                                       "httpx_client": client.http()})
    content = gemini_input(client.custom_ids)
    start.wait()
    t = time.perf_counter()
    uploaded = sdk.files.upload(file=io.BytesIO(content), config={"mime_type": "jsonl"})
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
    upload = await sdk.files.create(file=("input.jsonl", openai_input(client.custom_ids)), purpose="batch")
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
            for line in (await sdk.files.content(file_id)).text.splitlines():
                openai_row(client, json.loads(line))
    client.timed("download", t)


async def async_anthropic(client: Client, url: str) -> None:
    import anthropic

    sdk = anthropic.AsyncAnthropic(base_url=url, api_key="local", max_retries=0, timeout=120,
                                   http_client=client.http(asynchronous=True))
    t = time.perf_counter()
    batch = await sdk.messages.batches.create(requests=anthropic_input(client.custom_ids))
    client.timed("create", t)
    while batch.processing_status != "ended" and client.polling():
        await asyncio.sleep(client.poll_every)
        t = time.perf_counter()
        batch = await sdk.messages.batches.retrieve(batch.id)
        client.polled(t, batch.processing_status == "ended")
    t = time.perf_counter()
    async for row in await sdk.messages.batches.results(batch.id):
        anthropic_row(client, row)
    client.timed("download", t)


async def async_google(client: Client, url: str) -> None:
    """Inline requests: the results come back in the operation of the poll that sees it end."""
    from google import genai

    sdk = genai.Client(api_key="local", http_options={"base_url": url, "timeout": 120_000,
                                                       "httpx_async_client": client.http(asynchronous=True)}).aio
    src = [{"contents": gemini_request(index, custom_id)["contents"], "metadata": {"key": custom_id},
            **({"config": {"response_mime_type": "application/json", "response_json_schema": SCHEMA}}
               if structured(index) else {})}
           for index, custom_id in enumerate(client.custom_ids)]
    t = time.perf_counter()
    job = await sdk.batches.create(model=GEMINI, src=src)
    client.timed("create", t)
    while not job.done and client.polling():
        await asyncio.sleep(client.poll_every)
        t = time.perf_counter()
        job = await sdk.batches.get(name=job.name)
        client.polled(t, bool(job.done))
    for item in job.dest.inlined_responses:
        key = item.metadata["key"]
        ok = item.response is not None and item.error is None
        client.keep(key, ok, item.response.text if ok and client.plain(key) else None)


# ---------------------------------------------------------------------------- one client process

def client_process(specs: list[dict[str, Any]], urls: dict[str, str], go: Any, out: Any) -> None:
    """Run this process's clients (threads and one event loop) and put their reports on ``out``."""
    threads = [Client(**spec["client"]) for spec in specs if not spec["async"]]
    tasks = [Client(**spec["client"]) for spec in specs if spec["async"]]
    start = threading.Barrier(len(threads) + (1 if tasks else 0))

    async def loop() -> None:
        start.wait()
        await asyncio.gather(*(run_async(client, urls) for client in tasks))

    import anthropic  # noqa: F401 - the SDKs' imports stay out of the measured calls
    import openai  # noqa: F401
    from google import genai  # noqa: F401

    workers = [threading.Thread(target=run_sync, args=(client, urls, start)) for client in threads]
    if tasks:
        workers.append(threading.Thread(target=asyncio.run, args=(loop(),)))
    go.wait()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put([client.report() for client in threads + tasks])


# ---------------------------------------------------------------------------- the bench

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def under_load(server: Server, args: argparse.Namespace) -> int:
    url = server.url
    urls = {"openai": f"{url}/openai/v1", "anthropic": f"{url}/anthropic", "google": f"{url}/google"}
    rng = random.Random(args.seed)
    deadline = time.time() + args.timeout
    low, high = args.requests
    specs = [{"async": number >= args.clients - args.async_clients,
              "client": {"number": number, "provider": PROVIDERS[number % 3], "size": rng.randint(low, high),
                         "deadline": deadline, "poll_every": args.poll_every}}
             for number in range(args.clients)]
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    processes = [context.Process(target=client_process, args=(specs[i::args.processes], urls, go, out))
                 for i in range(args.processes)]
    for process in processes:
        process.start()
    time.sleep(3)  # the client processes import the SDKs before the start
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    go.set()
    reports = []
    for _ in processes:
        reports.extend(out.get(timeout=args.timeout + 60))
    wall = time.perf_counter() - started
    cpu_after = server.cpu_seconds()
    for process in processes:
        process.join()
    calls: dict[str, list[float]] = {}
    wire: dict[str, list[float]] = {}
    for report in reports:
        for kind, seconds, on_wire in report["calls"]:
            kinds = [kind]
            if kind.startswith("poll"):
                kinds += ["poll", f"poll ({report['provider']})"]
            for name in kinds:
                calls.setdefault(name, []).append(seconds)
                if on_wire is not None:
                    wire.setdefault(name, []).append(on_wire)
    print(f"\n### Under load: {args.clients} clients ({args.clients - args.async_clients} threads, "
          f"{args.async_clients} asyncio) in {args.processes} processes, batches of {low}-{high} requests, "
          f"lifecycle {args.lifecycle}, a poll every {args.poll_every:g} s\n")
    print("| call | count | p50 ms | p95 ms | p99 ms | max ms | on the wire: p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ("poll", "poll, batch running", "poll that sees it end", *(f"poll ({p})" for p in PROVIDERS),
                 "upload", "create", "download"):
        values = calls.get(kind)
        if not values:
            continue
        row = [kind, str(len(values)), *(f"{percentile(values, q) * 1000:.1f}" for q in (.5, .95, .99, 1))]
        on_wire = wire.get(kind)
        row += [f"{percentile(on_wire, q) * 1000:.1f}" for q in (.5, .99, 1)] if on_wire else ["—"] * 3
        print(f"| {' | '.join(row)} |")
    totals = {key: sum(report[key] for report in reports) for key in ("lost", "crossed", "duplicated", "failed")}
    errors = [f"client {i} ({r['provider']}): {r['error']}" for i, r in enumerate(reports) if r["error"]]
    requests = sum(report["requests"] for report in reports)
    print(f"\n{len(reports)} batches, {requests:,} requests in {wall:.1f} s: lost {totals['lost']}, "
          f"crossed {totals['crossed']}, duplicated {totals['duplicated']}, failed {totals['failed']}, "
          f"clients that broke {len(errors)}")
    if cpu_before is not None and cpu_after is not None:
        print(f"The server used {cpu_after - cpu_before:.1f} s of CPU in those {wall:.1f} s.")
    for error in errors[:10]:
        print(f"  {error}")
    return 1 if errors or any(totals.values()) else 0


def small_calls(server: Server, count: int) -> None:
    """Median of ``count`` small calls per kind, over loopback and in process."""
    url = server.url
    import anthropic
    import openai
    from google import genai

    from pytest_batch.sim import Emulator

    control(url, "lifecycle", {"spec": "immediate"})
    emulator = Emulator(lifecycle="immediate")
    sdks = {
        "loopback": (openai.OpenAI(base_url=f"{url}/openai/v1", api_key="local", max_retries=0),
                     anthropic.Anthropic(base_url=f"{url}/anthropic", api_key="local", max_retries=0),
                     genai.Client(api_key="local", http_options={"base_url": f"{url}/google"})),
        "in process": (emulator.openai_client(max_retries=0), emulator.anthropic_client(max_retries=0),
                       emulator.google_client()),
    }
    one_line = openai_input(["only"])
    one_request = anthropic_input(["only"])
    one_inline = [{"contents": "Hi", "metadata": {"key": "only"}}]
    rows: dict[str, dict[str, float]] = {}

    def median(kind: str, where: str, call: Any) -> Any:
        call()  # warm: lazy imports, the connection
        times, result = [], None
        for _ in range(count):
            t = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - t)
        rows.setdefault(kind, {})[where] = statistics.median(times)
        return result

    for where, (oa, an, go) in sdks.items():
        upload = oa.files.create(file=("one.jsonl", one_line), purpose="batch")
        batch = median("OpenAI `batches.create`, one row", where, lambda: oa.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"))
        oa.batches.retrieve(batch.id)
        median("OpenAI `batches.retrieve`, completed", where, lambda: oa.batches.retrieve(batch.id))
        if where == "loopback":  # the server's own share: the same call without an SDK above it
            median("the same retrieve, raw HTTP/1.1 (http.client, no SDK)", where, raw_get(url, batch.id))
        message_batch = median("Anthropic `messages.batches.create`, one request", where,
                               lambda: an.messages.batches.create(requests=one_request))
        an.messages.batches.retrieve(message_batch.id)
        median("Anthropic `messages.batches.retrieve`, ended", where,
               lambda: an.messages.batches.retrieve(message_batch.id))
        job = median("Gemini `batches.create`, one inline request", where,
                     lambda: go.batches.create(model=GEMINI, src=one_inline))
        go.batches.get(name=job.name)
        median("Gemini `batches.get`, succeeded", where, lambda: go.batches.get(name=job.name))
    print(f"\n### One small call (median of {count}), nothing else running\n")
    print("| call | over loopback (ms) | in process (ms) |")
    print("|---|---:|---:|")
    for kind, where in rows.items():
        cells = [f"{where[column] * 1000:.2f}" if column in where else "—" for column in ("loopback", "in process")]
        print(f"| {kind} | {' | '.join(cells)} |")


def raw_get(url: str, batch_id: str) -> Any:
    """GET /openai/v1/batches/{id} over one kept-alive http.client connection."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def get() -> bytes:
        connection.request("GET", f"/openai/v1/batches/{batch_id}", headers={"authorization": "Bearer local"})
        return connection.getresponse().read()

    return get


def main() -> int:
    parser = argparse.ArgumentParser(description="The emulator server under many clients at once, and one small "
                                     "call alone, over loopback.")
    parser.add_argument("--clients", type=int, default=50, help="clients in all (default 50)")
    parser.add_argument("--async-clients", type=int, default=10, help="of which asyncio clients (default 10)")
    parser.add_argument("--processes", type=int, default=5, help="client processes (default 5)")
    parser.add_argument("--requests", type=int, nargs=2, default=(100, 1000), metavar=("MIN", "MAX"),
                        help="batch sizes, drawn per client (default 100 1000)")
    parser.add_argument("--lifecycle", default="seconds:5", help="the server's lifecycle (default seconds:5)")
    parser.add_argument("--poll-every", type=float, default=0.25, help="seconds between polls (default 0.25)")
    parser.add_argument("--small-calls", type=int, default=15, help="calls per small-call median (default 15; "
                        "0 skips them)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=300, help="the bench's bound in seconds (default 300)")
    args = parser.parse_args()
    if not 0 <= args.async_clients <= args.clients or args.processes < 1:
        parser.error("need 0 <= --async-clients <= --clients and --processes >= 1")
    with served(seed=args.seed) as server:
        if args.small_calls:
            small_calls(server, args.small_calls)
        if not args.clients:
            return 0
        control(server.url, "reset")
        control(server.url, "lifecycle", {"spec": args.lifecycle})
        return under_load(server, args)


if __name__ == "__main__":
    sys.exit(main())
