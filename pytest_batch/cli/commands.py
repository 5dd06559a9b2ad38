"""The commands behind ``pytest-batch create | submit | list | status | results | cancel | delete |
list-models | demo``: each takes the parsed arguments and returns its exit code."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, Self

#: the CLI's time source and pause: ``status --wait``'s timeout counts on ``clock`` from the
#: command's start. Tests replace both with a fake clock whose ``sleep`` advances it.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], Any] = time.sleep


class _Run:
    """One batch command's context: the target (entered), the processor factory, the output."""

    def __init__(self, args: argparse.Namespace, *, need_key: bool = True, state: str = "existing") -> None:
        """``state`` (with --simulate): "create" a state when there is none (create, submit),
        use an "existing" one only (never create one for a read), or "none" (only build a file)."""
        from .target import CLIError, parse_model, resolve_target

        self.args = args
        self.state = state
        #: when the command started (``main`` sets it before anything is imported): --timeout counts from here
        self.started: float = getattr(args, "started", None) or clock()
        self.provider, _ = parse_model(args.model)
        self.target = resolve_target(self.provider, simulate=args.simulate, base_url=args.base_url,
                                     state_dir=args.state_dir, need_key=need_key)
        if (args.responses or args.lifecycle) and not self.target.simulated:
            raise CLIError("--responses and --lifecycle apply to --simulate only (for `pytest-batch serve`, "
                           "pass them to serve)")

    def __enter__(self) -> Self:
        from .state import simulated_state

        if self.state == "none" and self.target.simulated:
            self.target.mode = "build"  # nothing is sent: no emulator, no state
        self._state = simulated_state(self.target, lifecycle=self.args.lifecycle, responses=self.args.responses,
                                      create=self.state == "create")
        self._state.__enter__()
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self._state.__exit__(kind, exc, tb)
        if isinstance(exc, Exception):  # not SystemExit: rich exits 1 when stdout is closed (`| head`)
            from ..errors import BatchNotFoundError
            from .output import unreachable

            failure = unreachable(exc, self.target)
            if failure is not None:
                raise failure from None
            if isinstance(exc, BatchNotFoundError) and self.target.simulated:
                from .target import CLIError

                state = self.target.state_file.absolute()
                raise CLIError(f"{exc}; looked in the simulated state {state} (if you created the batch elsewhere, "
                               "pass --state-dir DIR or set PYTEST_BATCH_STATE_DIR to that directory's "
                               ".pytest-batch)") from None

    def held_by_hand(self, batch_id: str) -> bool:
        """True when the simulated batch ``batch_id`` follows a 'manual' lifecycle (only an explicit
        advance, which the CLI has none of, ends it)."""
        if not self.target.simulated or self.target.emulator is None:
            return False
        with self.target.emulator.transaction(save=False) as emulator:
            lifecycles = [emulator.lifecycle_for(key) for key in (batch_id, batch_id.removeprefix("batches/"))]
        return any(lifecycle.kind == "manual" for lifecycle in lifecycles)

    def processor(self, response_model: type | None = None, **options: Any) -> Any:
        """The processor for --model; ``options`` go to BatchProcessor (max_tokens=, params=)."""
        from ..processor import BatchProcessor
        from .inputs import import_response_model

        model = response_model or import_response_model(None)
        return BatchProcessor(self.args.model, response_model=model, client=self.target.client(), sleep=sleep,
                              clock=clock, **options)

    def state_dir(self) -> Any:
        """Where this command's records live: the simulated state's directory (--state-dir)."""
        from .target import state_path

        return state_path(self.args.state_dir).parent

    def remember_model(self, job: Any, model: str) -> None:
        """Record the model ``job`` was created with (Anthropic's and Azure's batches never name theirs)."""
        from .state import remember_models

        remember_models(self.state_dir(), self.provider, job.ids, model)

    def with_models(self, jobs: list[Any]) -> list[Any]:
        """``jobs``, each with the model it was created with: what the provider reports (OpenAI's
        and Gemini's batches name it; Anthropic's and Azure's never do, OpenAI's not while
        validating), else what this CLI recorded when it created the batch, else None (shown as
        "-"), never the --model of this command."""
        from .state import remembered_models

        unnamed = [job for job in jobs if not job.model]
        if unnamed:
            recorded = remembered_models(self.state_dir())
            for job in unnamed:
                job.model = recorded(job.provider, job.id)
        return jobs

    def wait_options(self) -> dict[str, Any]:
        """``BatchProcessor.wait`` options from --timeout and --interval; simulated batches
        move on reads (polls:N) or on a short clock, so they are polled every 50 ms."""
        options: dict[str, Any] = {"progress": not self.args.json}
        if self.target.simulated:
            options.update(interval=0.05, factor=1.0, max_interval=0.05)
        if self.args.timeout is not None:  # what is left of it: start-up and the first read count too
            options["timeout"] = self.args.timeout - (clock() - self.started)
        if self.args.interval is not None:
            options.update(interval=self.args.interval, factor=1.0, max_interval=self.args.interval)
        return options

    def flags(self) -> str:
        """The target flags to repeat in a suggested command."""
        flags = f"--model {self.args.model}"
        if self.args.simulate:
            flags += " --simulate"
        if self.args.state_dir:
            flags += f" --state-dir {self.args.state_dir}"
        if self.args.base_url:
            flags += f" --base-url {self.args.base_url}"
        return flags

    def done(self, data: Any, render: Callable[[Any], None], *, stderr: bool = False) -> None:
        """Report ``data`` as JSON (--json) or ``render`` it; on stderr when stdout carries the
        command's data (``--output-file -``)."""
        if self.args.json:
            from .output import emit_json

            emit_json(data, sys.stderr if stderr else None)
        else:
            from .output import console

            render(console(stderr=stderr))


