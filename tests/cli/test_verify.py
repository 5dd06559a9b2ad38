"""``pytest-batch verify``: the shipped cassettes are the no-drift baseline, doctored cassettes
and a stand-in "live" server that rewrites the emulator's answers are caught and named."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_batch.sim.core import Emulator
from pytest_batch.sim.http import SimRequest, SimResponse
from pytest_batch.sim.server import start_server

from .conftest import ROOT, FakeClock, Runner

SHIPPED = ROOT / "cassettes"


def test_shipped_cassettes_are_the_no_drift_baseline(cli: Runner) -> None:
    result = cli("verify", "--cassettes", str(SHIPPED))
    assert result.code == 0, result
    assert "no drift: 9 recording(s)" in result.out
    assert "recorded against the emulator" in result.out or "made against the emulator" in result.out

    data = cli("verify", "--cassettes", str(SHIPPED), "--json").json()
    assert data["drift"] is False and data["differences"] == [] and data["errors"] == []
    assert {r["provider"] for r in data["recordings"]} == {"openai", "anthropic", "google"}
    # every retrieve reached the emulator's own batch (ids mapped) and its recorded state
    assert sum(r["exchanges"] for r in data["recordings"]) == 38


def _doctor(tmp_path: Path, cassette: str, edit: Callable[[list[dict[str, Any]]], None]) -> Path:
    target = tmp_path / "doctored" / cassette
    target.parent.mkdir(parents=True)
    document = yaml.safe_load((SHIPPED / cassette).read_text())
    edit(document["interactions"])
    target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return target


def _openai_completed(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    return next(i["response"]["body"]["json"] for i in interactions if i["request"]["method"] == "GET"
                and i["response"]["body"].get("json", {}).get("status") == "completed")


def _anthropic_ended(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    return next(i["response"]["body"]["json"] for i in interactions
                if i["response"]["body"].get("json", {}).get("processing_status") == "ended")


def _gemini_done(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    return next(i["response"]["body"]["json"] for i in interactions if i["response"]["body"]["json"].get("done"))


def _field_added(interactions: list[dict[str, Any]]) -> None:
    _openai_completed(interactions)["priority"] = "standard"


def _field_removed(interactions: list[dict[str, Any]]) -> None:
    del _anthropic_ended(interactions)["request_counts"]


def _field_renamed(interactions: list[dict[str, Any]]) -> None:
    metadata = _gemini_done(interactions)["metadata"]
    metadata["batchState"] = metadata.pop("state")


def _status_changed(interactions: list[dict[str, Any]]) -> None:
    _anthropic_ended(interactions)["processing_status"] = "completed"


def _type_changed(interactions: list[dict[str, Any]]) -> None:
    counts = _openai_completed(interactions)["request_counts"]
    counts["total"] = str(counts["total"])


def _header_dropped(interactions: list[dict[str, Any]]) -> None:
    for interaction in interactions:
        interaction["response"]["headers"].pop("retry-after", None)


def _results_row_field(interactions: list[dict[str, Any]]) -> None:
    rows = interactions[-1]["response"]["body"]["jsonl"]
    for row in rows:
        row["result"]["message"]["context_management"] = {"applied_edits": []}


DOCTORED = {
    "field added": ("openai/test_users/test_users.yaml", _field_added,
                    ("GET /v1/batches/{id}", "missing", "priority")),
    "field removed": ("anthropic/test_users/test_users.yaml", _field_removed,
                      ("GET /v1/messages/batches/{id}", "extra", "request_counts")),
    "field renamed": ("google/test_users/test_users.yaml", _field_renamed,
                      ("GET /v1/batches/{id}", "renamed", "metadata.batchState")),
    "status string changed": ("anthropic/test_users/test_users.yaml", _status_changed,
                              ("GET /v1/messages/batches/{id}", "value", "processing_status")),
    "JSON type changed": ("openai/test_users/test_users.yaml", _type_changed,
                          ("GET /v1/batches/{id}", "type", "request_counts.total")),
    "SDK header dropped": ("anthropic/test_users/test_users.yaml", _header_dropped,
                           ("GET /v1/messages/batches/{id}", "header", "retry-after")),
    "field added to every results line": ("anthropic/test_users/test_users.yaml", _results_row_field,
                                          ("GET /v1/messages/batches/{id}/results", "missing",
                                           "[].result.message.context_management")),
}


@pytest.mark.parametrize("case", list(DOCTORED))
def test_a_doctored_cassette_is_drift_named_by_endpoint_and_path(cli: Runner, tmp_path: Path, case: str) -> None:
    cassette, edit, (endpoint, kind, path) = DOCTORED[case]
    doctored = _doctor(tmp_path, cassette, edit)

    data = cli("verify", "--cassettes", str(doctored.parent), "--json")
    assert data.code == 1, data
    rows = data.json()["differences"]
    assert [(r["endpoint"], r["kind"], r["path"]) for r in rows] == [(endpoint, kind, path)], rows

    table = cli("verify", "--cassettes", str(doctored))
    assert table.code == 1
    assert "drift: 1 difference(s)" in table.out
    line = next(line for line in table.out.splitlines() if path in line)
    assert endpoint in line and kind in line


def test_status_drift_shows_both_values(cli: Runner, tmp_path: Path) -> None:
    doctored = _doctor(tmp_path, "anthropic/test_users/test_users.yaml", _status_changed)
    [row] = cli("verify", "--cassettes", str(doctored), "--json").json()["differences"]
    assert (row["recorded"], row["emulated"]) == ('"completed"', '"ended"')
    assert row["seen_in"] == [f"{doctored}#3"]


def _status_misspelled(interactions: list[dict[str, Any]]) -> None:
    # exchange #3 of the OpenAI cassette: the first poll, in_progress (#4 polls in_progress again)
    body = interactions[2]["response"]["body"]["json"]
    assert body["status"] == "in_progress"
    body["status"] = "in-progress"


def test_a_status_the_emulator_never_reaches_is_the_only_difference(cli: Runner, tmp_path: Path) -> None:
    # The emulator must not run ahead looking for "in-progress": the batch stays in_progress, so
    # neither its fields (completed_at, output_file_id, usage) nor the untouched poll #4 differ.
    doctored = _doctor(tmp_path, "openai/test_users/test_users.yaml", _status_misspelled)
    result = cli("verify", "--cassettes", str(doctored), "--json")
    assert result.code == 1, result
    rows = result.json()["differences"]
    assert [(r["kind"], r["path"], r["recorded"], r["emulated"], r["seen_in"]) for r in rows] == [
        ("value", "status", '"in-progress"', '"in_progress"', [f"{doctored}#3"])], rows


def test_a_directory_without_cassettes_is_bad_usage(cli: Runner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("verify", "--cassettes", str(tmp_path / "empty"))
    assert result.code == 2 and "no .yaml cassette found" in result.err
    result = cli("verify", "--cassettes", str(tmp_path / "nowhere"))
    assert result.code == 2 and "no such file or directory" in result.err
    assert cli("verify").code == 2  # --cassettes or --live


def test_a_yaml_file_that_is_no_cassette_is_skipped_with_a_note(cli: Runner, tmp_path: Path) -> None:
    # an answers file next to the cassettes is normal in a user's repository
    shutil.copytree(SHIPPED / "openai", tmp_path / "mixed")
    shutil.copy(ROOT / "examples" / "invoices" / "answers.yaml", tmp_path / "mixed" / "answers.yaml")
    (tmp_path / "mixed" / "notes.yaml").write_text("- just\n- a list\n")
    result = cli("verify", "--cassettes", str(tmp_path / "mixed"))
    assert result.code == 0, result
    assert "skipped: " + str(tmp_path / "mixed" / "answers.yaml") + " is not a cassette" in result.out
    assert "notes.yaml is not a cassette" in result.out
    assert result.out.splitlines()[-2].startswith("✅ no drift: 3 recording(s)")
    data = cli("verify", "--cassettes", str(tmp_path / "mixed"), "--json").json()
    assert (data["result"], data["exit_code"], data["errors"], len(data["skipped"])) == ("no drift", 0, [], 2)

    # named on its own, or alone in the directory, it leaves nothing to compare
    result = cli("verify", "--cassettes", str(tmp_path / "mixed" / "notes.yaml"))
    assert result.code == 2 and "❌ nothing compared: 1 error(s)" in result.out, result
    (tmp_path / "only").mkdir()
    shutil.copy(tmp_path / "mixed" / "notes.yaml", tmp_path / "only")
    result = cli("verify", "--cassettes", str(tmp_path / "only"))
    assert result.code == 2 and "❌ nothing compared: none of the 1 YAML file(s) is a cassette" in result.out, result
    assert "no drift" not in result.out


def test_a_cassette_that_cannot_be_read_is_an_error_not_drift(cli: Runner, tmp_path: Path) -> None:
    shutil.copytree(SHIPPED / "openai", tmp_path / "cut")
    whole = (SHIPPED / "openai" / "test_users" / "test_users.yaml").read_text()
    (tmp_path / "cut" / "truncated.yaml").write_text(whole[:len(whole) // 2])
    result = cli("verify", "--cassettes", str(tmp_path / "cut"))
    assert result.code == 2, result
    assert "cannot read cassette " + str(tmp_path / "cut" / "truncated.yaml") + ": the file is cut short" in result.out
    last = result.out.splitlines()[-2]  # the line before the "made against the emulator" note
    assert last.startswith("❌ not verified: 1 error(s)") and "no drift in the rest: 3 recording(s)" in last, last
    assert "✅" not in result.out
    data = cli("verify", "--cassettes", str(tmp_path / "cut"), "--json").json()
    assert (data["result"], data["exit_code"], data["drift"]) == ("not compared", 2, False)

    # drift found still says drift (exit 1), and that something was not compared
    doctored = _doctor(tmp_path, "anthropic/test_users/test_users.yaml", _status_changed)
    (doctored.parent / "truncated.yaml").write_text(whole[:len(whole) // 2])
    result = cli("verify", "--cassettes", str(doctored.parent))
    assert result.code == 1, result
    assert "❌ drift: 1 difference(s)" in result.out and "; not compared: 1 error(s)" in result.out


def test_verify_help_documents_its_exit_codes(cli: Runner) -> None:
    result = cli("verify", "--help")
    assert "exit codes: 0 no drift in everything compared, 1 drift, 2 not compared" in result.out


# ----------------------------------------------------------------------------- --live


class RewritingShim:
    """A stand-in "live" API: the emulator, with ``rewrite`` applied to every JSON body it answers."""

    def __init__(self, emulator: Emulator, rewrite: Callable[[str, Any], None], strip_marker: bool = False) -> None:
        self.emulator = emulator
        self.rewrite = rewrite
        self.strip_marker = strip_marker  # answer as a live API does: without x-pytest-batch-emulator
        self.lock = emulator.lock
        self.seen: list[str] = []

    def __getattr__(self, name: str) -> Any:  # the control API and the server read the emulator
        return getattr(self.emulator, name)

    def handle(self, request: SimRequest) -> SimResponse:
        self.seen.append(f"{request.method} {request.path}")
        response = self.emulator.handle(request)
        if response.headers.get("content-type", "").startswith("application/json"):
            payload = json.loads(response.read())
            self.rewrite(request.path, payload)
            response = SimResponse(response.status, dict(response.headers), json.dumps(payload).encode())
        if self.strip_marker:
            response.headers.pop("x-pytest-batch-emulator", None)
        return response


@pytest.fixture
def stand_in() -> Iterator[Callable[..., Any]]:
    servers = []

    def start(rewrite: Callable[[str, Any], None] = lambda path, payload: None, lifecycle: str = "polls:2",
              strip_marker: bool = False) -> Any:
        shim = RewritingShim(Emulator(lifecycle=lifecycle), rewrite, strip_marker)
        handle = start_server(shim)  # type: ignore[arg-type] - anything shaped like an Emulator
        servers.append(handle)
        return handle, shim

    yield start
    for handle in servers:
        handle.stop()


KEYS = {"OPENAI_API_KEY": "sk-verify-test", "ANTHROPIC_API_KEY": "sk-ant-verify-test",
        "GOOGLE_API_KEY": "verify-test-key"}


def test_live_probe_of_a_faithful_server_shows_no_drift(cli: Runner, stand_in: Any, fake_clock: FakeClock) -> None:
    server, shim = stand_in()
    result = cli("verify", "--live", "--base-url", server.url, "--interval", "1", env=KEYS)
    assert result.code == 0, result
    assert "no drift: 3 recording(s)" in result.out
    assert "POST /openai/v1/files" in shim.seen and any(s.endswith(":batchGenerateContent") for s in shim.seen)
    assert all(key not in result.out + result.err for key in KEYS.values())


def _openai_drifts(path: str, payload: Any) -> None:
    if path.startswith("/v1/batches/") and payload.get("object") == "batch":
        payload["priority"] = "standard"                # a field the live API added
        payload.pop("request_counts")                   # one it dropped
        if payload["status"] == "completed":
            payload["status"] = "succeeded"             # a status renamed


def test_live_probe_names_what_the_live_server_answers_differently(cli: Runner, stand_in: Any,
                                                                    fake_clock: FakeClock) -> None:
    server, _ = stand_in(_openai_drifts)
    # a renamed terminal status never ends the probe: it polls until --timeout, then cancels
    result = cli("verify", "--live", "--provider", "openai", "--base-url", server.url, "--interval", "1",
                 "--timeout", "5", "--json", env=KEYS)
    assert result.code == 1, result
    found = {(r["endpoint"], r["kind"], r["path"]) for r in result.json()["differences"]}
    assert ("GET /v1/batches/{id}", "missing", "priority") in found
    assert ("GET /v1/batches/{id}", "extra", "request_counts") in found
    assert ("GET /v1/batches/{id}", "value", "status") in found


def test_live_probe_cancelled_at_the_timeout_shows_no_drift_on_every_provider(
        cli: Runner, stand_in: Any, fake_clock: FakeClock) -> None:
    # `serve --lifecycle manual`: no batch ever finishes, so each probe is cancelled at --timeout and
    # its last poll still shows the cancel under way (OpenAI "cancelling", Anthropic "canceling"):
    # the emulator's side of the replay must show the same state, not the one after it.
    server, shim = stand_in(lifecycle="manual")
    result = cli("verify", "--live", "--base-url", server.url, "--timeout", "3", "--interval", "1", "--json",
                 env=KEYS)
    assert result.code == 0, result
    data = result.json()
    assert data["differences"] == [] and data["errors"] == []
    assert {r["provider"] for r in data["recordings"]} == {"openai", "anthropic", "google"}
    assert sum(s.endswith("/cancel") or s.endswith(":cancel") for s in shim.seen) == 3


def _cancelling_drifts(path: str, payload: Any) -> None:
    if payload.get("processing_status") == "canceling":
        payload["cancel_reason"] = "user"  # a field the live API added to a batch being cancelled


def test_live_probe_cancelled_at_the_timeout_still_names_a_rewritten_field(
        cli: Runner, stand_in: Any, fake_clock: FakeClock) -> None:
    server, _ = stand_in(_cancelling_drifts, lifecycle="manual")
    result = cli("verify", "--live", "--provider", "anthropic", "--base-url", server.url, "--timeout", "3",
                 "--interval", "1", "--json", env=KEYS)
    assert result.code == 1, result
    rows = result.json()["differences"]
    assert {(r["endpoint"], r["kind"], r["path"]) for r in rows} == {
        ("POST /v1/messages/batches/{id}/cancel", "missing", "cancel_reason"),
        ("GET /v1/messages/batches/{id}", "missing", "cancel_reason")}, rows


class RunsOnBeforeTheCancel(RewritingShim):
    """A live batch that ran on between the probe's last poll and its cancel (on a frozen clock)."""

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path.endswith(":cancel"):
            self.emulator.advance(6)  # 60% of a seconds:10 lifecycle: one of the two requests done
        return super().handle(request)


