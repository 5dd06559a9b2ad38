"""``pytest-batch verify``: measure how far the emulator is from the live APIs.

``--cassettes DIR`` replays every recorded exchange through a fresh emulator; ``--live`` runs
a tiny probe batch per provider against the live API (or ``--base-url``) and replays it the
same way. What is compared: pytest_batch/verify/shapes.py. Exit codes: ``EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "compare the emulator with recorded cassettes (--cassettes DIR) or the live APIs (--live)"

DESCRIPTION = """\
Measure the emulator against real traffic.

--cassettes DIR   replay every cassette under DIR (a file works too) through a fresh emulator,
                  in order, mapping the ids it issues to the recorded ones and answering each
                  recorded poll in the state it shows (validating, in_progress, ended, a cancel
                  still under way, ...). A YAML file there that is no cassette is skipped.
--live            run a tiny probe batch per provider (1 or 2 requests, max_tokens 16, the cheapest
                  model, refused above --max-cost, cancelled if still running at --timeout) against
                  the live API or --base-url, with the provider's key from its usual environment
                  variable, and compare each answer with the emulator's for the same call.

Compared: HTTP status, body kind, every key path with its JSON type, enumerated values (object
types, statuses, states, error codes, stop reasons, roles) and the headers the SDKs read
(content-type, retry-after, x-should-retry, request ids, Gemini upload headers). Not compared:
ids, timestamps, token counts and texts (by type only).
"""

EXIT_CODES = """\
exit codes: 0 no drift in everything compared, 1 drift, 2 not compared: bad usage, or a recording
  or probe that could not be compared (a cassette cut short, an unreachable --base-url, a probe
  refused by --max-cost). A YAML file under --cassettes DIR that is not a cassette (no top-level
  `interactions:`, e.g. an answers file) is skipped with a note.
"""


def add_parser(sub: Any, parents: list[argparse.ArgumentParser], formatter: Any) -> argparse.ArgumentParser:
    """Register ``verify`` on the CLI's subparsers (``parents``: the --json option)."""
    verify = sub.add_parser("verify", help=HELP, description=DESCRIPTION, epilog=EXIT_CODES,
                            parents=parents, formatter_class=formatter)
    verify.set_defaults(handler=cmd_verify)
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument("--cassettes", metavar="DIR", help="a cassette directory (searched recursively) or file")
    source.add_argument("--live", action="store_true", help="probe the live APIs (needs keys; costs a few tokens)")
    live = verify.add_argument_group("with --live")
    live.add_argument("--provider", choices=("openai", "anthropic", "google", "all"), default="all",
                      help="which provider to probe (default: every provider whose key is set)")
    live.add_argument("--base-url", metavar="URL",
                      help="probe this server instead of the live API (a `pytest-batch serve` root works)")
    live.add_argument("--requests", type=int, choices=(1, 2), default=1, help="requests in the probe batch (1 or 2)")
    live.add_argument("--probe-model", metavar="PROVIDER/MODEL", action="append",
                      help="the model to probe on its provider (default: each provider's cheapest); once per "
                           "provider, e.g. openai/gpt-6-sol (a bare name works with one --provider)")
    live.add_argument("--max-cost", type=float, default=0.01, metavar="USD",
                      help="refuse a probe whose worst case could cost more (default 0.01)")
    live.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                      help="cancel the probe batch if it is still running after this long (default 600)")
    live.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                      help="seconds between polls (default 10)")
    return verify


def cmd_verify(args: argparse.Namespace) -> int:
    from ..verify.report import as_json, as_text, exit_code

    skipped: list[str] = []
    replays, errors = _cassette_replays(args, skipped) if args.cassettes else _live_replays(args)
    if args.json:
        print(json.dumps(as_json(replays, errors, skipped), indent=2))
    else:
        print(as_text(replays, errors, skipped))
    return exit_code(replays, errors)


