"""One batch's whole round trip through the SDK, with the emulator of a given checkout: to compare
two checkouts side by side (this one against a baseline worktree) with farm-bench.

    python bench/roundtrip.py REPO N {openai,anthropic} [--loopback]

REPO is the checkout whose ``pytest_batch`` serves (``.`` for this one); N requests, each asking
for a JSON schema. In process (the SDK over the emulator's transport) or, with ``--loopback``,
against that checkout's ``pytest-batch serve`` on 127.0.0.1 (bench/served.py, lifecycle
``immediate``; OpenAI only), after a one-request round trip that pays for first use. Prints the
round trip's seconds (upload or create, retrieve, download), which farm-bench keeps when the
command is written ``sh -c 'exec ... >>FILE'``::

    farm-bench -n 6 --timeout 900 \\
        --vs "sh -c 'exec python bench/roundtrip.py ../baseline 50000 openai --loopback >>/tmp/base.txt'" \\
        -- sh -c 'exec python bench/roundtrip.py . 50000 openai --loopback >>/tmp/this.txt'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def openai_round_trip(client, n: int) -> None:
    lines = "".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Hi, I am user {i}."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "User", "strict": True,
                                                                   "schema": SCHEMA}}}}) + "\n"
                    for i in range(n)).encode()
    upload = client.files.create(file=("input.jsonl", lines), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed", batch.status
    assert client.files.content(batch.output_file_id).content.count(b"\n") == n


def anthropic_round_trip(client, n: int) -> None:
    requests = [{"custom_id": f"r{i}", "params": {
        "model": "claude-haiku-4-5", "max_tokens": 256,
        "messages": [{"role": "user", "content": f"Hi, I am user {i}."}],
        "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}} for i in range(n)]
    batch = client.messages.batches.create(requests=requests)
    batch = client.messages.batches.retrieve(batch.id)
    assert batch.processing_status == "ended", batch.processing_status
    assert sum(1 for _ in client.messages.batches.results(batch.id)) == n


def main() -> int:
    parser = argparse.ArgumentParser(description="One batch's round trip through the SDK, with a given checkout.")
    parser.add_argument("repo", type=Path, help="the checkout whose pytest_batch serves")
    parser.add_argument("n", type=int, help="requests in the batch")
    parser.add_argument("provider", choices=("openai", "anthropic"))
    parser.add_argument("--loopback", action="store_true", help="against that checkout's pytest-batch serve")
    args = parser.parse_args()
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    if args.loopback:
        if args.provider != "openai":
            parser.error("--loopback runs the OpenAI round trip only")
        sys.path.insert(0, str(repo / "bench"))
        import openai
        from served import served

        with served(lifecycle="immediate") as server:
            client = openai.OpenAI(base_url=f"{server.url}/openai/v1", api_key="local", max_retries=0, timeout=600)
            openai_round_trip(client, 1)  # first use: lazy imports on both sides
            started = time.perf_counter()
            openai_round_trip(client, args.n)
            seconds = time.perf_counter() - started
    else:
        from pytest_batch.sim import Emulator

        emulator = Emulator()
        client, round_trip = ((emulator.openai_client(), openai_round_trip) if args.provider == "openai"
                              else (emulator.anthropic_client(), anthropic_round_trip))
        round_trip(client, 1)  # first use: lazy imports on both sides
        started = time.perf_counter()
        round_trip(client, args.n)
        seconds = time.perf_counter() - started
    where = "over loopback" if args.loopback else "in process"
    print(f"{repo.name} {args.provider} {args.n:,} requests {where}: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
