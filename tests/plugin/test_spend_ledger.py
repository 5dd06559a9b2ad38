"""--batch-max-requests' request count: one per run, shared by xdist workers through a locked file."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_batch.plugin.modes import RequestLedger, request_ledger


def _worker_config(basetemp: Path, workercount: int = 2) -> SimpleNamespace:
    factory = SimpleNamespace(getbasetemp=lambda: basetemp)
    return SimpleNamespace(workerinput={"workerid": "gw0", "workercount": workercount, "testrunuid": "abc"},
                           _tmp_path_factory=factory)


def test_workers_of_one_run_count_into_one_file(tmp_path: Path) -> None:
    first = request_ledger(_worker_config(tmp_path / "gw0"))
    second = request_ledger(_worker_config(tmp_path / "gw1"))
    assert first.path == second.path == tmp_path / "pytest-batch-submitted-abc"
    assert first.reserve(10, 25) is None
    assert second.reserve(10, 25) is None
    assert first.reserve(10, 25) == 20, "the second worker's requests count against the first's limit"
    assert first.path.read_text() == "20"


def test_without_a_shared_file_the_process_counts_alone() -> None:
    ledger = request_ledger(SimpleNamespace())
    assert ledger.path is None
    assert ledger.reserve(10, 15) is None
    assert ledger.reserve(10, 15) == 10


def test_without_fcntl_each_worker_gets_its_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)  # as on Windows
    ledger = request_ledger(_worker_config(tmp_path / "gw0", workercount=2))
    assert ledger.path is None
    assert ledger.limit_for_this_process(25) == 12
    assert RequestLedger().limit_for_this_process(25) == 25
