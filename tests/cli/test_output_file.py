"""`--output-file` writes what the user named the way `> NAME` would: `-` is stdout, a symlink is
written through (the link stays), a pipe or a device is written as it is, and only a regular
file is replaced, atomically, once everything is downloaded. It used to replace whatever was
there with a regular file: the link, the FIFO, even (as root) the /dev/stdout symlink."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS
from tests.cli.conftest import clean_env

SIM = ("--model", "openai/gpt-4o-mini", "--simulate", "--state-dir", "state")


def _finished_batch(cli) -> str:
    """A completed batch of two of the seed's prompts (answered with their users)."""
    (cli.cwd / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in SEED_PROMPTS[:2]))
    created = cli("create", "--messages-file", "prompts.jsonl", *SIM, "--lifecycle", "immediate", "--json")
    assert created.code == 0, created
    return created.json()["id"]


def _rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_dash_writes_the_results_to_stdout_and_the_report_to_stderr(cli):
    batch_id = _finished_batch(cli)
    result = cli("results", "--batch-id", batch_id, *SIM, "--output-file", "-", "--response-model",
                 "pytest_batch.seed:User")
    assert result.code == 0, result
    rows = _rows(result.out)  # nothing but the JSON lines: a pipe into jq gets data only
    assert [row["value"] for row in rows] == [user.model_dump() for user in EXPECTED_USERS[:2]], result
    assert result.err.startswith(f"✅ Wrote 2 results of {batch_id} to stdout (parsed into User)"), result
    assert not (cli.cwd / "-").exists()
    as_json = cli("results", "--batch-id", batch_id, *SIM, "--output-file", "-", "--json")
    assert as_json.code == 0 and len(_rows(as_json.out)) == 2, as_json
    assert json.loads(as_json.err)["output_file"] == "-", as_json


def test_create_output_file_dash_writes_the_request_file_to_stdout(cli):
    (cli.cwd / "prompts.jsonl").write_text('"Zed is 7."\n')
    result = cli("create", "--messages-file", "prompts.jsonl", "--model", "openai/gpt-4o-mini", "--output-file", "-")
    assert result.code == 0, result
    [line] = _rows(result.out)
    assert line["custom_id"] == "request-1" and line["body"]["model"] == "gpt-4o-mini", result
    assert "✅ Wrote 1 openai requests to stdout" in result.err and "--file-path FILE" in result.err, result
    assert not (cli.cwd / "-").exists()


def test_a_symlink_is_written_through_and_stays_a_link(cli):
    batch_id = _finished_batch(cli)
    (cli.cwd / "data").mkdir()
    target = cli.cwd / "data" / "latest.jsonl"
    target.write_text("old content\n")
    target.chmod(0o640)
    link = cli.cwd / "link.jsonl"
    link.symlink_to(os.path.join("data", "latest.jsonl"))  # relative, as `ln -s` makes them
    result = cli("results", "--batch-id", batch_id, *SIM, "--output-file", "link.jsonl")
    assert result.code == 0, result
    assert link.is_symlink() and os.readlink(link) == os.path.join("data", "latest.jsonl")
    assert len(_rows(target.read_text())) == 2  # the target has the results, not the old content
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # and keeps the permissions it had
    assert sorted(p.name for p in (cli.cwd / "data").iterdir()) == ["latest.jsonl"]  # no side file left
    dangling = cli.cwd / "dangling.jsonl"
    dangling.symlink_to("data/new.jsonl")
    again = cli("results", "--batch-id", batch_id, *SIM, "--output-file", "dangling.jsonl")
    assert again.code == 0 and dangling.is_symlink() and len(_rows(dangling.read_text())) == 2, again


def test_a_named_pipe_is_written_not_replaced(cli):
    batch_id = _finished_batch(cli)
    fifo = cli.cwd / "results.fifo"
    os.mkfifo(fifo)
    # a reader that is already there (non-blocking: the CLI's open must not wait, and this test must not hang)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = cli("results", "--batch-id", batch_id, *SIM, "--output-file", str(fifo))
        received = b""
        while chunk := _read_available(reader):
            received += chunk
    finally:
        os.close(reader)
    assert result.code == 0, result
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced by a regular file"
    assert len(_rows(received.decode())) == 2


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def _results_to_dev_stdout(cli, batch_id: str, stdout) -> subprocess.CompletedProcess:
    """`pytest-batch results --output-file /dev/stdout` in a real process (in this one /dev/stdout
    would be the test runner's own)."""
    env = clean_env(XDG_CONFIG_HOME=str(cli.config_home))
    return subprocess.run([sys.executable, "-m", "pytest_batch.cli", "results", "--batch-id", batch_id, *SIM,
                           "--output-file", "/dev/stdout"], cwd=cli.cwd, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, check=False)


def test_dev_stdout_is_the_process_stdout_a_pipe(cli):
    batch_id = _finished_batch(cli)
    done = _results_to_dev_stdout(cli, batch_id, subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    assert len(_rows(done.stdout)) == 2, done
    assert "✅ Wrote 2 results" in done.stderr, done.stderr
    assert os.path.islink("/dev/stdout")


def test_dev_stdout_is_the_process_stdout_a_file_it_appends_to(cli):
    """`pytest-batch results --output-file /dev/stdout >> log`: the log keeps what it had."""
    batch_id = _finished_batch(cli)
    log = cli.cwd / "log.jsonl"
    log.write_text('{"earlier": true}\n')
    with log.open("a") as handle:
        done = _results_to_dev_stdout(cli, batch_id, handle)
    assert done.returncode == 0, done.stderr
    rows = _rows(log.read_text())
    assert rows[0] == {"earlier": True} and len(rows) == 3, rows
    assert os.path.islink("/dev/stdout")