def test_live_probe_keeps_what_a_batch_did_after_its_last_poll(fake_clock: FakeClock) -> None:
    # Gemini keeps the results a cancelled batch had: the emulator's cancel must come as late
    from pytest_batch.sim.clock import FrozenClock
    from pytest_batch.verify.live import ProbeOptions, probe

    shim = RunsOnBeforeTheCancel(Emulator(lifecycle="seconds:10", clock=FrozenClock()), lambda path, payload: None)
    server = start_server(shim)  # type: ignore[arg-type] - anything shaped like an Emulator
    try:
        replayed = probe("google", server.base_urls["google"], "verify-test-key",
                         ProbeOptions(requests=2, timeout=3, interval=1), clock=fake_clock, sleep=fake_clock.sleep)
    finally:
        server.stop()
    *polls, last = [c for c in replayed.checked if c.endpoint.startswith("GET")]
    assert polls and last.differences == [] and not replayed.drift, replayed.checked
    assert any(s.endswith(":cancel") for s in shim.seen)


def test_live_probe_cancels_a_batch_still_running_at_the_timeout(stand_in: Any) -> None:
    from pytest_batch.verify.live import ProbeOptions, probe

    server, shim = stand_in(lifecycle="manual")
    clock = FakeClock()
    replayed = probe("anthropic", server.base_urls["anthropic"], "sk-ant-verify-test",
                     ProbeOptions(timeout=30, interval=10), clock=clock, sleep=clock.sleep)
    assert clock.now <= 30
    assert "POST /v1/messages/batches/{id}/cancel" in [c.endpoint for c in replayed.checked]
    assert any(s.endswith("/cancel") for s in shim.seen)
    cancel = next(c for c in replayed.checked if c.endpoint.endswith("/cancel"))
    assert cancel.differences == []  # the emulator answered the cancel as the "live" server did


