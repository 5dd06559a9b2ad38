"""Benchmark: building request lines for a nested response model, beside a json-dumps floor.

For each provider, in the same run, on the same prompts:

- floor: the provider's request lines written by hand around the response model's schema
  converted once (the SDK's own conversion, as the processor uses it), each line json-encoded
  (compact UTF-8, one shared encoder) and joined into the JSONL bytes, nothing else;
- processor: ``BatchProcessor(model, Invoice).build(prompts).to_bytes()``, from the prompt
  strings to the JSONL bytes (custom_ids generated, prompts normalized and kept for
  ``retry_failed``, the schema converted once per build);
- optionally (``--per-line N``), the way build() worked before: the schema converted for
  every line (``provider.request_line``), timed on N lines and given per line.

The two outputs are checked byte for byte before anything is timed. The response model is
an invoice: a list of nested line items, an optional nested address, a Literal and a date.
Interleaved repeats, best of each: a busy machine slows every case alike.

    python bench/bench_build.py                 # 50,000 lines, openai anthropic google
    python bench/bench_build.py --size 2000 --providers openai --per-line 200
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from pytest_batch.processor import BatchProcessor

MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-haiku-4-5",
          "google": "google/gemini-2.5-flash"}


class Address(BaseModel):
    street: str
    city: str
    postal_code: str | None = None
    country: str = Field(description="ISO 3166-1 alpha-2 code")


class LineItem(BaseModel):
    description: str
    quantity: int = Field(ge=1)
    unit_price: float
    tax_rate: Literal[0, 7, 19] = 19


class Invoice(BaseModel):
    """An invoice extracted from an e-mail or a scan."""

    number: str
    issued_on: datetime.date
    due_on: datetime.date | None = None
    currency: Literal["EUR", "USD", "GBP"]
    seller: str
    billing_address: Address | None = None
    items: list[LineItem]
    notes: list[str] = []


def prompts(size: int) -> list[str]:
    return [f"Rechnung Nr. {i:06d} vom {1 + i % 28:02d}.03.2026 — Müller & Söhne GmbH, Hauptstraße {i % 200}, "
            f"{10000 + i % 89999} Berlin. {1 + i % 9} × Schraube M{3 + i % 5} à {0.05 * (1 + i % 40):.2f} €, "
            f"1 × Versand 4,90 €. Zahlbar binnen 14 Tagen." for i in range(size)]


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def floor_lines(provider: str) -> Callable[[list[str]], bytes]:
    """The hand-written lines of ``provider``, the schema converted once."""
    model = MODELS[provider].partition("/")[2]
    if provider == "openai":
        from openai.lib._parsing._completions import type_to_response_format_param

        response_format = type_to_response_format_param(Invoice)

        def line(i: int, prompt: str) -> dict[str, Any]:
            return {"custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": model, "messages": [{"role": "user", "content": prompt}],
                             "response_format": response_format}}
    elif provider == "anthropic":
        from anthropic.lib._parse._transform import to_json_output_format

        output_config = {"format": to_json_output_format(Invoice)}

        def line(i: int, prompt: str) -> dict[str, Any]:
            return {"custom_id": f"request-{i}",
                    "params": {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}],
                               "output_config": output_config}}
    else:
        schema = Invoice.model_json_schema()

        def line(i: int, prompt: str) -> dict[str, Any]:
            return {"key": f"request-{i}",
                    "request": {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
                                "generationConfig": {"responseMimeType": "application/json",
                                                     "responseJsonSchema": schema}}}

    def build(texts: list[str]) -> bytes:
        return b"\n".join([_encode(line(i, text)).encode() for i, text in enumerate(texts, 1)]) + b"\n"

    return build


def processor_lines(provider: str) -> Callable[[list[str]], bytes]:
    bp = BatchProcessor(MODELS[provider], Invoice)

    def build(texts: list[str]) -> bytes:
        return bp.build(texts).to_bytes()

    return build


def per_line_schema(provider: str) -> Callable[[list[str]], bytes]:
    """build() as it was: the provider's schema conversion run again for every line."""
    bp = BatchProcessor(MODELS[provider], Invoice)

    def build(texts: list[str]) -> bytes:
        lines = [bp.provider.request_line(f"request-{i}", [{"role": "user", "content": text}], bp.model, Invoice,
                                          bp.options) for i, text in enumerate(texts, 1)]
        return b"\n".join([_encode(line).encode() for line in lines]) + b"\n"

    return build


def timed(fn: Callable[[list[str]], bytes], texts: list[str]) -> tuple[float, bytes]:
    gc.collect()
    start = time.perf_counter()
    data = fn(texts)
    return time.perf_counter() - start, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=50_000, help="request lines per build (default 50,000)")
    parser.add_argument("--providers", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-line", type=int, default=0, metavar="N",
                        help="also time the schema converted per line, on N lines (0: skip)")
    args = parser.parse_args()
    texts = prompts(args.size)
    rows = []
    for provider in args.providers:
        floor, processor = floor_lines(provider), processor_lines(provider)
        expected = floor(texts)
        if processor(texts) != expected:
            raise SystemExit(f"{provider}: the processor's lines differ from the floor's; fix the floor first")
        best = {"floor": float("inf"), "processor": float("inf")}
        for _ in range(args.repeat):
            for name, fn in (("floor", floor), ("processor", processor)):
                seconds, _ = timed(fn, texts)
                best[name] = min(best[name], seconds)
        row = [provider, f"{args.size:,}", f"{len(expected) / 1e6:.1f}", f"{best['floor']:.2f}",
               f"{best['processor']:.2f}", f"{best['processor'] / best['floor']:.2f}x"]
        if args.per_line:
            subset = texts[:args.per_line]
            seconds, data = timed(per_line_schema(provider), subset)
            assert data == floor(subset), provider
            row.append(f"{seconds / len(subset) * args.size:.1f} (from {len(subset):,} lines)")
        rows.append(row)
    header = ["provider", "lines", "JSONL MB", "floor (s)", "build() (s)", "× floor"]
    if args.per_line:
        header.append(f"schema per line, for {args.size:,} lines (s)")
    print("| " + " | ".join(header) + " |")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|" if args.per_line else ""))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
