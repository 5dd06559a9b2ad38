"""The CLI against an emulator server (``--base-url``) for what the happy-path tests of
test_server.py do not reach: batches that did not complete, every provider's cancel, delete
and submit, and the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.cli.conftest import clean_env, submit_direct

OPENAI, ANTHROPIC, GOOGLE = "openai/gpt-4o-mini", "anthropic/claude-3-5-sonnet-20241022", "google/gemini-2.0-flash-001"


def test_results_of_a_batch_that_did_not_complete_exit_with_its_code(cli, emulator_server):
    """Known only by id, a failed, expired or cancelled batch used to exit 0 with a ✅ (Gemini: 0 lines)."""
    emulator = emulator_server.emulator
    emulator.faults.batch("expire")
    expired = submit_direct(emulator, GOOGLE)
    emulator.faults.batch("validation_failure")
    failed = submit_direct(emulator, OPENAI)
    emulator.set_lifecycle("manual", next_batch=True)
    cancelled = submit_direct(emulator, ANTHROPIC)
    cli("cancel", "--batch-id", cancelled, "--model", ANTHROPIC, "--base-url", emulator_server.url)
    emulator.advance()
    complete = submit_direct(emulator, GOOGLE)

    for model, batch_id, code, state in ((GOOGLE, expired, 4, "expired"), (OPENAI, failed, 3, "failed"),
                                         (ANTHROPIC, cancelled, 5, "cancelled")):
        result = cli("results", "--batch-id", batch_id, "--model", model, "--base-url", emulator_server.url,
                     "--output-file", "out.jsonl")
        assert result.code == code, result
        assert "✅" not in result.out and result.out.startswith("⚠️  Wrote "), result
        assert result.err.startswith("⚠️  3 of 3 requests ") and result.err.endswith(f"(batch {state})\n"), result
        # Gemini returns nothing for an expired batch; the others' rows say why each never ran
        said = "are not in the file" if model == GOOGLE else "never ran (in the file as expired / canceled / missing)"
        assert said in result.err, result
        assert (cli.cwd / "out.jsonl").exists()  # what did come back is kept
    done = cli("results", "--batch-id", complete, "--model", GOOGLE, "--base-url", emulator_server.url,
               "--output-file", "out.jsonl", "--response-model", "pytest_batch.seed:User")
    assert (done.code, done.err) == (0, ""), done
    assert done.out.startswith("✅ Wrote 3 results") and "3 succeeded, 0 failed" in done.out, done


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC, GOOGLE])
def test_status_wait_timeout_ends_at_the_deadline_with_a_last_poll(cli, emulator_server, fake_clock, model):
    """`--timeout 2` waits the whole 2 s (it used to give up at once with the default 5 s first pause)
    and no longer (it used to overshoot by 2-4 s): its pauses add up to exactly the timeout, and
    the last poll happens at the deadline."""
    provider = model.partition("/")[0]
    emulator_server.emulator.set_lifecycle("manual", next_batch=True)
    batch_id = submit_direct(emulator_server.emulator, model, count=1)
    waited = cli("status", "--batch-id", batch_id, "--model", model, "--base-url", emulator_server.url, "--wait",
                 "--timeout", "2")
    assert waited.code == 6, waited
    assert waited.err.startswith(f"❌ Error: batch {batch_id} is still "), waited
    assert waited.err.endswith(" after --timeout 2s; run `status --wait` again, or raise --timeout\n"), waited
    assert fake_clock.sleeps == [2.0] and fake_clock.now == 2.0
    polls = emulator_server.emulator.journal.calls(provider, "GET", path_contains=batch_id.rpartition("/")[2])
    assert len(polls) == 3, polls  # the first read, the wait's first poll, a last poll at the deadline


def test_status_wait_counts_the_timeout_from_the_command_start(cli, emulator_server, fake_clock, monkeypatch):
    """Start-up (importing an SDK takes a second or two) counts against --timeout: a command whose
    time ran out before its wait began reads the batch once and stops."""
    from pytest_batch.cli import commands

    emulator_server.emulator.set_lifecycle("manual", next_batch=True)
    batch_id = submit_direct(emulator_server.emulator, OPENAI, count=1)
    real_processor = commands._Run.processor

    def slow_start(run, *args, **kwargs):
        fake_clock.now += 3  # the SDK import and client construction
        return real_processor(run, *args, **kwargs)

    monkeypatch.setattr(commands._Run, "processor", slow_start)
    waited = cli("status", "--batch-id", batch_id, "--model", OPENAI, "--base-url", emulator_server.url, "--wait",
                 "--timeout", "2")
    assert waited.code == 6 and "still validating after --timeout 2s" in waited.err, waited
    assert fake_clock.sleeps == []
    assert len(emulator_server.emulator.journal.calls("openai", "GET", path_contains=batch_id)) == 1


def test_status_and_results_of_an_anthropic_batch_where_everything_errored(cli, emulator_server):
    """Anthropic has no "failed" state: such a batch exited 0; its Model column was "-"."""
    emulator = emulator_server.emulator
    emulator.faults.batch("validation_failure")  # on Anthropic: the batch ends, every request errored
    batch_id = submit_direct(emulator, ANTHROPIC)
    target = ("--batch-id", batch_id, "--model", ANTHROPIC, "--base-url", emulator_server.url)
    waited = cli("status", *target, "--wait")
    assert waited.code == 3, waited
    assert "the batch completed, but none of its 3 requests succeeded (exit code 3, as for a failed batch)" \
        in waited.out, waited
    # a batch this CLI did not create: Anthropic names no model, and --model is not the batch's
    assert "claude-3-5-sonnet-20241022" not in waited.out and "│ -" in waited.out, waited
    results = cli("results", *target, "--output-file", "out.jsonl")
    assert results.code == 3 and results.err == "⚠️  none of the 3 requests succeeded (batch completed)\n", results

    unknown = cli("status", "--batch-id", "msgbatch_nope", "--model", ANTHROPIC, "--base-url", emulator_server.url,
                  "--wait")
    assert (unknown.code, unknown.out) == (1, ""), unknown  # no stray line from a progress bar


def test_a_key_and_an_sdk_base_url_name_the_host_and_openai_delete_names_the_files(cli, emulator_server):
    host = emulator_server.url.removeprefix("http://")
    env = {"OPENAI_API_KEY": "sk-local", "OPENAI_BASE_URL": emulator_server.base_urls["openai"]}
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    created = cli("create", "--messages-file", "prompt.jsonl", "--model", OPENAI, env=env)
    assert created.code == 0, created
    assert f"({host} from OPENAI_BASE_URL)" in created.out and "live API" not in created.out, created
    batch_id = created.out.split("batch ")[1].split()[0]
    deleted = cli("delete", "--batch-id", batch_id, "--model", OPENAI, env=env)
    assert (deleted.code, deleted.out) == (1, ""), deleted
    assert deleted.err == (f"❌ Error: OpenAI batches cannot be deleted ({batch_id}); only their files can (input, "
                           "output and error files, with the OpenAI Files API)\n"), deleted


@pytest.mark.parametrize("model", [ANTHROPIC, GOOGLE])
def test_submit_cancel_and_delete_on_anthropic_and_gemini(cli, emulator_server, model):
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS

    BatchProcessor(model).build(list(SEED_PROMPTS[:2]), output=cli.cwd / "req.jsonl")
    target = ("--model", model, "--base-url", emulator_server.url)
    emulator_server.emulator.set_lifecycle("manual", next_batch=True)
    submitted = cli("submit", "--file-path", "req.jsonl", *target, "--json")
    assert submitted.code == 0, submitted
    batch_id = submitted.json()["id"]
    cancelled = cli("cancel", "--batch-id", batch_id, *target)
    assert cancelled.code == 0 and f"✅ Cancel requested for {batch_id}" in cancelled.out, cancelled
    emulator_server.emulator.advance()
    assert cli("status", "--batch-id", batch_id, *target).code == 5  # cancelled
    deleted = cli("delete", "--batch-id", batch_id, *target, "--json")
    assert (deleted.code, deleted.json()) == (0, {"id": batch_id, "deleted": True}), deleted
    gone = cli("status", "--batch-id", batch_id, *target)
    assert gone.code == 1 and len(gone.err.splitlines()) == 1, gone


def test_the_installed_console_script(tmp_path):
    """`pytest-batch` as installed (the entry point), not `python -m pytest_batch.cli`."""
    script = shutil.which("pytest-batch")
    if script is None:
        pytest.skip("the pytest-batch console script is not installed")
    (tmp_path / "prompt.jsonl").write_text('"Zed is 7."\n')
    env = clean_env(XDG_CONFIG_HOME=str(tmp_path / ".config"))
    done = subprocess.run([script, "create", "--messages-file", "prompt.jsonl", "--model", OPENAI, "--simulate",
                           "--lifecycle", "immediate", "--json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    batch_id = json.loads(done.stdout)["id"]
    status = subprocess.run([script, "status", "--batch-id", batch_id, "--model", OPENAI, "--simulate"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert status.returncode == 0 and "completed" in status.stdout, status.stderr
    usage = subprocess.run([script, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                           check=False)
    assert usage.returncode == 2 and usage.stderr.startswith("❌ Error: "), usage.stderr
