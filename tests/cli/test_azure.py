"""``pytest-batch`` with ``--model azure/<deployment>``: simulated, against `pytest-batch serve`
(its root URL, its Azure endpoint or its v1 URL, or the exports it prints), the messages for a
missing resource, request files, list-models and the demo."""

from __future__ import annotations

import json

import pytest

from pytest_batch.model_catalog import DEFAULT_MODELS

AZURE = "azure/gpt-4o-mini"


def test_create_status_results_simulated(cli):
    from pytest_batch.seed import SEED_PROMPTS

    (cli.cwd / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in SEED_PROMPTS[:2]))
    sim = ("--model", AZURE, "--simulate")
    created = cli("create", "--messages-file", "prompts.jsonl", *sim, "--json")
    assert created.code == 0, created
    batch_id = created.json()["id"]
    assert batch_id.startswith("batch_") and created.json()["provider"] == "azure"
    status = cli("status", "--batch-id", batch_id, *sim, "--wait", "--json")
    assert (status.code, status.json()["status"]) == (0, "completed"), status
    results = cli("results", "--batch-id", batch_id, *sim, "--output-file", "out.jsonl",
                  "--response-model", "pytest_batch.seed:User")
    assert results.code == 0, results
    rows = [json.loads(line) for line in (cli.cwd / "out.jsonl").read_text().splitlines()]
    assert [(row["custom_id"], row["value"]) for row in rows] == [
        ("request-1", {"name": "Alice", "age": 28}), ("request-2", {"name": "Bob", "age": 35})]
    deleted = cli("delete", "--batch-id", batch_id, *sim)
    assert deleted.code == 1
    assert deleted.err.startswith(f"❌ Error: Azure OpenAI batches cannot be deleted ({batch_id}); only their files")


@pytest.mark.parametrize("where", ["root", "endpoint", "v1", "exports"])
def test_against_the_server(cli, emulator_server, where):
    (cli.cwd / "prompts.jsonl").write_text('"Hi, I\'m Alice and I\'m 28."\n')
    endpoint = emulator_server.base_urls["azure"]
    target: tuple[str, ...] = ("--model", AZURE)
    env = None
    if where == "exports":  # what `pytest-batch serve` prints, no key
        env = dict(emulator_server.env)
    else:
        target += ("--base-url", {"root": emulator_server.url, "endpoint": endpoint, "v1": f"{endpoint}/openai/v1"}
                   [where])
    created = cli("create", "--messages-file", "prompts.jsonl", *target, "--json", env=env)
    assert created.code == 0, created
    batch_id = created.json()["id"]
    results = cli("results", "--batch-id", batch_id, *target, "--output-file", "out.jsonl", env=env)
    assert results.code == 0, results
    raw = json.loads((cli.cwd / "out.jsonl").read_text())
    assert raw["custom_id"] == "request-1" and "content_filter_results" in raw["response"]["body"]["choices"][0]
    path = emulator_server.emulator.journal[0].path
    assert path == ("/openai/v1/files" if where == "v1" else "/openai/files")


def test_the_live_api_needs_the_resource_and_a_key(cli):
    (cli.cwd / "prompts.jsonl").write_text('"x"\n')
    no_key = cli("create", "--messages-file", "prompts.jsonl", "--model", AZURE)
    assert no_key.code == 1
    assert no_key.err.startswith("❌ Error: AZURE_OPENAI_API_KEY environment variable is not set (or pass --simulate")
    no_endpoint = cli("create", "--messages-file", "prompts.jsonl", "--model", AZURE,
                      env={"AZURE_OPENAI_API_KEY": "k" * 32})
    assert no_endpoint.code == 1
    assert no_endpoint.err.startswith("❌ Error: AZURE_OPENAI_ENDPOINT environment variable is not set: set it to "
                                      "your Azure OpenAI resource's endpoint, e.g. https://my-resource.openai.azure.com")
    # a real resource without a key is the live API: no placeholder key is sent to it
    resource_only = cli("create", "--messages-file", "prompts.jsonl", "--model", AZURE,
                        env={"AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com"})
    assert resource_only.err.startswith("❌ Error: AZURE_OPENAI_API_KEY environment variable is not set")


def test_request_files_openai_lines_run_on_azure_but_not_the_reverse(cli):
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS

    BatchProcessor(AZURE).build(list(SEED_PROMPTS[:2]), output=cli.cwd / "azure.jsonl")
    BatchProcessor("openai/gpt-4o-mini").build(list(SEED_PROMPTS[:2]), output=cli.cwd / "openai.jsonl")
    refused = cli("submit", "--file-path", "azure.jsonl", "--model", "openai/gpt-4o-mini", "--simulate")
    assert refused.code == 2
    assert "azure.jsonl holds azure requests (built for azure/gpt-4o-mini), but --model is openai/gpt-4o-mini; " \
           "pass --model azure/gpt-4o-mini" in refused.err, refused
    other_deployment = cli("submit", "--file-path", "azure.jsonl", "--model", "azure/other", "--simulate")
    assert other_deployment.code == 2 and "was built for azure/gpt-4o-mini" in other_deployment.err
    accepted = cli("submit", "--file-path", "openai.jsonl", "--model", AZURE, "--simulate", "--json")
    assert accepted.code == 0 and accepted.json()["provider"] == "azure", accepted


def test_list_models_and_the_demo(cli):
    listed = cli("list-models", "--json")
    azure = listed.json()["azure"]
    assert azure[0]["model"] == DEFAULT_MODELS["azure"] and azure[0]["default"], azure
    # deployments named after OpenAI's models, at its prices, without OpenAI's lifecycle
    assert "azure/gpt-4o-mini" in [row["model"] for row in azure] and {row["status"] for row in azure} == {None}
    configured = cli("list-models", env={"PYTEST_BATCH_MODELS": "azure/extract-batch"})
    assert "azure/extract-batch" in configured.out and "configured" in configured.out
    assert "azure/<deployment> names your Global-Batch deployment" in configured.out
    demo = cli("demo", "--provider", "azure", "--json")
    assert demo.code == 0 and demo.json()["providers"][0]["match"] is True, demo


def test_verify_replays_an_azure_cassette_without_drift(cli, emulator_server, tmp_path):
    """A recording of an Azure resource (here the server's) replays through a fresh emulator."""
    import openai

    from pytest_batch.cassettes import preload, use_cassette
    from pytest_batch.processor import BatchProcessor
    from pytest_batch.seed import SEED_PROMPTS, User

    preload()
    cassette = tmp_path / "cassettes" / "azure" / "test_mod" / "test_users.yaml"
    client = openai.AzureOpenAI(azure_endpoint=emulator_server.base_urls["azure"], api_key="local",
                                api_version="2024-10-21", max_retries=0)
    with use_cassette(cassette, mode="record", provider="azure", model="gpt-4o-mini"):
        bp = BatchProcessor(AZURE, User, client=client, sleep=lambda s: None)
        assert len(bp.results(bp.wait(bp.submit(list(SEED_PROMPTS[:2])))).values()) == 2
    verified = cli("verify", "--cassettes", str(cassette.parent.parent.parent), "--json")
    assert verified.code == 0, verified
    data = verified.json()
    assert data["drift"] is False and data["differences"] == [] and data["errors"] == []
    assert [(r["provider"], r["exchanges"] > 3) for r in data["recordings"]] == [("azure", True)]
