"""Drift, printed: a table per provider and endpoint, or JSON for machines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .replay import Replay

_EXPLAIN = {
    "status": "HTTP status differs",
    "body": "body kind differs",
    "missing": "field the emulator leaves out",
    "extra": "field the emulator adds",
    "renamed": "field under another name",
    "type": "JSON type differs",
    "value": "enumerated value differs",
    "header": "SDK-read header differs",
}


#: ``pytest-batch verify``'s exit codes (README "Exit codes", ``verify --help``)
NO_DRIFT, DRIFT, NOT_COMPARED = 0, 1, 2


def exit_code(replays: list[Replay], errors: list[str]) -> int:
    """1 when anything drifted; else 2 when something could not be compared (or nothing was); else 0."""
    if any(r.drift for r in replays):
        return DRIFT
    return NOT_COMPARED if errors or not replays else NO_DRIFT


def drift_rows(replays: Iterable[Replay]) -> list[dict[str, Any]]:
    """One row per (provider, endpoint, kind, path, recorded, emulated), naming where it was seen."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for run in replays:
        for checked in run.checked:
            for difference in checked.differences:
                key = (checked.provider, checked.endpoint, difference.kind, difference.path,
                       difference.recorded, difference.emulated)
                row = rows.setdefault(key, {"provider": checked.provider, "endpoint": checked.endpoint,
                                            **difference.as_dict(), "seen_in": []})
                row["seen_in"].append(f"{run.source}#{checked.index + 1}")
    return sorted(rows.values(), key=lambda r: (r["provider"], r["endpoint"], r["kind"], r["path"]))


def as_json(replays: list[Replay], errors: list[str], skipped: Sequence[str] = ()) -> dict[str, Any]:
    code = exit_code(replays, errors)
    return {
        "result": {NO_DRIFT: "no drift", DRIFT: "drift", NOT_COMPARED: "not compared"}[code],
        "exit_code": code,
        "drift": any(r.drift for r in replays),
        "recordings": [{"source": r.source, "provider": r.provider, "recorded_against": r.recorded_against,
                        "exchanges": len(r.checked), "drift": r.drift} for r in replays],
        "differences": drift_rows(replays),
        "errors": errors,
        "skipped": list(skipped),
    }


def as_text(replays: list[Replay], errors: list[str], skipped: Sequence[str] = ()) -> str:
    lines: list[str] = []
    rows = drift_rows(replays)
    exchanges = sum(len(r.checked) for r in replays)
    against = sorted({r.recorded_against for r in replays})
    for provider in sorted({r["provider"] for r in rows}):
        lines.append(f"{provider}")
        mine = [r for r in rows if r["provider"] == provider]
        widths = [max(len(str(r[k])) for r in mine) for k in ("endpoint", "kind", "path", "recorded")]
        widths = [max(w, len(h)) for w, h in zip(widths, ("endpoint", "kind", "path", "recorded"), strict=True)]
        header = ("endpoint", "kind", "path", "recorded", "emulator")
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True)).rstrip())
        for row in mine:
            cells = [row["endpoint"], row["kind"], row["path"] or "-", row["recorded"], row["emulated"]]
            lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(cells, [*widths, 0], strict=True)).rstrip()
                         + f"   ({len(row['seen_in'])}x, first in {row['seen_in'][0]})")
        lines.append("")
    lines += [f"ℹ️  skipped: {note}" for note in skipped]
    lines += [f"⚠️  {error}" for error in errors]
    summary = (f"{len(replays)} recording(s), {exchanges} exchange(s) replayed through the emulator "
               f"(recorded against: {', '.join(against) or '-'})")
    failed = f"{len(errors)} error(s) (⚠️  above)"
    if rows:
        kinds = sorted({r["kind"] for r in rows})
        lines.append(f"❌ drift: {len(rows)} difference(s) ({', '.join(_EXPLAIN[k] for k in kinds)}); {summary}"
                     + (f"; not compared: {failed}" if errors else ""))
    elif not replays:
        lines.append(f"❌ nothing compared: {failed}" if errors else
                     f"❌ nothing compared: none of the {len(skipped)} YAML file(s) is a cassette")
    elif errors:
        lines.append(f"❌ not verified: {failed}; no drift in the rest: {summary}")
    else:
        lines.append(f"✅ no drift: {summary}")
    if against == ["emulator"]:
        lines.append("   (every recording was made against the emulator: this is the no-drift baseline, "
                     "not a measure of the live API; record against the live API to measure it)")
    return "\n".join(lines)