def test_live_probe_refuses_past_the_cost_cap_and_without_keys(cli: Runner, stand_in: Any) -> None:
    server, shim = stand_in()
    result = cli("verify", "--live", "--provider", "anthropic", "--base-url", server.url, "--requests", "2",
                 "--max-cost", "0.00001", env=KEYS)
    assert result.code == 2, result  # nothing compared: not drift
    # small amounts keep two significant digits: 2 x (40 x $0.10 + 16 x $0.50) / 1e6 / 2
    assert "could cost up to $0.000012 on anthropic/claude-haiku-5-5" in result.out
    assert "above the cap $0.00001:" in result.out
    assert "❌ nothing compared: 1 error(s)" in result.out and "no drift" not in result.out
    assert shim.seen == []  # nothing was sent

    result = cli("verify", "--live", "--provider", "openai", "--base-url", server.url)
    assert result.code == 2 and "needs a key: set OPENAI_API_KEY" in result.err
    assert cli("verify", "--live", "--requests", "3", env=KEYS).code == 2


def test_live_probe_of_an_unreachable_target_compares_nothing(cli: Runner, stand_in: Any) -> None:
    server, _ = stand_in()
    url = server.url
    server.stop()
    result = cli("verify", "--live", "--provider", "openai", "--base-url", url, env=KEYS)
    assert result.code == 2, result
    assert f"openai: cannot reach {url}/openai/v1" in result.out
    assert result.out.splitlines()[-1] == "❌ nothing compared: 1 error(s) (⚠️  above)"


