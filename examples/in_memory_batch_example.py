"""The ten-user extraction on OpenAI, Anthropic and Gemini, offline.

Builds the batch in memory (nothing is written to disk), submits it to each provider's
batch API through the official SDKs, served by pytest-batch's in-process emulator, waits,
and prints the extracted users in input order.

    python examples/in_memory_batch_example.py

To run against the real APIs, drop ``client=`` and set OPENAI_API_KEY, ANTHROPIC_API_KEY
and GOOGLE_API_KEY.
"""

from __future__ import annotations

from pytest_batch import BatchProcessor, Emulator
from pytest_batch.model_catalog import DEFAULT_MODELS
from pytest_batch.seed import SEED_PROMPTS, User, seed_expectations

#: each provider's default model, the cheapest current one (``pytest-batch list-models``)
MODELS = tuple(DEFAULT_MODELS[provider] for provider in ("openai", "anthropic", "google"))


def main() -> None:
    emulator = Emulator(expectations=seed_expectations(), lifecycle="polls:2", shuffle_results=True)
    clients = {"openai": emulator.openai_client(), "anthropic": emulator.anthropic_client(),
               "google": emulator.google_client()}
    for model in MODELS:
        provider = model.partition("/")[0]
        bp = BatchProcessor(model, response_model=User, client=clients[provider], sleep=lambda seconds: None)
        requests = bp.build(list(SEED_PROMPTS))  # in memory: requests.to_bytes() is the JSONL
        job = bp.wait(bp.submit(requests))
        results = bp.results(job)
        print(f"{model}: batch {job.id} {job.status.value}, {job.counts.succeeded}/{job.counts.total} succeeded")
        for item in results.in_input_order():
            if item.ok:
                print(f"  {item.custom_id}: {item.value.name}, {item.value.age}")
            else:
                print(f"  {item.custom_id}: {item.kind.value}: {item.message}")
        cost = results.estimated_cost
        print(f"  usage: {results.usage.input_tokens} in / {results.usage.output_tokens} out tokens"
              + (f", about ${cost:.6f} at batch prices" if cost is not None else ""))


if __name__ == "__main__":
    main()
