"""The emulator server under many clients at once, and one small call alone, over loopback.

    python bench/bench_concurrency.py [--clients 50] [--async-clients 10] [--processes 5]
                                      [--requests 100 1000] [--lifecycle seconds:5] [--poll-every 0.25]
                                      [--small-calls 15]

The server is ``pytest-batch serve`` in its own process (bench/served.py says why), on a
free port of 127.0.0.1.

- Small calls: the median of ``--small-calls`` calls of each kind, one client, nothing else
  running: ``batches.create`` of a one-row batch and ``retrieve`` of a completed one, through
  each provider's SDK, over loopback beside the same call in process (the SDK over the
  emulator's transport), and the retrieve as raw HTTP/1.1 (the server's own share).
- Under load: ``--clients`` clients, spread over ``--processes`` processes (so the clients'
  own SDK work does not queue on one interpreter's GIL and count as server latency), start
  together, once every process has warmed up (load_clients.py ``warm_up``: one whole client of
  each kind, on batches that end at once). Each takes a provider in turn (OpenAI, Anthropic,
  Gemini) and a batch of a seeded random size in ``--requests`` (half the requests ask for
  a JSON schema, half for plain text); it uploads or creates the batch, polls its status every ``--poll-every`` seconds
  until it ends (the server's lifecycle is ``--lifecycle``) and downloads the results.
  ``--async-clients`` of them are asyncio tasks with the async SDKs (one event loop per
  process), the rest threads with the sync SDKs. Every call's latency is recorded, as the
  SDK call returns and on the wire (until the answer's headers arrive: the SDK's parsing of
  the answer left out); the table gives p50/p95/p99/max
  per kind of call, polls split into those of a running batch and the one that sees it end
  (the server made the batch's answers and results in a background thread before it: a poll
  that finds them not made yet reports the batch still running), and how long after its
  create a batch was seen ended (due ``S`` seconds after it, plus up to a poll's pause, plus
  the background work). A second table gives the server's
  own timing of the same calls, with the CPU its thread spent and its wait for the
  emulator's state lock, and the last line the CPU the server and the clients used: on a
  machine with few cores the clients' SDK work competes with the server for them.
- Results: every custom_id of every batch must come back exactly once, in its own batch, as
  a success; a plain-text request's simulated answer names its custom_id, so an answer that
  landed on another request's row is caught too. The bench counts lost, crossed, duplicated
  and failed results and exits 1 if any.

Bounded: at most ``--timeout`` seconds; loopback only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_clients import GEMINI, PROVIDERS, anthropic_input, client_process, openai_input  # noqa: E402
from served import Server, control, served  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def probe(url: str, batch_id: str, every: float, go: Any, stop: Any, out: Any) -> None:
    """One raw HTTP/1.1 client in its own process (no SDK, one thread): a status poll of a batch that
    never ends every ``every`` seconds while the load runs. What it times is the server, the socket
    and the machine's scheduler, without the clients' own contention (their threads share their
    process's GIL with several other clients')."""
    get = raw_get(url, batch_id)
    get()
    times = []
    go.wait()
    while not stop.is_set():
        started = time.perf_counter()
        get()
        times.append(time.perf_counter() - started)
        stop.wait(every)
    out.put(times)


def under_load(server: Server, args: argparse.Namespace) -> tuple[int, tuple[float, float], str]:
    """Run the clients and print what they timed; the exit code, when the load ran (time.time()) and
    the id of the batch the probe polled."""
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
    ready, go, out = context.Queue(), context.Event(), context.Queue()
    processes = [context.Process(target=client_process, args=(specs[i::args.processes], urls, ready, go, out))
                 for i in range(args.processes)]
    stop, probed, probe_id = context.Event(), context.Queue(), probe_batch(url)
    prober = context.Process(target=probe, args=(url, probe_id, 0.05, go, stop, probed))
    prober.start()
    control(url, "lifecycle", {"spec": "immediate"})  # the client processes warm up on batches that end at once
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    control(url, "lifecycle", {"spec": args.lifecycle})
    cpu_before = server.cpu_seconds()
    window = [time.time(), 0.0]
    started = time.perf_counter()
    go.set()
    reports, clients_cpu, client_gc = [], 0.0, []
    for _ in processes:
        process_reports, process_cpu, *collections = out.get(timeout=args.timeout + 60)
        reports.extend(process_reports)
        clients_cpu += process_cpu
        client_gc.extend(collections[0] if collections else [])
    wall = time.perf_counter() - started
    window[1] = time.time()
    stop.set()
    probe_times = probed.get(timeout=60)
    prober.join()
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
    lifetimes = [report["created_to_ended"] for report in reports if report["created_to_ended"] is not None]
    if lifetimes:
        print(f"From create to the poll that saw the batch ended (lifecycle {args.lifecycle}, a poll every "
              f"{args.poll_every:g} s): p50 {percentile(lifetimes, .5):.2f} s, p99 {percentile(lifetimes, .99):.2f} s, "
              f"max {max(lifetimes):.2f} s.")
    server_cpu = "" if cpu_before is None or cpu_after is None else f"the server {cpu_after - cpu_before:.1f} s, "
    print(f"CPU used in those {wall:.1f} s: {server_cpu}the client processes {clients_cpu:.1f} s "
          f"({os.cpu_count()} cores).")
    if probe_times:
        print(f"A raw HTTP/1.1 poll from a process of its own (no SDK, one thread), every 50 ms throughout: "
              f"{len(probe_times)} polls, p50 {percentile(probe_times, .5) * 1000:.1f} ms, "
              f"p95 {percentile(probe_times, .95) * 1000:.1f} ms, p99 {percentile(probe_times, .99) * 1000:.1f} ms, "
              f"max {max(probe_times) * 1000:.1f} ms.")
    if client_gc:
        print(f"The cyclic GC in the client processes (it stops every client of its process, and the time of "
              f"the calls they had on the wire): {len(client_gc)} runs, {sum(client_gc) * 1000:.0f} ms in all, "
              f"the longest {max(client_gc) * 1000:.1f} ms.")
    for error in errors[:10]:
        print(f"  {error}")
    return (1 if errors or any(totals.values()) else 0), (window[0], window[1]), probe_id


#: what the server's own timings call each request: (kind, method, path pattern)
SERVER_KINDS = [
    ("poll", "GET", re.compile(r"^/(openai/v1|anthropic/v1/messages|google/v1(beta)?)/batches/[^/:]+$")),
    ("upload", "POST", re.compile(r"^/(openai/v1/files|google/upload/v1(beta)?/files)$")),
    ("create", "POST", re.compile(r"^/(openai/v1|anthropic/v1/messages)/batches$|:batchGenerateContent$")),
    ("download", "GET", re.compile(r"/content$|/results$|:download$")),
]


def in_the_server(timings: Path, window: tuple[float, float], probe_id: str) -> None:
    """The server's own share of each kind of call the clients made under load (see bench/served.py;
    the probe's polls left out)."""
    kinds: dict[str, list[tuple[float, float, float]]] = {}
    for method, path, when, seconds, cpu, lock_wait in json.loads(timings.read_text()):
        if window[0] <= when <= window[1] and not path.endswith(probe_id):
            kind = next((name for name, verb, pattern in SERVER_KINDS if verb == method and pattern.search(path)),
                        None)
            if kind is not None:
                kinds.setdefault(kind, []).append((seconds, cpu, lock_wait))
    print("\nThe same calls timed inside the server, from its reading the request to its writing the answer; "
          "of that, the CPU time of the thread that answered, and its wait for the emulator's state lock:\n")
    print("| call | count | p50 ms | p95 ms | p99 ms | max ms | CPU p99 ms | CPU max ms | lock wait p99 ms "
          "| lock wait max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, _, _ in SERVER_KINDS:
        rows = kinds.get(kind)
        if rows:
            walls, cpus, waits = ([row[i] for row in rows] for i in range(3))
            cells = [f"{percentile(values, q) * 1000:.1f}" for values, quantiles in
                     ((walls, (.5, .95, .99, 1)), (cpus, (.99, 1)), (waits, (.99, 1))) for q in quantiles]
            print(f"| {kind} | {len(rows)} | {' | '.join(cells)} |")
    collections = timings.with_suffix(".gc.json")
    if collections.exists():
        runs = [(generation, seconds) for generation, when, seconds in json.loads(collections.read_text())
                if window[0] <= when <= window[1]]
        every = [seconds for _, seconds in runs]
        longest = {generation: max(seconds for g, seconds in runs if g == generation)
                   for generation in sorted({g for g, _ in runs})}
        print(f"\nThe cyclic GC in the server while the load ran (it stops every thread): {len(runs)} runs, "
              f"{sum(every) * 1000:.0f} ms in all; the longest run of each generation: "
              + (", ".join(f"{generation}: {seconds * 1000:.1f} ms" for generation, seconds in longest.items())
                 or "none") + ".")


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


def probe_batch(url: str) -> str:
    """A one-row OpenAI batch that never ends (lifecycle ``manual``), for the probe to poll."""
    import openai

    control(url, "lifecycle", {"spec": "manual", "next_batch": True})
    sdk = openai.OpenAI(base_url=f"{url}/openai/v1", api_key="local", max_retries=0)
    upload = sdk.files.create(file=("probe.jsonl", openai_input(["probe"])), purpose="batch")
    return sdk.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h").id


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
    with tempfile.TemporaryDirectory() as scratch:
        timings = Path(scratch) / "server-timings.json"
        with served(seed=args.seed, timings=timings) as server:
            if args.small_calls:
                small_calls(server, args.small_calls)
            if not args.clients:
                return 0
            control(server.url, "reset")
            control(server.url, "lifecycle", {"spec": args.lifecycle})
            code, window, probe_id = under_load(server, args)
        in_the_server(timings, window, probe_id)
    return code


if __name__ == "__main__":
    sys.exit(main())