def _next_steps(job_id: str, run: _Run) -> str:
    return (f"next: pytest-batch status --batch-id {job_id} {run.flags()} --wait\n"
            f"      pytest-batch results --batch-id {job_id} {run.flags()} --output-file results.jsonl")


# --------------------------------------------------------------------------- commands
def cmd_create(args: argparse.Namespace) -> int:
    from ..providers import PROVIDERS, get_provider
    from .inputs import import_response_model, read_messages
    from .output import esc, output_file
    from .target import CLIError

    name, _, bare = (args.model or "").partition("/")
    check = get_provider(args.model)[0].check_custom_id if name in PROVIDERS and bare else None  # else: _Run says
    if name == "anthropic" and args.temperature is not None and args.temperature > 1:
        raise CLIError(f"--temperature {args.temperature:g}: Anthropic accepts 0 to 1", code=2)
    messages = read_messages(args.messages_file, check)
    model = import_response_model(args.response_model)
    options: dict[str, Any] = {"max_tokens": args.max_tokens}
    if args.temperature is not None:
        options["params"] = {"temperature": args.temperature}
    destination = output_file(args.output_file) if args.output_file else None
    with _Run(args, need_key=not args.output_file, state="none" if args.output_file else "create") as run:
        processor = run.processor(model, **options)
        if destination is not None:
            requests = processor.build(messages.requests, custom_ids=messages.custom_ids)
            with destination.open() as out:
                out.write(requests.to_bytes().decode("utf-8"))
            count = len(messages.requests)
            file_path = "FILE" if destination.is_stdout else args.output_file
            run.done({"output_file": args.output_file, "requests": count, "model": args.model},
                     lambda out: out.print(f"✅ Wrote {count} {run.provider} requests to {destination}\n"
                                           f"submit with: pytest-batch create-from-file --file-path "
                                           f"{file_path} --model {args.model}", markup=False),
                     stderr=destination.is_stdout)
            return 0
        build = processor.build(messages.requests, custom_ids=messages.custom_ids)
        job = processor.submit(build)
        _report_submitted(run, job, processor.model, f"Created {run.provider} batch [bold]{esc(job.id)}[/bold] with "
                          f"{len(messages.requests)} requests")
    return 0


