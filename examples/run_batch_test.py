"""Create the ten-prompt User extraction batch on any provider, and return at once.

    python examples/run_batch_test.py create --model openai/gpt-4o-mini
    python examples/run_batch_test.py create --model anthropic/claude-3-5-sonnet-20241022
    python examples/run_batch_test.py create --model google/gemini-2.0-flash-001
    python examples/run_batch_test.py list-models

With the provider's key set (OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_API_KEY) the batch
goes to the live API; with --base-url or the exports `pytest-batch serve` prints, to that
server. Without either, or with --simulate / PYTEST_BATCH_SIMULATE=1, it goes to
the offline emulator whose state lives in ./.pytest-batch (shared with the CLI), so you can
follow it with:

    pytest-batch status --simulate --model openai/gpt-4o-mini --batch-id "$(cat openai_batch_id.txt)" --wait
    pytest-batch results --simulate --model openai/gpt-4o-mini --batch-id "$(cat openai_batch_id.txt)" \
        --output-file results.jsonl --response-model pytest_batch.seed:User

The batch id is saved in ``{provider}_batch_id.txt``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

try:
    import pytest_batch  # noqa: F401
except ImportError:  # running from a clone without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_batch.cli.output import error_line, unreachable
from pytest_batch.endpoints import BASE_URL_ENV
from pytest_batch.cli.target import (
    CLIError,
    api_key,
    parse_model,
    resolve_target,
)
from pytest_batch.cli.state import simulated_state


def create(model: str, *, simulate: bool | None, state_dir: str | None, base_url: str | None) -> int:
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS, User

    provider, _ = parse_model(model)
    configured_url = base_url or os.environ.get(BASE_URL_ENV[provider])
    if not simulate and not configured_url and api_key(provider) is None:
        print(f"No API key for {provider}: using the offline emulator (pass a key for the live API).")
        simulate = True
    target = resolve_target(provider, simulate=simulate, base_url=base_url, state_dir=state_dir)
    with simulated_state(target):
        processor = BatchProcessor(model, response_model=User, client=target.client())
        try:
            job = processor.submit(list(SEED_PROMPTS))
        except Exception as exc:
            failure = unreachable(exc, target)
            if failure is None:
                raise
            raise failure from None
    id_file = Path(f"{provider}_batch_id.txt")
    id_file.write_text(job.id + "\n", encoding="utf-8")
    print(f"✅ Created {provider} batch {job.id} with {len(SEED_PROMPTS)} requests ({target.describe()})")
    print(f"   batch id saved to {id_file}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the seed's ten-prompt User extraction batch.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("create", help="create the batch and save its id to {provider}_batch_id.txt")
    make.add_argument("--model", required=True, help="provider/model-name, e.g. openai/gpt-4o-mini")
    make.add_argument("--simulate", action="store_true", default=None, help="use the offline emulator")
    make.add_argument("--state-dir", help="the emulator's state directory (default ./.pytest-batch)")
    make.add_argument("--base-url", help="a server such as `pytest-batch serve`")
    sub.add_parser("list-models", help="list the supported models")
    args = parser.parse_args(argv)
    if args.command == "list-models":
        from pytest_batch.cli import main as cli_main

        return cli_main(["list-models"])
    try:
        return create(args.model, simulate=args.simulate, state_dir=args.state_dir, base_url=args.base_url)
    except Exception as exc:  # noqa: BLE001 - one line, like the CLI
        line, code = error_line(exc, None)
        print(line, file=sys.stderr)
        return code if isinstance(exc, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
