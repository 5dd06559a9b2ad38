"""The ``pytest-batch`` command line: create, submit, watch and collect batch jobs on
OpenAI, Anthropic, Gemini and Azure OpenAI, live, against ``pytest-batch serve``, or simulated offline.

Only the standard library is imported at module level: ``pytest-batch --help`` needs no
SDK, no key and no network. The commands live in ``commands``;
helpers in ``target`` (where requests go), ``state`` (the signed simulated state), ``inputs``
(messages files, response models) and ``output`` (tables, JSON, errors).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..model_catalog import DEFAULT_MODELS
from .commands import (
    cmd_cancel,
    cmd_create,
    cmd_delete,
    cmd_demo,
    cmd_list,
    cmd_list_models,
    cmd_results,
    cmd_status,
    cmd_submit,
)

DESCRIPTION = """\
Create, watch and collect LLM batch jobs (OpenAI Batch, Anthropic Message Batches,
Gemini batch mode, Azure OpenAI global batch) through one interface.

Where requests go:
  live API            the default; needs OPENAI_API_KEY / ANTHROPIC_API_KEY / GOOGLE_API_KEY,
                      or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (azure/<deployment>)
  --base-url URL      any server, e.g. `pytest-batch serve`: give its root URL or one of the
                      per-provider base URLs it prints (for OpenAI a custom base must end in /v1)
  --simulate          an in-process emulator (or PYTEST_BATCH_SIMULATE=1) whose state persists
                      in --state-dir (default ./.pytest-batch, or PYTEST_BATCH_STATE_DIR), so
                      create -> status -> results works across invocations without keys or network.
                      Simulation exercises the pipeline, not a model: the seed's ten prompts
                      answer with their expected users, --responses FILE sets other answers,
                      everything else gets schema-valid synthetic answers.
                      --responses and --lifecycle are saved in the state: later commands keep them.
                      Only `create` and `submit` start a state; the others report that there is none.
                      Each new state draws a random seed, so ids differ between directories.
                      The state is a pickle (loading it runs code): it is signed with a key of yours
                      (~/.config/pytest-batch/state.key), and a state file that is unsigned, owned by
                      another user or writable by others is refused, never loaded.
"""

EPILOG = """\
exit codes: 0 ok (status: completed or still running), 1 error, 2 bad usage (a missing or
  malformed --model, a --response-model that cannot be imported too), 3 batch failed (or
  completed with no request succeeded, as Anthropic and Gemini batches whose every request
  errored do), 4 batch expired, 5 batch cancelled, 6 `status --wait` timed out,
  130 interrupted. `results` writes what came back and exits with the batch's code (3, 4, 5)
  when it did not complete, saying how many requests never ran or were not returned. `demo` exits 1
  when any provider's results differ from the expected users. `verify` has its own: 0 no drift,
  1 drift, 2 not compared (see `pytest-batch verify --help`).

Start here: `pytest-batch demo` runs the ten-user extraction on every provider, offline.
"""

COMMANDS_HELP = {
    "create": "build a batch from a messages file and submit it (or only write the request file)",
    "create-from-file": "submit a provider request file written by `create --output-file` (alias: submit)",
    "list": "list recent batches: id, status, created, progress, model",
    "status": "show one batch's status; --wait follows it to the end with a progress bar",
    "results": "download a finished batch's results to a JSONL file",
    "cancel": "cancel a batch",
    "delete": "delete a batch (Anthropic, Gemini; OpenAI and Azure OpenAI batches cannot be deleted)",
    "list-models": "list the supported providers and models",
    "serve": "run the emulator of the three batch APIs as an HTTP server on this machine",
    "demo": "extract the seed's ten users on every provider with the in-process emulator "
            "(simulated answers: it exercises the pipeline, not a model)",
}

BATCH_ID_HELP = "the id `create` printed (batch_..., msgbatch_..., batches/...)"

# --------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as the CLI reports every error: one line (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"❌ Error: {message} (see `{self.prog} --help`)\n")


def _positive(kind: Callable[[str], float | int], what: str) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)`` that must be > 0 (argparse turns the error into one line, exit 2)."""

    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value > 0:  # also rejects nan
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
        return value

    convert.__name__ = what  # argparse names the type in some messages
    return convert


