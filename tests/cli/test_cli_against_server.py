"""The CLI against an emulator server (``--base-url``) for what the happy-path tests of
test_server.py do not reach: batches that did not complete, every provider's cancel, delete
and submit, and the installed console script."""

from __future__ import annotations

import time

from tests.cli.conftest import submit_direct

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
        assert result.err == f"⚠️  3 of 3 requests returned no result (batch {state})\n", result
        assert (cli.cwd / "out.jsonl").exists()  # what did come back is kept
    done = cli("results", "--batch-id", complete, "--model", GOOGLE, "--base-url", emulator_server.url,
               "--output-file", "out.jsonl", "--response-model", "pytest_batch.seed:User")
    assert (done.code, done.err) == (0, ""), done
    assert done.out.startswith("✅ Wrote 3 results") and "3 succeeded, 0 failed" in done.out, done


def test_status_wait_timeout_waits_the_whole_timeout(cli, emulator_server):
    """With the default 5 s first pause, `--timeout 2` used to give up at once (after ~0.8 s of startup)."""
    emulator_server.emulator.set_lifecycle("manual", next_batch=True)
    batch_id = submit_direct(emulator_server.emulator, OPENAI, count=1)
    started = time.monotonic()
    waited = cli("status", "--batch-id", batch_id, "--model", OPENAI, "--base-url", emulator_server.url, "--wait",
                 "--timeout", "2")
    elapsed = time.monotonic() - started
    assert waited.code == 6, waited
    assert waited.err == (f"❌ Error: batch {batch_id} is still validating after --timeout 2s; "
                          "run `status --wait` again, or raise --timeout\n"), waited
    assert 2.0 <= elapsed < 8, f"gave up after {elapsed:.2f}s"
    polls = emulator_server.emulator.journal.calls("openai", "GET", path_contains=batch_id)
    assert len(polls) >= 2 and polls[-1].at - polls[0].at >= 1.9, polls  # a last poll at the deadline
