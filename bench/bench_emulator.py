"""How much the emulator costs on big batches, beside the floor measured in the same run.

    python bench/bench_emulator.py [--openai 50000] [--anthropic 100000] [--no-loopback]

Each scenario runs in its own subprocess (so peak memory is its own), twice: once timed,
once under tracemalloc for peak Python memory.

- with the SDKs: the wall time of the whole run, the real SDK driving the emulator in
  process. OpenAI uploads the JSONL, creates the batch, polls it to completion and streams
  the output file; Anthropic creates the batch with ``client.messages.batches.create()``
  (the SDK's own request transform over every request included), polls it and streams the
  results JSONL. Both download raw bytes, so the SDK's own per-row model parsing is left out.
  "x floor" is this wall time over the floor's.
- over loopback: the same OpenAI run against ``pytest-batch serve`` in another process
  (bench/served.py), every byte through a real socket on 127.0.0.1: the emulator's share
  and memory are the server's, so only the wall time is given.
- inside the emulator: the part of that wall time spent in the emulator (answering calls,
  streaming bodies).
- floor: just json-parsing the input lines and json-serialising the output lines the
  emulator produced (the rows are decoded before the clock starts).

Peak memory counts what a run allocates beyond its prepared input: for the emulator run,
the emulator's state, the SDK's buffers and the downloaded output; for the floor, the input
and output held as bytes plus the parse.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc

PROMPT = "Hi there! My name is Alice and I'm 28 years old. I work as a software engineer. #{i}"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def openai_input(n: int) -> bytes:
    return "".join(json.dumps({
        "custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT.format(i=i)}],
                 "response_format": {"type": "json_schema",
                                     "json_schema": {"name": "User", "strict": True, "schema": SCHEMA}}},
    }) + "\n" for i in range(n)).encode()


def anthropic_requests(n: int) -> list[dict]:
    return [{"custom_id": f"request-{i}",
             "params": {"model": "claude-3-5-sonnet-20241022", "max_tokens": 256,
                        "messages": [{"role": "user", "content": PROMPT.format(i=i)}],
                        "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}}
            for i in range(n)]


_BASELINE = [0]
_INSIDE = [0.0]


def _timed(emulator):
    """Count the seconds spent inside the emulator: answering calls and streaming bodies."""
    handle = emulator.handle

    def timed_handle(request):
        start = time.perf_counter()
        response = handle(request)
        _INSIDE[0] += time.perf_counter() - start
        if not isinstance(response.body, bytes | bytearray):
            chunks = response.body

            def timed_chunks():
                iterator = iter(chunks)
                while True:
                    start = time.perf_counter()
                    chunk = next(iterator, None)
                    _INSIDE[0] += time.perf_counter() - start
                    if chunk is None:
                        return
                    yield chunk

            response.body = timed_chunks()
        return response

    emulator.handle = timed_handle
    return emulator


def _baseline() -> None:
    """Under tracemalloc: count only what the run allocates beyond its prepared input."""
    if tracemalloc.is_tracing():
        _BASELINE[0] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()


def run_openai(n: int, warm: bool = True, url: str | None = None) -> tuple[bytes, bytes, float]:
    """The OpenAI run, in process, or against the server at ``url`` when given."""
    from pytest_batch.sim import Emulator

    if warm:  # import the SDK's lazily loaded modules outside the clock
        run_openai(10, warm=False, url=url)
    if url is None:
        client = _timed(Emulator()).openai_client()
    else:
        import openai

        client = openai.OpenAI(base_url=f"{url}/openai/v1", api_key="local", max_retries=0, timeout=600)
    content = openai_input(n)
    _baseline()
    _INSIDE[0] = 0.0
    start = time.perf_counter()
    upload = client.files.create(file=("big.jsonl", content), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    while batch.status not in ("completed", "failed"):
        batch = client.batches.retrieve(batch.id)
    assert batch.request_counts.completed == n, batch
    with client.files.with_streaming_response.content(batch.output_file_id) as response:
        output = b"".join(response.iter_bytes())
    return content, output, time.perf_counter() - start


def run_anthropic(n: int, warm: bool = True) -> tuple[bytes, bytes, float]:
    from pytest_batch.sim import Emulator

    if warm:
        run_anthropic(10, warm=False)
    emulator = _timed(Emulator())
    client = emulator.anthropic_client()
    requests = anthropic_requests(n)
    body = json.dumps({"requests": requests}).encode()  # what the floor parses
    _baseline()
    _INSIDE[0] = 0.0
    start = time.perf_counter()
    batch = client.messages.batches.create(requests=requests)
    while batch.processing_status != "ended":
        batch = client.messages.batches.retrieve(batch.id)
    assert batch.request_counts.succeeded == n, batch
    with client.messages.batches.with_streaming_response.results(batch.id) as response:
        output = b"".join(response.iter_bytes())
    return body, output, time.perf_counter() - start


def floor(kind: str, n: int) -> float:
    """json-parse the input lines, json-serialise the output lines: nothing else."""
    content, output, _ = (run_openai if kind == "openai" else run_anthropic)(n)
    rows = [json.loads(line) for line in output.splitlines()]
    start = time.perf_counter()
    if kind == "openai":
        for line in content.splitlines():
            json.loads(line)
    else:
        json.loads(content)
    for row in rows:
        json.dumps(row)
    return time.perf_counter() - start


def child(kind: str, n: int, what: str, traced: bool) -> None:
    if traced:
        tracemalloc.start()
    if what == "floor":
        seconds = floor(kind, n)
        if traced:  # the floor's memory: the input and output held as bytes, plus the parse
            tracemalloc.reset_peak()
            content, output, _ = (run_openai if kind == "openai" else run_anthropic)(n)
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            [json.loads(line) for line in content.splitlines()] if kind == "openai" else json.loads(content)
            for line in output.splitlines():
                json.dumps(json.loads(line))
            peak = tracemalloc.get_traced_memory()[1] - base + len(content) + len(output)
            print(json.dumps({"peak": peak, "input_bytes": len(content), "output_bytes": len(output)}))
            return
    elif what == "loopback":
        from served import served

        with served() as server:
            content, output, seconds = run_openai(n, url=server.url)
        print(json.dumps({"seconds": seconds}))
        return
    else:
        content, output, seconds = (run_openai if kind == "openai" else run_anthropic)(n)
    result = {"seconds": seconds, "inside": _INSIDE[0]}
    if traced:
        result["peak"] = tracemalloc.get_traced_memory()[1] - _BASELINE[0]
    print(json.dumps(result))


def measure(kind: str, n: int, what: str) -> dict:
    """Seconds from an untraced run; peak memory from a second run under tracemalloc."""
    runs = []
    for traced in (False,) if what == "loopback" else (False, True):
        proc = subprocess.run([sys.executable, __file__, "--child", kind, str(n), what, str(int(traced))],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if len(runs) == 1:
        return runs[0]
    timed, traced_run = runs
    traced_run.pop("seconds", None)
    traced_run.pop("inside", None)
    return {**timed, **traced_run}


def main() -> None:
    parser = argparse.ArgumentParser(description="Time and measure the emulator on big batches driven by the "
                                     "real SDKs, beside a json-only floor.")
    parser.add_argument("--openai", type=int, default=50_000, help="OpenAI requests (default 50,000, the limit)")
    parser.add_argument("--anthropic", type=int, default=100_000,
                        help="Anthropic requests (default 100,000, the limit)")
    parser.add_argument("--no-loopback", action="store_true",
                        help="skip the OpenAI run against `pytest-batch serve` over loopback")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, what, traced = args.child
        child(kind, int(n), what, traced == "1")
        return
    print("| batch | floor (s) | with the SDKs (s) | × floor | inside the emulator (s) | floor peak MB "
          "| emulator peak MB | input MB | output MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, n in (("openai", args.openai), ("anthropic", args.anthropic)):
        base = measure(kind, n, "floor")
        emu = measure(kind, n, "emulator")
        mb = 1024 * 1024
        print(f"| {kind} {n:,} requests | {base['seconds']:.2f} | {emu['seconds']:.2f} | "
              f"{emu['seconds'] / base['seconds']:.1f} | {emu['inside']:.2f} | {base['peak'] / mb:.0f} | "
              f"{emu['peak'] / mb:.0f} | {base['input_bytes'] / mb:.1f} | {base['output_bytes'] / mb:.1f} |",
              flush=True)
        if kind == "openai" and not args.no_loopback:
            served = measure(kind, n, "loopback")
            print(f"| {kind} {n:,} requests, over loopback | {base['seconds']:.2f} | {served['seconds']:.2f} | "
                  f"{served['seconds'] / base['seconds']:.1f} | — | {base['peak'] / mb:.0f} | — | "
                  f"{base['input_bytes'] / mb:.1f} | {base['output_bytes'] / mb:.1f} |", flush=True)

if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    main()