_SECONDS = _positive(float, "a number of seconds")


def _temperature(text: str) -> float:
    """--temperature: a number from 0 to 2 (OpenAI's and Gemini's range; Anthropic's is 0 to 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 2, got {text!r}") from None
    if not 0 <= value <= 2:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be from 0 to 2, got {text!r}")
    return value


_temperature.__name__ = "a temperature"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (SDK-free)."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="pytest-batch", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=formatter)
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"pytest-batch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")

    target = _Parser(add_help=False)
    group = target.add_argument_group("model and target")
    group.add_argument("--model", metavar="PROVIDER/MODEL",
                       help="required: e.g. " + ", ".join(DEFAULT_MODELS[p] for p in ("openai", "anthropic", "google"))
                       + ", azure/<Global-Batch deployment> (see list-models)")
    group.add_argument("--simulate", action="store_true", default=None,
                       help="use the offline emulator (also PYTEST_BATCH_SIMULATE=1); simulates the API, not a model")
    group.add_argument("--state-dir", metavar="DIR",
                       help="where --simulate keeps its state (default ./.pytest-batch or PYTEST_BATCH_STATE_DIR); "
                            "a signed pickle: one you did not write is refused. create also records there the "
                            "model of each batch it makes, which list and status show")
    group.add_argument("--base-url", metavar="URL",
                       help="send requests to this server, e.g. the root URL `pytest-batch serve` prints")
    group.add_argument("--responses", metavar="FILE",
                       help="with --simulate: an expectations file (JSONL/JSON/YAML) setting the answers; saved in "
                            "the state, so later commands keep it")
    group.add_argument("--lifecycle", metavar="SPEC",
                       help="with --simulate: immediate, polls:N, seconds:S or manual (default polls:2); saved in "
                            "the state, so later commands keep it")

    def add(name: str, *, aliases: Sequence[str] = (), parents: Sequence[argparse.ArgumentParser] = (),
            handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        command = sub.add_parser(name, aliases=list(aliases), help=COMMANDS_HELP[name],
                                 description=COMMANDS_HELP[name], parents=list(parents), formatter_class=formatter)
        command.set_defaults(handler=handler)
        return command

    both = (target, output)
    create = add("create", parents=both, handler=cmd_create)
    create.add_argument("--messages-file", required=True, metavar="FILE",
                        help='JSONL: each line a string prompt, {"prompt": ...}, {"messages": [...]} (objects take '
                             'an optional "custom_id") or a list of messages (Instructor\'s format)')
    create.add_argument("--response-model", metavar="MODULE:CLASS",
                        help="pydantic model to extract (default pytest_batch.seed:User; module.Class works too; "
                             "the current directory is importable)")
    create.add_argument("--output-file", metavar="FILE",
                        help="only write the provider's request file here (- for stdout; submit it with "
                             "create-from-file); without it the batch is submitted straight from memory")
    create.add_argument("--max-tokens", type=_positive(int, "a whole number"), metavar="N",
                        help="the answer's token limit in every request (default: the provider's; Anthropic 1024)")
    create.add_argument("--temperature", type=_temperature, metavar="T",
                        help="sampling temperature in every request, 0 to 2 (Anthropic: 0 to 1; default: the "
                             "provider's)")

    submit = add("create-from-file", aliases=("submit",), parents=both, handler=cmd_submit)
    submit.description = COMMANDS_HELP["create-from-file"] + """.

