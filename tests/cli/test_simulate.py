"""Offline: --simulate keeps the emulator's state between separate invocations, so
create -> status -> results works without keys or network; `demo` and the example script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_batch.seed import EXPECTED_USERS
from tests.cli.conftest import EXAMPLES, Runner

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-3-5-sonnet-20241022", "google/gemini-2.0-flash-001"]


@pytest.mark.sdk_matrix
@pytest.mark.parametrize("model", MODELS)
def test_create_status_results_across_invocations(cli, model):
    sim = ("--model", model, "--simulate", "--state-dir", "state")
    created = cli("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), *sim, "--json")
    assert created.code == 0, created
    batch_id = created.json()["id"]

    if model.startswith("openai"):  # one provider is enough to see progress between invocations
        first = cli("status", "--batch-id", batch_id, *sim, "--json")
        assert first.code == 0, first
        assert first.json()["status"] in ("validating", "in_progress")  # the default lifecycle is polls:2

    waited = cli("status", "--batch-id", batch_id, *sim, "--wait", "--json")
    assert waited.code == 0, waited
    assert waited.json()["status"] == "completed"
    assert waited.json()["counts"]["succeeded"] == 10

    results = cli("results", "--batch-id", batch_id, *sim, "--output-file", "out/users.jsonl",
                  "--response-model", "examples.User")
    assert results.code == 0, results
    assert "10 succeeded, 0 failed" in results.out
    rows = [json.loads(line) for line in (cli.cwd / "out" / "users.jsonl").read_text().splitlines()]
    by_id = {row["custom_id"]: row["value"] for row in rows if row["ok"]}
    assert [by_id[f"user-{i}"] for i in range(1, 11)] == [user.model_dump() for user in EXPECTED_USERS]


def test_responses_file_sets_answers_and_raw_results_keep_provider_lines(cli):
    (cli.cwd / "prompts.jsonl").write_text('{"custom_id": "a", "prompt": "Zed is 7."}\n'
                                           '{"custom_id": "b", "prompt": "nobody here"}\n')
    (cli.cwd / "answers.jsonl").write_text('{"match": "Zed", "response": {"name": "Zed", "age": 7}}\n')
    sim = ("--model", "openai/gpt-4o-mini", "--simulate", "--state-dir", "state", "--lifecycle", "immediate",
           "--responses", "answers.jsonl")
    batch_id = cli("create", "--messages-file", "prompts.jsonl", *sim, "--json").json()["id"]
    raw = cli("results", "--batch-id", batch_id, *sim, "--output-file", "raw.jsonl")
    assert raw.code == 0, raw
    lines = {row["custom_id"]: row for row in map(json.loads, (cli.cwd / "raw.jsonl").read_text().splitlines())}
    body = lines["a"]["response"]["body"]  # OpenAI's output-file line, unchanged
    assert json.loads(body["choices"][0]["message"]["content"]) == {"name": "Zed", "age": 7}
    synthetic = json.loads(lines["b"]["response"]["body"]["choices"][0]["message"]["content"])
    assert set(synthetic) == {"name", "age"} and isinstance(synthetic["age"], int)  # schema-valid, not a model


def test_a_responses_file_with_an_unquoted_number_is_refused_before_anything_is_saved(cli):
    """``- match: 12345`` (YAML reads an int) used to be saved, and every later command in that
    state dir answered HTTP 500: it is refused (exit 1, as a bad --messages-file)
    naming the file, the entry and the field."""
    (cli.cwd / "prompts.jsonl").write_text('{"custom_id": "a", "prompt": "Order 12345"}\n')
    (cli.cwd / "num.yaml").write_text("- match: 12345\n  response: {name: Zed, age: 7}\n")
    sim = ("--model", "openai/gpt-4o-mini", "--simulate", "--state-dir", "state", "--lifecycle", "immediate")
    refused = cli("create", "--messages-file", "prompts.jsonl", *sim, "--responses", "num.yaml")
    assert refused.code == 1, refused  # a bad input file, as a bad --messages-file (test_errors.py)
    assert "num.yaml item 1: 'match' must be a string" in refused.err and "got int 12345" in refused.err, refused
    assert "Traceback" not in refused.err
    created = cli("create", "--messages-file", "prompts.jsonl", *sim, "--json")
    assert created.code == 0, created
    listed = cli("status", "--batch-id", created.json()["id"], *sim, "--json")
    assert listed.code == 0 and listed.json()["status"] == "completed", listed


def test_a_batch_that_does_not_end_times_out(cli, fake_clock):
    sim = ("--model", "openai/gpt-4o-mini", "--simulate", "--state-dir", "state")
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    batch_id = cli("create", "--messages-file", "prompt.jsonl", *sim, "--lifecycle", "manual", "--json").json()["id"]
    early = cli("results", "--batch-id", batch_id, *sim, "--output-file", "out.jsonl")
    assert early.code == 1 and f"follow it with `pytest-batch status --batch-id {batch_id} " in early.err, early
    assert not (cli.cwd / "out.jsonl").exists()
    waited = cli("status", "--batch-id", batch_id, *sim, "--wait", "--timeout", "0.3")
    assert waited.code == 6 and "still validating after --timeout 0.3s" in waited.err, waited
    assert sum(fake_clock.sleeps) == pytest.approx(0.3)  # polled every 50 ms up to the deadline, not past it
    a_day = cli("status", "--batch-id", batch_id, *sim, "--wait", "--timeout", "1e6", "--interval", "2e5")  # "1e+06s"
    assert a_day.code == 6 and "still validating after --timeout 1000000s;" in a_day.err, a_day
    # waiting again cannot help a 'manual' batch: the message says how to make one that ends
    assert waited.err.rstrip().endswith("its simulated state's lifecycle is 'manual', so nothing finishes it from "
                                        "the CLI: create it again with --lifecycle polls:N or seconds:S"), waited


def test_a_simulated_batch_that_ends_later_times_out_with_the_advice_to_wait_again(cli, fake_clock):
    sim = ("--model", "openai/gpt-6-luna", "--simulate", "--state-dir", "state")
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    batch_id = cli("create", "--messages-file", "prompt.jsonl", *sim, "--lifecycle", "polls:50", "--json").json()["id"]
    waited = cli("status", "--batch-id", batch_id, *sim, "--wait", "--timeout", "0.3")
    assert waited.code == 6 and waited.err.rstrip().endswith("run `status --wait` again, or raise --timeout"), waited


def test_demo_all_providers(cli):
    result = cli("demo", "--provider", "all")
    assert result.code == 0, result
    for provider in ("openai", "anthropic", "google", "azure"):
        assert f"{provider}: 10/10 extracted, all match the expected users" in result.out
    assert "Alice" in result.out and "Ryan" in result.out


def test_demo_fails_when_results_differ():
    from pytest_batch.cli.demo import run_demo
    from pytest_batch.cli.state import new_emulator
    from pytest_batch.sim import Expectation

    emulator = new_emulator(lifecycle="immediate")
    emulator.responder.expectations.insert(0, Expectation({"name": "Alice", "age": 99}, match="Alice"))
    assert run_demo("anthropic", as_json=True, emulator=emulator) == 1


def test_example_script_creates_on_every_provider_offline(cli, capfd):
    script = EXAMPLES / "run_batch_test.py"
    made = [
        cli("create", "--model", "openai/gpt-4o-mini", script=script),  # no key: falls back to the emulator
        cli("create", "--model", "anthropic/claude-3-5-sonnet-20241022", "--simulate", script=script),
        cli("create", "--model", "google/gemini-2.0-flash-001", script=script, env={"PYTEST_BATCH_SIMULATE": "1"}),
    ]
    for provider, result in zip(("openai", "anthropic", "google"), made, strict=True):
        assert result.code == 0, result
        assert (cli.cwd / f"{provider}_batch_id.txt").read_text().strip() in result.out
    # the CLI follows the example's batch in the same state directory
    batch_id = (cli.cwd / "openai_batch_id.txt").read_text().strip()
    waited = cli("status", "--model", "openai/gpt-4o-mini", "--batch-id", batch_id, "--simulate",
                 "--wait", "--json")
    assert (waited.code, waited.json()["status"]) == (0, "completed"), waited
    listed = cli("list-models", script=script)
    assert listed.code == 0 and "anthropic/claude-3-haiku-20240307" in listed.out, listed


def test_submit_refuses_a_file_built_for_another_model(cli):
    """The file's model used to be submitted while the CLI reported --model's."""
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS

    for model in ("anthropic/claude-3-haiku-20240307", "openai/gpt-4o-mini"):
        BatchProcessor(model).build(list(SEED_PROMPTS[:2]), output=cli.cwd / f"{model.partition('/')[0]}.jsonl")
    sim = ("--simulate", "--state-dir", "state")
    other_model = cli("submit", "--file-path", "anthropic.jsonl", "--model", "anthropic/claude-3-opus-20240229", *sim)
    assert (other_model.code, other_model.out) == (2, ""), other_model
    assert other_model.err.startswith("❌ Error: anthropic.jsonl was built for anthropic/claude-3-haiku-20240307, "
                                      "not --model anthropic/claude-3-opus-20240229 (each request line names its "
                                      "model); pass --model anthropic/claude-3-haiku-20240307, or rebuild"), other_model
    other_provider = cli("create-from-file", "--file-path", "openai.jsonl",
                         "--model", "anthropic/claude-3-haiku-20240307", *sim)
    assert other_provider.code == 2, other_provider
    assert other_provider.err == ("❌ Error: openai.jsonl holds openai requests (built for openai/gpt-4o-mini), but "
                                  "--model is anthropic/claude-3-haiku-20240307; pass --model openai/gpt-4o-mini\n")
    assert not (cli.cwd / "state").exists()  # refused before anything was sent
    same = cli("submit", "--file-path", "anthropic.jsonl", "--model", "anthropic/claude-3-haiku-20240307", *sim,
               "--json")
    assert same.code == 0 and same.json()["model"] in ("claude-3-haiku-20240307", "anthropic/claude-3-haiku-20240307")


def test_state_is_found_or_named_and_never_created_by_a_read(cli):
    """From another directory, reads said "OpenAI has no batch ..." and left an empty ./.pytest-batch."""
    sim = ("--model", "openai/gpt-4o-mini", "--simulate")
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    batch_id = cli("create", "--messages-file", "prompt.jsonl", *sim, "--json").json()["id"]
    other = cli.elsewhere("sub")
    missing_state = f"no simulated state in {other.cwd / '.pytest-batch'} (nothing was created with --simulate here)"
    for command in (("status", "--batch-id", batch_id), ("cancel", "--batch-id", batch_id),
                    ("delete", "--batch-id", batch_id), ("results", "--batch-id", batch_id, "--output-file", "o")):
        result = other(*command, *sim)
        assert (result.code, result.out) == (1, ""), result
        assert result.err.startswith(f"❌ Error: {missing_state}; run the command where you created the batch, "
                                     "or pass --state-dir DIR"), result
    listed = other("list", *sim)
    assert (listed.code, listed.err) == (0, "") and listed.out.startswith(f"No openai batches: {missing_state}")
    assert other("list", *sim, "--json").json() == []
    assert sorted(p.name for p in other.cwd.iterdir()) == []  # nothing created by a read
    found = other("status", "--batch-id", batch_id, *sim, "--state-dir", "../.pytest-batch", "--json")
    assert found.code == 0 and found.json()["id"] == batch_id, found

    unknown = cli("status", "--batch-id", "batch_nope", *sim)
    assert unknown.code == 1, unknown
    assert unknown.err.startswith("❌ Error: OpenAI has no batch 'batch_nope'"), unknown
    assert f"; looked in the simulated state {cli.cwd / '.pytest-batch' / 'emulator.pickle'} (if you created the " \
           "batch elsewhere, pass --state-dir DIR or set PYTEST_BATCH_STATE_DIR" in unknown.err, unknown

    # a new state directory draws its own seed: its first batch gets another id
    again = other("create", "--messages-file", "../prompt.jsonl", *sim, "--json")
    assert again.code == 0 and again.json()["id"] != batch_id, again


def test_demo_and_new_states_draw_their_own_seed():
    from pytest_batch.cli.state import new_emulator

    first, second = new_emulator(), new_emulator()
    assert first.seed != second.seed
    assert first.ids.openai_batch() != second.ids.openai_batch()
    assert new_emulator(seed=3).ids.openai_batch() == new_emulator(seed=3).ids.openai_batch()


def test_a_state_file_not_written_for_this_user_is_never_loaded(cli):
    """The state is a pickle: one from a cloned checkout or another user would run its code."""
    import os
    import pickle

    sim = ("--model", "openai/gpt-4o-mini", "--simulate", "--state-dir", "state")
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    assert cli("create", "--messages-file", "prompt.jsonl", *sim).code == 0
    state = cli.cwd / "state" / "emulator.pickle"
    assert state.stat().st_mode & 0o777 == 0o600
    key = cli.config_home / "pytest-batch" / "state.key"
    assert key.stat().st_mode & 0o777 == 0o600

    state.chmod(0o666)
    writable = cli("list", *sim)
    assert writable.code == 1, writable
    assert writable.err.startswith(f"❌ Error: refusing to load the simulated state {Path('state/emulator.pickle')}: "
                                   "it is a pickle, and loading it would run its code, and other users may write "
                                   "it (mode 666)"), writable

    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    state.write_bytes(pickle.dumps(Exploit()))  # what a checkout could ship
    state.chmod(0o600)
    for command in (("list",), ("create", "--messages-file", "prompt.jsonl")):
        refused = cli(*command, *sim)
        assert refused.code == 1, refused
        assert "and it was not written by pytest-batch for you (its signature does not match your key " in refused.err
    assert not (cli.cwd / "pwned").exists()
    other_key = Runner(cli.cwd, cli.cwd / "other-config")  # another user's key: their state is refused too
    state.unlink()
    assert cli("create", "--messages-file", "prompt.jsonl", *sim).code == 0
    assert "signature does not match" in other_key("list", *sim).err


def test_submit_list_cancel_delete_and_list_models_offline(cli):
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS

    BatchProcessor("openai/gpt-4o-mini").build(list(SEED_PROMPTS[:2]), output=cli.cwd / "req.jsonl")
    openai = ("--model", "openai/gpt-4o-mini", "--simulate", "--lifecycle", "manual")
    submitted = cli("submit", "--file-path", "req.jsonl", *openai, "--json")
    assert submitted.code == 0 and submitted.json()["counts"]["total"] in (0, 2), submitted
    first = submitted.json()["id"]
    second = cli("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), *openai, "--json").json()["id"]
    listed = cli("list", *openai)
    assert listed.code == 0 and first in listed.out and second in listed.out, listed
    assert "gpt-4o-mini" in listed.out and "simulated (.pytest-batch/emulator.pickle)" in listed.out, listed

    running = cli("delete", "--batch-id", first, *openai)  # still running: the way to stop it is cancel
    assert (running.code, running.out) == (1, ""), running
    assert running.err.startswith(f"❌ Error: OpenAI batches cannot be deleted ({first}); only their files"), running
    assert f"to stop it, cancel it: `pytest-batch cancel --batch-id {first} --model openai/gpt-4o-mini --simulate`" \
        in running.err, running
    cancelled = cli("cancel", "--batch-id", first, *openai, "--json")
    assert cancelled.code == 0 and cancelled.json()["status"] in ("cancelling", "cancelled"), cancelled

    anthropic = ("--model", "anthropic/claude-3-5-sonnet-20241022", "--simulate", "--lifecycle", "immediate")
    batch_id = cli("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), *anthropic, "--json").json()["id"]
    assert cli("status", "--batch-id", batch_id, *anthropic).code == 0  # immediate: ended on its first read
    ended = cli("cancel", "--batch-id", batch_id, *anthropic)
    assert ended.code == 0 and f"Batch {batch_id} had already ended (completed): nothing to cancel" in ended.out
    deleted = cli("delete", "--batch-id", batch_id, *anthropic)
    assert (deleted.code, deleted.out.strip()) == (0, f"✅ Deleted anthropic batch {batch_id}"), deleted
    gone = cli("status", "--batch-id", batch_id, *anthropic)
    assert gone.code == 1 and batch_id in gone.err and "looked in the simulated state" in gone.err, gone

    models = cli("list-models", "--json", env={"PYTEST_BATCH_SIMULATE": "1"})  # needs no target, no state
    assert models.code == 0 and "openai/gpt-4o-mini" in [row["model"] for row in models.json()["openai"]], models


def test_a_signing_key_other_users_may_read_is_refused_with_the_chmod_to_run(cli):
    """Like ssh with an unprotected private key: whoever can read the key can sign a state that runs
    their code as you."""
    sim = ("--model", "openai/gpt-4o-mini", "--simulate")
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    assert cli("create", "--messages-file", "prompt.jsonl", *sim).code == 0
    key = cli.config_home / "pytest-batch" / "state.key"
    for mode in (0o644, 0o640, 0o604):
        key.chmod(mode)
        refused = cli("list", *sim)
        assert refused.code == 1, refused
        assert refused.err.startswith(f"❌ Error: refusing to use the state signing key {key}: other users may "
                                      f"read it (mode {mode:o})"), refused
        assert refused.err.rstrip().endswith(f"run `chmod 600 {key}`"), refused
    key.chmod(0o600)  # the command it gave is the whole fix
    assert cli("list", *sim).code == 0
