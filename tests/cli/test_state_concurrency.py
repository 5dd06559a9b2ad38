"""Commands sharing one --simulate state directory at the same time. The state is locked only
while one request reads and writes it: `status --wait` used to hold the lock for its whole
wait (a concurrent `list` blocked 33 s without a word), saved its stale copy over a state made
meanwhile (that batch was gone), and parallel `create`s queued behind each other's SDK import."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_batch.cli import commands
from pytest_batch.seed import SEED_PROMPTS
from tests.cli.conftest import clean_env

SIM = ("--model", "openai/gpt-4o-mini", "--simulate", "--state-dir", "state")


def _state_is_locked(directory: Path) -> bool:
    """Whether another command would have to wait for the state directory now."""
    with open(directory / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _create(cli, prompt: str = SEED_PROMPTS[0], *extra: str) -> str:
    (cli.cwd / "prompt.jsonl").write_text(json.dumps(prompt) + "\n")
    created = cli("create", "--messages-file", "prompt.jsonl", *SIM, *extra, "--json")
    assert created.code == 0, created
    return created.json()["id"]


def _listed(cli) -> list[str]:
    listed = cli("list", *SIM, "--limit", "50", "--json")
    assert listed.code == 0, listed
    return [job["id"] for job in listed.json()]


def _between_polls(monkeypatch, fake_clock, action) -> None:
    """Run ``action`` (once) while `status --wait` sleeps between two polls."""
    done: list[bool] = []

    def sleep(seconds: float) -> None:
        fake_clock.sleep(seconds)
        if not done:
            done.append(True)
            action()

    monkeypatch.setattr(commands, "sleep", sleep)


def test_other_commands_run_while_status_waits_and_their_batches_are_kept(cli, fake_clock, monkeypatch):
    waited_id = _create(cli, SEED_PROMPTS[0], "--lifecycle", "polls:4")  # ends on the 4th read: the wait sleeps
    seen: dict[str, object] = {}

    def meanwhile() -> None:
        assert not _state_is_locked(cli.cwd / "state"), "status --wait holds the state lock while it sleeps"
        seen["listed"] = _listed(cli)
        seen["created"] = _create(cli, SEED_PROMPTS[1])

    _between_polls(monkeypatch, fake_clock, meanwhile)
    waited = cli("status", "--batch-id", waited_id, *SIM, "--wait", "--json")
    assert waited.code == 0 and waited.json()["status"] == "completed", waited
    assert seen["listed"] == [waited_id]
    assert sorted(_listed(cli)) == sorted([waited_id, seen["created"]])  # the wait did not save over it


@pytest.mark.parametrize("created_again", [True, False], ids=["removed-and-created-again", "removed"])
def test_a_state_removed_during_a_wait_is_never_saved_over(cli, fake_clock, monkeypatch, created_again):
    """Someone ran `rm -rf .pytest-batch` (and `create`) while `status --wait` waited: when the wait
    ended it saved its old state over the new one, and that batch was gone."""
    waited_id = _create(cli, SEED_PROMPTS[0], "--lifecycle", "polls:4")
    seen: dict[str, str] = {}

    def meanwhile() -> None:
        shutil.rmtree(cli.cwd / "state")
        if created_again:
            seen["created"] = _create(cli, SEED_PROMPTS[1])

    _between_polls(monkeypatch, fake_clock, meanwhile)
    waited = cli("status", "--batch-id", waited_id, *SIM, "--wait", "--json")
    assert (waited.code, waited.out) == (1, ""), waited
    state = Path("state") / "emulator.pickle"
    if created_again:
        assert waited.err.startswith(f"❌ Error: the simulated state {state} was replaced by a new one while this "
                                     "command ran (it was removed and created again); "), waited
        assert _listed(cli) == [seen["created"]]
    else:
        assert waited.err.startswith(f"❌ Error: the simulated state {state} was removed while this command ran; "
                                     "nothing was saved over it"), waited
        assert not (cli.cwd / "state").exists()


def test_create_prepares_its_batch_without_holding_the_lock(cli, monkeypatch):
    """Importing the SDK and building the requests took the lock with them: twenty parallel
    `create`s queued one behind the other (84 s)."""
    probes: list[bool] = []
    real_processor = commands._Run.processor

    def processor(run, *args, **kwargs):
        probes.append(_state_is_locked(cli.cwd / "state"))
        return real_processor(run, *args, **kwargs)

    monkeypatch.setattr(commands._Run, "processor", processor)
    _create(cli)  # a new state
    _create(cli)  # an existing one
    assert probes == [False, False]


def test_parallel_creates_in_separate_processes_keep_every_batch(cli):
    env = clean_env(XDG_CONFIG_HOME=str(cli.config_home))
    processes = []
    for number, prompt in enumerate(SEED_PROMPTS[:4]):
        (cli.cwd / f"prompts-{number}.jsonl").write_text(json.dumps({"prompt": prompt, "custom_id": f"p{number}"}))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "pytest_batch.cli", "create", "--messages-file", f"prompts-{number}.jsonl", *SIM,
             "--json"], cwd=cli.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    created = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0 and "Traceback" not in err, err
        created.append(json.loads(out)["id"])
    assert len(set(created)) == 4
    assert sorted(_listed(cli)) == sorted(created)