def _report_submitted(run: _Run, job: Any, model: str, headline: str) -> None:
    """The submitted job as JSON, or a headline, its table and the commands to follow it."""
    from .output import esc, job_dict, jobs_table

    job.model = job.model or model
    run.remember_model(job, job.model)

    def render(out: Any) -> None:
        out.print(f"✅ {headline} ({esc(run.target.describe())})")
        out.print(jobs_table([job]))
        out.print(_next_steps(job.id, run), markup=False)

    run.done(job_dict(job), render)


def cmd_submit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .inputs import check_request_file_model, import_response_model
    from .output import esc
    from .target import CLIError

    path = Path(args.file_path)
    if not path.exists():
        raise CLIError(f"request file not found: {args.file_path}")
    if not path.is_file():
        raise CLIError(f"request file {args.file_path} is not a regular file: pass the path of a JSONL file of "
                       "request lines (one per line)")
    check_request_file_model(args.file_path, args.model)
    model = import_response_model(args.response_model)
    with _Run(args, state="create") as run:
        processor = run.processor(model)
        job = processor.submit(args.file_path)
        _report_submitted(run, job, processor.model,
                          f"Submitted {esc(args.file_path)} as {run.provider} batch [bold]{esc(job.id)}[/bold]")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .output import job_dict, jobs_table
    from .state import NoSimulatedState

    try:
        with _Run(args) as run:
            jobs = run.with_models(list(run.processor().list(args.limit)))

            def render(out: Any) -> None:
                if not jobs:
                    out.print(f"No {run.provider} batches ({run.target.describe()}).", markup=False)
                else:
                    out.print(jobs_table(jobs, title=f"{run.provider} batches ({run.target.describe()})"))

            run.done([job_dict(job) for job in jobs], render)
    except NoSimulatedState as exc:  # nothing simulated here yet: an empty list, and where to look
        if args.json:
            from .output import emit_json

            emit_json([])
        else:
            print(f"No {args.model.partition('/')[0]} batches: {exc.message}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..errors import BatchTimeoutError
    from ..processor.polling import seconds_text
    from .output import (
        EXIT_FAILED,
        EXIT_TIMEOUT,
        esc,
        exit_code,
        job_dict,
        jobs_table,
        nothing_succeeded,
        status_text,
    )
    from .target import CLIError

    with _Run(args) as run:
        processor = run.processor()
        job = run.with_models([processor.status(args.batch_id)])[0]  # an unknown id fails here, before any bar
        if args.wait and not job.is_terminal:
            seen: list[Any] = [job]
            options = run.wait_options()
            try:
                if options.get("timeout", 1) <= 0:  # the time ran out before the wait began
                    raise BatchTimeoutError(args.batch_id)
                job = run.with_models([processor.wait(job, callback=seen.append, **options)])[0]
            except BatchTimeoutError:
                still = status_text(seen[-1].status) if seen else "running"
                limit = f"--timeout {seconds_text(args.timeout)}" if args.timeout is not None else \
                    "the default 24h timeout"
                advice = ("run `status --wait` again, or raise --timeout" if not run.held_by_hand(args.batch_id) else
                          "its simulated state's lifecycle is 'manual', so nothing finishes it from the CLI: "
                          "create it again with --lifecycle polls:N or seconds:S")
                raise CLIError(f"batch {args.batch_id} is still {still} after {limit}; {advice}",
                               code=EXIT_TIMEOUT) from None

        def render(out: Any) -> None:
            out.print(jobs_table([job]))
            for error in job.errors:
                out.print(f"[red]batch error:[/red] {esc(error)}", highlight=False)
            if nothing_succeeded(job):
                out.print(f"⚠️  the batch completed, but none of its {job.counts.total} requests succeeded "
                          f"(exit code {EXIT_FAILED}, as for a failed batch)", markup=False)

        run.done(job_dict(job), render)
        return exit_code(job)


def cmd_results(args: argparse.Namespace) -> int:
    from ..errors import ResultsNotReadyError
    from .inputs import import_response_model
    from .output import output_file
    from .target import CLIError

    model = import_response_model(args.response_model) if args.response_model else None
    path = output_file(args.output_file)
    with _Run(args) as run:
        try:
            results = run.processor(model).results(args.batch_id)
        except ResultsNotReadyError as exc:
            raise CLIError(f"{str(exc).partition(';')[0]}: results are ready once it ends; follow it with "
                           f"`pytest-batch status --batch-id {args.batch_id} {run.flags()} --wait`") from None
        tally = _write_results(results, path, model)
        return _report_results(run, results.job, tally, path, model)


def _write_results(results: Any, path: Any, model: type | None) -> dict[str, int]:
    """Stream ``results`` to ``path`` (an OutputFile: a regular file is replaced only once every
    result is downloaded, so an interrupted download never leaves a partial file) as parsed
    items with a model, else the provider's lines; returns how many succeeded, failed, and of
    those never ran (expired, canceled, missing)."""
    import json

    from ..models import item_to_json
    from .output import NO_RESULT_KINDS

    tally = {"succeeded": 0, "failed": 0, "no_result": 0}
    with path.open() as out:
        for item in results:
            if item.ok:
                tally["succeeded"] += 1
            else:
                tally["failed"] += 1
                tally["no_result"] += str(getattr(item.kind, "value", item.kind)) in NO_RESULT_KINDS
            line = item_to_json(item) if model is not None else json.dumps(_raw(item), ensure_ascii=False,
                                                                             default=str)
            out.write(line + "\n")
    return tally


def _report_results(run: _Run, job: Any, tally: dict[str, int], path: Any, model: type | None) -> int:
    """The summary line (✅ only when every request came back and the batch completed), a
    warning on stderr naming the requests that returned nothing, and the batch's exit code."""
    from .output import exit_code, nothing_succeeded, status_text

    args = run.args
    succeeded, failed = tally["succeeded"], tally["failed"]
    written = succeeded + failed
    requests = max(job.provider_counts.total if job is not None else 0, written)  # the provider's count, if any
    absent, not_run = requests - written, tally["no_result"]
    state = status_text(job.status) if job is not None else "completed"
    code = exit_code(job) if job is not None else 0
    warning = None
    if requests == 0 and state != "completed":
        warning = f"no results came back (batch {state})"
    elif absent or not_run:
        said = []
        if not_run:
            said.append(f"{not_run} of {requests} requests never ran (in the file as expired / canceled / missing)")
        if absent:
            said.append(f"{absent} of {requests} requests are not in the file: the provider returned nothing for "
                        "them")
        warning = "; ".join(said) + f" (batch {state})"
    elif nothing_succeeded(job):
        warning = f"none of the {requests} requests succeeded (batch {state})"
    elif code:
        warning = f"the batch did not complete ({state})"
    form = "parsed into " + model.__name__ if model is not None else "raw provider lines"
    mark = "⚠️ " if warning else "✅"
    run.done({"batch_id": args.batch_id, "output_file": path.name, "succeeded": succeeded, "failed": failed,
              "format": "parsed" if model is not None else "raw", "status": state, "requests": requests,
              "never_ran": not_run, "not_returned": absent},
             lambda out: out.print(f"{mark} Wrote {written} results of {args.batch_id} to {path} ({form}): "
                                   f"{succeeded} succeeded, {failed} failed", markup=False),
             stderr=path.is_stdout)
    if warning:
        print(f"⚠️  {warning}", file=sys.stderr)
    return code


def _raw(item: Any) -> Any:
    """The provider's result line as JSON (fields the provider sent, nulls included)."""
    raw = item.raw
    if raw is None:
        import json

        from ..models import item_to_json

        return json.loads(item_to_json(item))
    if hasattr(raw, "model_dump"):
        return raw.model_dump(mode="json", exclude_unset=True)
    if hasattr(raw, "to_json_dict"):
        return raw.to_json_dict()
    return raw


def cmd_cancel(args: argparse.Namespace) -> int:
    from .output import job_dict, jobs_table, status_text

    with _Run(args) as run:
        job = run.with_models([run.processor().cancel(args.batch_id)])[0]
        head = (f"Batch {job.id} had already ended ({status_text(job.status)}): nothing to cancel"
                if job.is_terminal and status_text(job.status) != "cancelled" else f"✅ Cancel requested for {job.id}")
        run.done(job_dict(job), lambda out: (out.print(head, markup=False),
                                             out.print(jobs_table([job]))))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from ..errors import UnsupportedOperationError
    from .target import CLIError

    with _Run(args) as run:
        try:
            run.processor().delete(args.batch_id)
        except UnsupportedOperationError:
            raise CLIError(_no_openai_delete(run)) from None
        run.done({"id": args.batch_id, "deleted": True},
                 lambda out: out.print(f"✅ Deleted {run.provider} batch {args.batch_id}", markup=False))
    return 0


def _no_openai_delete(run: _Run) -> str:
    """OpenAI (and Azure OpenAI) has no batch deletion: say so, what can be deleted, and (if it still
    runs) how to stop it."""
    batch_id = run.args.batch_id
    label = run.processor().provider.label  # "OpenAI" or "Azure OpenAI": the same Files API
    message = (f"{label} batches cannot be deleted ({batch_id}); only their files can (input, output and error "
               "files, with the OpenAI Files API)")
    try:
        job = run.processor().status(batch_id)
    except Exception:  # noqa: BLE001 - the advice is optional; the message above stands on its own
        return message
    if job.is_terminal:
        return message
    return f"{message}; to stop it, cancel it: `pytest-batch cancel --batch-id {batch_id} {run.flags()}`"


def cmd_list_models(args: argparse.Namespace) -> int:
    """The catalog (pytest_batch.model_catalog), each model with its lifecycle and price, then the
    configured models; the default of each provider (what the plugin and ``demo`` use) first."""
    from ..model_catalog import CATALOG, DEFAULT_MODELS, find
    from .output import console, emit_json, esc
    from .target import all_models

    rows: dict[str, list[dict[str, Any]]] = {}
    for provider, models in all_models().items():
        rows[provider] = []
        for model in models:
            name = model.partition("/")[2]
            entry = find(provider, name)
            listed = any(known.name == name for known in CATALOG[provider])
            rows[provider].append({
                "model": model, "default": model == DEFAULT_MODELS[provider],
                "status": entry.status() if entry is not None and provider != "azure" else None,
                "retires": entry.retires.isoformat() if entry is not None and entry.retires else None,
                "replacement": entry.replacement if entry is not None else None,
                "price_per_mtok": ({"input": entry.price[0], "output": entry.price[1]}
                                   if entry is not None and entry.price is not None else None),
                "note": entry.note() if entry is not None else "",
                "source": "catalog" if listed else "configured"})
    if args.json:
        emit_json(rows)
        return 0
    from rich.table import Table

    out = console()
    grid = Table(title="Models (current first; retired names still work as model strings)")
    for column in ("Provider", "Model (--model)", "Status", "Price $/MTok (in / out)", "Source"):
        grid.add_column(column)
    for provider, found in rows.items():
        for row in found:
            price = row["price_per_mtok"]
            status = "default" if row["default"] else (row["note"] or row["status"] or "-")
            style = {"retired": "red", "deprecated": "yellow"}.get(str(row["status"]))
            shown = f"[{style}]{esc(status)}[/{style}]" if style else esc(status)
            grid.add_row(provider, esc(row["model"]), shown,
                         f"{price['input']:g} / {price['output']:g}" if price else "-", row["source"])
    out.print(grid)
    out.print("A retired model is refused by the live API (record, live) but still runs in simulate and replay, "
              "where pinned names keep working. Prices are standard; batches cost half.", markup=False)
    out.print("Add models with PYTEST_BATCH_MODELS=provider/model,... or [tool.pytest-batch] models = [...] "
              "in pyproject.toml.", markup=False)
    out.print("azure/<deployment> names your Global-Batch deployment (the listed names assume deployments "
              "named after OpenAI's models; Azure retires models on its own schedule).", markup=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.provider, as_json=args.json)
