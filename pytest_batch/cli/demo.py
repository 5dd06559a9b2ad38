"""``pytest-batch demo``: the seed's ten-user extraction, end to end, on the in-process
emulator: no key, no network, the real SDKs and the real BatchProcessor."""

from __future__ import annotations

from typing import Any

from ..endpoints import PROVIDERS
from ..model_catalog import DEFAULT_MODELS


def run_provider(emulator: Any, provider: str) -> dict[str, Any]:
    """Submit the ten seed prompts to ``provider`` on ``emulator``, wait, and compare the
    extracted users with the expected ones, in input order."""
    from ..processor import BatchProcessor
    from ..seed import EXPECTED_USERS, SEED_PROMPTS, User

    client = getattr(emulator, f"{provider}_client")()
    processor = BatchProcessor(DEFAULT_MODELS[provider], response_model=User, client=client,
                               sleep=lambda seconds: None)
    job = processor.wait(processor.submit(list(SEED_PROMPTS)))
    rows = []
    extracted = []
    items = list(processor.results(job).in_input_order())
    for item, expected in zip(items, EXPECTED_USERS, strict=False):
        if item.ok:
            extracted.append(item.value)
            rows.append({"custom_id": item.custom_id, "name": item.value.name, "age": item.value.age,
                         "status": "ok" if item.value == expected else "differs"})
        else:
            rows.append({"custom_id": item.custom_id, "name": None, "age": None,
                         "status": f"{item.kind.value}: {item.message}"})
    matches = extracted == list(EXPECTED_USERS)
    return {"provider": provider, "model": DEFAULT_MODELS[provider], "batch_id": job.id,
            "status": job.status.value, "extracted": len(extracted), "total": len(SEED_PROMPTS),
            "match": matches, "rows": rows}


def summary(report: dict[str, Any]) -> str:
    head = f"{report['provider']}: {report['extracted']}/{report['total']} extracted"
    if report["match"]:
        return f"{head}, all match the expected users"
    differing = sum(1 for row in report["rows"] if row["status"] != "ok")
    return f"{head}, {differing} differ from the expected users"


def run_demo(which: str = "all", *, as_json: bool = False, emulator: Any = None) -> int:
    """Run the demo for one provider or all; 0 when every provider extracted the expected users.

    ``emulator`` defaults to a fresh one answering the seed prompts with their users."""
    from .output import console, emit_json, esc
    from .state import new_emulator

    providers = PROVIDERS if which == "all" else (which,)
    emulator = emulator or new_emulator(lifecycle="polls:2")
    reports = [run_provider(emulator, provider) for provider in providers]
    ok = all(report["match"] for report in reports)
    if as_json:
        emit_json({"ok": ok, "providers": reports})
        return 0 if ok else 1
    from rich.table import Table

    out = console()
    for report in reports:
        table = Table(title=esc(f"{report['provider']} ({report['model']})"))
        for name in ("custom_id", "name", "age", "status"):
            table.add_column(name)
        for row in report["rows"]:
            style = "green" if row["status"] == "ok" else "red"
            age = row["age"] if row["age"] is not None else "-"
            table.add_row(esc(row["custom_id"]), esc(row["name"] or "-"), esc(age),
                          f"[{style}]{esc(row['status'])}[/{style}]")
        out.print(table)
        out.print(f"batch {report['batch_id']}: {report['status']}", soft_wrap=True, markup=False)
    for report in reports:
        mark = "✅" if report["match"] else "❌"
        out.print(f"{mark} {summary(report)}", markup=False)
    out.print("(simulated: the in-process emulator answers the seed prompts; no key, no network)")
    return 0 if ok else 1