--model must name the file's provider and model: OpenAI and Anthropic request lines carry
their model, and a file built for another model or provider is refused (exit 2) rather than
submitted under a model you did not ask for. Gemini lines name none: --model chooses it."""
    submit.add_argument("--file-path", required=True, metavar="FILE", help="the request file to submit")
    submit.add_argument("--response-model", metavar="MODULE:CLASS", help=argparse.SUPPRESS)

    listing = add("list", parents=both, handler=cmd_list)
    listing.add_argument("--limit", type=_positive(int, "a whole number"), default=10, metavar="N",
                         help="how many batches (default 10)")

    status = add("status", parents=both, handler=cmd_status)
    status.add_argument("--batch-id", required=True, metavar="ID", help=BATCH_ID_HELP)
    status.add_argument("--wait", action="store_true", help="poll until the batch ends, showing a progress bar")
    status.add_argument("--timeout", type=_SECONDS, metavar="SECONDS",
                        help="with --wait: give up after this long (default 24h), exit code 6")
    status.add_argument("--interval", type=_SECONDS, metavar="SECONDS",
                        help="with --wait: seconds between polls (default: the processor's)")

    results = add("results", parents=both, handler=cmd_results)
    results.add_argument("--batch-id", required=True, metavar="ID", help=BATCH_ID_HELP)
    results.add_argument("--output-file", required=True, metavar="FILE",
                         help="JSONL file to write, - for stdout (a file is replaced only once every result is "
                              "downloaded; through a symlink its target is; a device or pipe is written as it is)")
    results.add_argument("--response-model", metavar="MODULE:CLASS",
                         help="parse each answer into this model and write successes and typed errors; "
                              "without it the provider's raw result lines are written")

    for name, handler in (("cancel", cmd_cancel), ("delete", cmd_delete)):
        add(name, parents=both, handler=handler).add_argument("--batch-id", required=True, metavar="ID",
                                                             help=BATCH_ID_HELP)

    add("list-models", parents=(output,), handler=cmd_list_models)

    # `serve` is parsed by pytest_batch.sim.server (see main); listed here for --help only.
    sub.add_parser("serve", help=COMMANDS_HELP["serve"], add_help=False)

    demo = add("demo", parents=(output,), handler=cmd_demo)
    demo.add_argument("--provider", choices=("openai", "anthropic", "google", "azure", "all"), default="all",
                      help="which provider to run (default all)")

    from .verify import add_parser as add_verify

    add_verify(sub, [output], formatter)
    return parser


# --------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see EPILOG)."""
    from . import commands

    started = commands.clock()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        return _serve(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = started
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    provider = None
    try:
        from .target import parse_model

        if hasattr(args, "model"):
            provider, _ = parse_model(args.model)
        return args.handler(args)
    except KeyboardInterrupt:
        print("❌ Interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pytest-batch list ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the CLI's contract: one line, never a traceback
        if os.environ.get("PYTEST_BATCH_DEBUG"):
            raise
        from .output import error_line

        line, code = error_line(exc, provider)
        print(line, file=sys.stderr)
        return code


def console_main() -> int:
    """The ``pytest-batch`` script: ``main``, then a quick exit. The SDKs' module graphs are large,
    and the interpreter's last garbage collection at exit took 0.6 s after an anthropic command (a
    third of a ``status --wait --timeout 2``): frozen, they are left to the process's end."""
    import gc

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    return code


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning "any free one"."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535 (0 picks a free one), got {text!r}")
    return port


def _serve(argv: list[str]) -> int:
    """``pytest-batch serve``: the emulator server's own options, parsed (and their errors
    reported) the way every other command's are, and a busy port named before it starts."""
    from ..sim.server import build_parser as serve_parser
    from ..sim.server import main as serve_main

    parser = serve_parser(_Parser(prog="pytest-batch serve"))
    for action in parser._actions:
        if action.dest == "port":
            action.type = _port
        elif action.dest == "seed":
            action.help = ("seed for ids and synthetic answers (default: a random one, so no two servers issue "
                           "the same ids)")
    parser.set_defaults(seed=None)
    args = parser.parse_args(argv)
    problem = _listen_problem(args.host, args.port)
    if problem is not None:
        print(f"❌ Error: {problem}", file=sys.stderr)
        return 1
    if args.seed is None:
        import secrets

        argv = [*argv, "--seed", str(secrets.randbits(31))]
    return serve_main(argv)


def _listen_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (None: it can), found by binding a
    probe socket the way the server binds (SO_REUSEADDR, IPv4)."""
    import errno
    import socket

    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"port {port} on {host} is already in use (another `pytest-batch serve`?); "
                    "pass --port 0 to pick a free port, or choose another --port")
        if exc.errno == errno.EACCES:
            return (f"cannot listen on {host}:{port} (permission denied: ports below 1024 need privileges); "
                    "pass --port 0 to pick a free port, or choose another --port")
        reason = str(exc.strerror or exc).split(" (while attempting")[0]
        return f"cannot listen on {host}:{port} ({reason}); check --host, or pass --port 0"
    return None


if __name__ == "__main__":
    sys.exit(console_main())
