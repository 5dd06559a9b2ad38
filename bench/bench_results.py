"""Benchmark: parsing an OpenAI batch output file into models.

Generates the output JSONL of an N-request /v1/chat/completions batch (rows shaped like the
emulator's and the real API's, wire-formats.md A.5) in a temporary directory, then
measures, on the same file in the same run:

- floor: ``json.loads`` of each line and ``User.model_validate_json`` of its content, nothing else;
- processor: ``BatchResults`` over the OpenAI provider's ``parse_row`` (refusal/truncation
  checks, usage, missing-row tracking against the submitted custom_ids);
- optionally (``--sdk``), ``BatchProcessor.results()`` end to end: the openai SDK streaming
  the file from the in-process emulator.

Throughput runs without tracemalloc; peak memory is measured in a separate pass.

    python bench/bench_results.py                 # 10,000 and 50,000 rows
    python bench/bench_results.py --sizes 50000 --sdk
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from pytest_batch.models import BatchResults
from pytest_batch.providers.openai import parse_row
from pytest_batch.seed import EXPECTED_USERS, User


def write_output_file(path: Path, size: int) -> list[str]:
    ids = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(1, size + 1):
            user = EXPECTED_USERS[i % len(EXPECTED_USERS)]
            custom_id = f"request-{i}"
            ids.append(custom_id)
            content = json.dumps({"name": user.name, "age": user.age}, separators=(",", ":"))
            body = {
                "id": f"chatcmpl-{i:024d}", "object": "chat.completion", "created": 1767225600,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                     "annotations": []},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 25, "completion_tokens": 9, "total_tokens": 34,
                          "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                        "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0}},
                "service_tier": "batch", "system_fingerprint": "fp_bench"}
            row = {"id": f"batch_req_{i:032x}", "custom_id": custom_id,
                   "response": {"status_code": 200, "request_id": f"{i:032x}", "body": body}, "error": None}
            out.write(json.dumps(row, separators=(",", ":")))
            out.write("\n")
    return ids


def floor(path: Path) -> int:
    loads, validate = json.loads, User.model_validate_json
    count = 0
    with path.open("rb") as lines:
        for line in lines:
            row = loads(line)
            validate(row["response"]["body"]["choices"][0]["message"]["content"])
            count += 1
    return count


def processor(path: Path, ids: list[str] | None) -> int:
    def source():
        loads = json.loads
        with path.open("rb") as lines:
            for line in lines:
                yield parse_row(loads(line), User)

    results = BatchResults(source, custom_ids=ids)
    count = 0
    for item in results:
        assert item.ok
        count += 1
    assert results.usage.output_tokens == 9 * count
    return count


def sdk_end_to_end(size: int) -> Callable[[], int]:
    """BatchProcessor.results() through the openai SDK, streaming from the in-process emulator."""
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.sim import Emulator

    emulator = Emulator(expectations=[{"match": "Alice", "response": {"name": "Alice", "age": 28}}])
    bp = BatchProcessor("openai/gpt-4o-mini", User, client=emulator.openai_client(), sleep=lambda s: None)
    job = bp.wait(bp.submit([f"Alice is 28 (row {i})" for i in range(size)]))

    def run() -> int:
        return sum(1 for item in bp.results(job) if item.ok)

    return run


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - start)
    return best, count


def peak_memory(fn: Callable[[], int]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sdk", action="store_true", help="also time BatchProcessor.results() via the SDK")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"output_{size}.jsonl"
            ids = write_output_file(path, size)
            mb = path.stat().st_size / 1e6
            cases: list[tuple[str, Callable[[], int]]] = [("floor (json.loads + model_validate_json)",
                                                            lambda: floor(path)),
                                                           ("processor (BatchResults + parse_row), job known by id",
                                                            lambda: processor(path, None)),
                                                           ("processor, + missing-row check vs submitted ids",
                                                            lambda: processor(path, ids))]
            if args.sdk:
                cases.append(("processor.results() via openai SDK + emulator", sdk_end_to_end(size)))
            # interleaved repeats, best of each: a busy machine slows every case alike
            best = {name: float("inf") for name, _ in cases}
            for _ in range(args.repeat):
                for name, fn in cases:
                    seconds, count = timed(fn, 1)
                    assert count == size, (name, count)
                    best[name] = min(best[name], seconds)
            floor_seconds = best[cases[0][0]]
            for name, fn in cases:
                seconds = best[name]
                rows.append((size, f"{mb:.1f}", name, f"{size / seconds:,.0f}", f"{seconds / floor_seconds:.2f}x",
                             f"{peak_memory(fn) / 1e6:.2f}"))
    print("| rows | file MB | parser | lines/s | vs floor | peak MB (tracemalloc) |")
    print("|---:|---:|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


if __name__ == "__main__":
    main()