def _cassette_replays(args: argparse.Namespace, skipped: list[str]) -> tuple[list[Any], list[str]]:
    """The cassettes under --cassettes, replayed; what could not be read goes to the errors, a YAML
    file that is plainly no cassette (given inside a directory) to ``skipped``."""
    from ..verify.replay import NotACassette, RecordingError, find_cassettes, replay_cassette
    from .target import CLIError

    root = Path(args.cassettes)
    if not root.exists():
        raise CLIError(f"--cassettes {args.cassettes}: no such file or directory; expected the directory your "
                       "cassettes are recorded in (e.g. tests/cassettes)", code=2)
    paths = find_cassettes(root)
    if not paths:
        raise CLIError(f"--cassettes {args.cassettes}: no .yaml cassette found there; record some with "
                       "`pytest --batch-mode=record` first", code=2)
    replays, errors = [], []
    for path in paths:
        try:
            replays.append(replay_cassette(path))
        except NotACassette as exc:
            (skipped if root.is_dir() else errors).append(str(exc))
        except RecordingError as exc:
            errors.append(str(exc))
    return replays, errors


def _live_replays(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    from ..endpoints import API_KEY_ENV
    from ..verify.live import PROBES, ProbeError, ProbeOptions, probe
    from .target import CLIError, api_key, provider_base_url

    # Azure is not probed: its batches are OpenAI's, on a deployment of the user's own naming
    wanted = tuple(PROBES) if args.provider == "all" else (args.provider,)
    keys = {p: api_key(p) for p in wanted}
    if not any(keys.values()) or (args.provider != "all" and not keys[args.provider]):
        names = " / ".join(API_KEY_ENV[p][0] for p in wanted)
        raise CLIError(f"verify --live needs a key: set {names} (the probe costs a few tokens; "
                       "`verify --cassettes DIR` compares recorded traffic offline)", code=2)
    for name, value in (("--timeout", args.timeout), ("--interval", args.interval), ("--max-cost", args.max_cost)):
        if not value > 0:
            raise CLIError(f"{name} must be more than 0, got {value}", code=2)
    models = _probe_models(args.probe_model or [], args.provider, wanted)
    from . import commands

    replays, errors = [], []
    for provider in wanted:
        if not keys[provider]:
            print(f"ℹ️  {provider}: no {API_KEY_ENV[provider][0]}, not probed", file=sys.stderr)
            continue
        base = provider_base_url(provider, args.base_url) if args.base_url else _default_base(provider)
        try:
            options = ProbeOptions(requests=args.requests, model=models.get(provider), max_cost=args.max_cost,
                                   timeout=args.timeout, interval=args.interval)
            replays.append(probe(provider, base, keys[provider], options, clock=commands.clock,
                                 sleep=commands.sleep))
        except ProbeError as exc:
            errors.append(f"{provider}: {exc}")
    return replays, errors


def _probe_models(given: list[str], chosen: str, wanted: tuple[str, ...]) -> dict[str, str]:
    """``{provider: model}`` from the --probe-model options (bad usage, exit 2, when one cannot apply)."""
    from .target import CLIError

    models: dict[str, str] = {}
    for text in given:
        provider, slash, model = text.partition("/")
        if not slash:
            if chosen == "all":
                raise CLIError(f"--probe-model {text}: name its provider (e.g. openai/{text}): every provider "
                               "whose key is set is probed, each on a model of its own", code=2)
            provider, model = chosen, text
        if provider not in wanted or not model:
            raise CLIError(f"--probe-model {text}: expected PROVIDER/MODEL for a provider probed here "
                           f"({', '.join(wanted)}), as `pytest-batch list-models` prints them", code=2)
        if provider in models:
            raise CLIError(f"--probe-model: two models for {provider} ({models[provider]}, {model}); "
                           "give one per provider", code=2)
        models[provider] = model
    return models


def _default_base(provider: str) -> str:
    from ..verify.live import DEFAULT_BASES

    return DEFAULT_BASES[provider]