def test_live_probe_model_is_named_as_list_models_prints_it(cli: Runner, stand_in: Any,
                                                            fake_clock: FakeClock) -> None:
    server, shim = stand_in()
    result = cli("verify", "--live", "--provider", "openai", "--base-url", server.url, "--interval", "1",
                 "--probe-model", "openai/gpt-6-sol", env=KEYS)
    assert result.code == 0, result
    assert '"model": "gpt-6-sol"' in _upload(shim)

    # listed, but without a published price: said so, with the way out
    result = cli("verify", "--live", "--base-url", server.url, "--probe-model", "openai/gpt-6.1-sol",
                 "--provider", "openai", env=KEYS)
    assert result.code == 2, result
    assert ("openai/gpt-6.1-sol is listed by `pytest-batch list-models` but no price is published for it"
            in result.out)
    assert "openai/openai/" not in result.out and "--probe-model" not in result.err
    assert "the default, openai/gpt-6-luna" in result.out

    # a bare name is for one provider; with every provider it must say which
    result = cli("verify", "--live", "--base-url", server.url, "--probe-model", "gpt-6-sol", env=KEYS)
    assert result.code == 2 and "--probe-model gpt-6-sol: name its provider (e.g. openai/gpt-6-sol)" in result.err
    result = cli("verify", "--live", "--base-url", server.url, "--probe-model", "mistral/small", env=KEYS)
    assert result.code == 2 and "expected PROVIDER/MODEL for a provider probed here" in result.err


def _upload(shim: Any) -> str:
    """The probe's batch input file, as the stand-in received it."""
    return b"".join(f.content for f in shim.emulator.openai.files.values() if f.purpose == "batch").decode()


def test_live_probe_of_an_emulator_is_labelled_emulator(cli: Runner, stand_in: Any, fake_clock: FakeClock) -> None:
    server, _ = stand_in()
    data = cli("verify", "--live", "--provider", "google", "--base-url", server.url, "--interval", "1", "--json",
               env=KEYS).json()
    assert [r["recorded_against"] for r in data["recordings"]] == ["emulator"]  # x-pytest-batch-emulator: 1

    unmarked, _ = stand_in(strip_marker=True)
    result = cli("verify", "--live", "--provider", "google", "--base-url", unmarked.url, "--interval", "1",
                 env=KEYS)
    assert result.code == 0 and "(recorded against: live)" in result.out, result
