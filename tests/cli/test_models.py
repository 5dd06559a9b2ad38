"""One model catalog, and each batch's own model in ``list`` and ``status``."""

from __future__ import annotations

import datetime

import pytest

from .conftest import submit_direct

PROVIDERS = ("openai", "anthropic", "google", "azure")
MADE_UP = "totally-made-up-model"


def _prompts(cli) -> None:
    (cli.cwd / "prompts.jsonl").write_text('"Alice is 30."\n"Bob is 25."\n')


@pytest.mark.parametrize("provider", PROVIDERS)
def test_list_and_status_show_the_model_the_batch_was_created_with(cli, provider):
    """Not the --model of the command that lists it: a batch made with a made-up model lists as
    that model, in the table and in --json, on every provider (Anthropic's batches name no model:
    the CLI records it at create)."""
    _prompts(cli)
    sim = ("--simulate", "--lifecycle", "polls:5")
    created = cli("create", "--messages-file", "prompts.jsonl", "--model", f"{provider}/{MADE_UP}", *sim, "--json")
    assert created.code == 0, created
    assert created.json()["model"] == MADE_UP
    batch_id = created.json()["id"]
    other = f"{provider}/some-other-model"

    listed = cli("list", "--model", other, "--simulate", "--json")
    assert [(job["id"], job["model"]) for job in listed.json()] == [(batch_id, MADE_UP)], listed
    table = cli("list", "--model", other, "--simulate")
    assert MADE_UP in table.out and "some-other-model" not in table.out, table
    status = cli("status", "--batch-id", batch_id, "--model", other, "--simulate", "--json")
    assert status.json()["model"] == MADE_UP, status
    shown = cli("status", "--batch-id", batch_id, "--model", other, "--simulate")
    assert MADE_UP in shown.out and "some-other-model" not in shown.out, shown


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_batch_made_by_another_tool_shows_what_the_api_says(cli, emulator_server, provider):
    """A batch this CLI did not create: OpenAI's and Gemini's batches name their model (OpenAI's
    once its input is validated); Anthropic's and Azure's do not (Azure's batch guide shows no
    ``model``), so theirs is unknown ("-", null), never the command's --model."""
    batch_id = submit_direct(emulator_server.emulator, f"{provider}/{MADE_UP}", count=2)
    target = ("--model", f"{provider}/some-other-model", "--base-url", emulator_server.url)
    expected = None if provider in ("anthropic", "azure") else MADE_UP
    status = cli("status", "--batch-id", batch_id, *target, "--wait", "--json")
    assert status.json()["model"] == expected, status
    listed = cli("list", *target, "--json")
    assert {job["id"]: job["model"] for job in listed.json()}[batch_id] == expected, listed
    table = cli("list", *target)
    assert "some-other-model" not in table.out, table
    assert (MADE_UP in table.out) is (expected is not None), table


def test_a_batch_created_through_a_server_lists_with_its_model(cli, emulator_server):
    """The record made at create is read back by list and status against the same server."""
    _prompts(cli)
    target = ("--base-url", emulator_server.url)
    created = cli("create", "--messages-file", "prompts.jsonl", "--model", f"anthropic/{MADE_UP}", *target, "--json")
    assert created.code == 0, created
    listed = cli("list", "--model", "anthropic/claude-haiku-5-5", *target, "--json")
    assert {job["id"]: job["model"] for job in listed.json()}[created.json()["id"]] == MADE_UP, listed


def test_list_models_is_the_catalog_with_its_default_first(cli):
    from pytest_batch import model_catalog

    listed = cli("list-models", "--json")
    assert listed.code == 0, listed
    rows = listed.json()
    for provider in PROVIDERS:
        first = rows[provider][0]
        assert first["model"] == model_catalog.DEFAULT_MODELS[provider] and first["default"], first
        assert [row["default"] for row in rows[provider]].count(True) == 1
        assert [row["model"] for row in rows[provider]] == [
            f"{provider}/{entry.name}" for entry in model_catalog.CATALOG[provider]]
    openai = {row["model"]: row for row in rows["openai"]}
    assert openai["openai/gpt-4-turbo"]["status"] == "retired" and openai["openai/gpt-4-turbo"]["retires"]
    assert openai["openai/gpt-6-luna"]["status"] == "current"
    assert openai["openai/gpt-6-luna"]["price_per_mtok"] == {"input": 0.10, "output": 0.50}
    google = {row["model"]: row for row in rows["google"]}
    assert google["google/gemini-pro-vision"]["status"] == "retired"
    assert google["google/gemini-pro-vision"]["replacement"] == "gemini-3.1-flash-lite"
    table = cli("list-models")
    line = next(line for line in table.out.splitlines() if "anthropic/claude-3-5-sonnet-20241022" in line)
    assert "retired on 2025-10-22; use claude-sonnet-4-6" in line, table


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai/gpt-4o", "openai/gpt-4-turbo",
                                   "anthropic/claude-3-5-sonnet-20241022", "anthropic/claude-3-opus-20240229",
                                   "anthropic/claude-3-haiku-20240307", "google/gemini-2.0-flash-001",
                                   "google/gemini-pro", "google/gemini-pro-vision"])
def test_the_seeds_model_names_still_work_and_are_marked(cli, model):
    """Users pin old names: the seed's examples run in simulate, and list-models says what they became."""
    _prompts(cli)
    created = cli("create", "--messages-file", "prompts.jsonl", "--model", model, "--simulate", "--json")
    assert created.code == 0 and created.json()["model"] == model.partition("/")[2], created
    rows = {row["model"]: row for rows in cli("list-models", "--json").json().values() for row in rows}
    assert rows[model]["status"] in ("deprecated", "retired") and rows[model]["replacement"], rows[model]


def test_demo_runs_the_catalogs_defaults(cli):
    from pytest_batch.model_catalog import DEFAULT_MODELS

    demo = cli("demo", "--json")
    assert demo.code == 0, demo
    assert {report["provider"]: report["model"] for report in demo.json()["providers"]} == DEFAULT_MODELS
    # and --model's help gives them as its examples
    usage = " ".join(cli("list", "--help").out.split())
    assert all(DEFAULT_MODELS[p] in usage.replace("- ", "-") for p in ("openai", "anthropic", "google")), usage


def test_every_default_is_the_catalogs():
    """The plugin, the CLI's demo, verify's probes and the processor's prices read one catalog."""
    from pytest_batch import model_catalog
    from pytest_batch.cli import demo
    from pytest_batch.plugin import options
    from pytest_batch.providers import provider_named
    from pytest_batch.verify import live

    assert options.DEFAULT_MODELS is model_catalog.DEFAULT_MODELS
    assert demo.DEFAULT_MODELS is model_catalog.DEFAULT_MODELS
    assert live.PROBE_MODELS == {p: m.partition("/")[2] for p, m in model_catalog.DEFAULT_MODELS.items()}
    # Azure deployments named after an OpenAI model cost what it does (Azure's batch price follows OpenAI's)
    assert provider_named("azure").prices == provider_named("openai").prices == model_catalog.prices("openai")
    for provider in ("openai", "anthropic", "google", "azure"):
        assert provider_named(provider).prices.items() >= model_catalog.prices(provider).items()
        default = model_catalog.DEFAULT_MODELS[provider].partition("/")[2]
        entry = model_catalog.find(provider, default)
        assert entry is not None and entry.status() == "current" and entry.price is not None
        if provider == "azure":  # a deployment named after OpenAI's default
            assert default == model_catalog.DEFAULT_MODELS["openai"].partition("/")[2]
            continue
        # the default is the cheapest current priced model (by input, then output price)
        current = [e for e in model_catalog.CATALOG[provider] if e.status() == "current" and e.price]
        assert entry.price == min(e.price for e in current)


def test_a_retirement_date_turns_deprecated_into_retired():
    from pytest_batch.model_catalog import CatalogModel

    model = CatalogModel("m", retires=datetime.date(2027, 1, 14), replacement="n")
    assert model.status(datetime.date(2027, 1, 13)) == "deprecated"
    assert model.note(datetime.date(2027, 1, 13)) == "deprecated, retires 2027-01-14; use n"
    assert model.status(datetime.date(2027, 1, 14)) == "retired"
    assert model.note(datetime.date(2027, 2, 1)) == "retired on 2027-01-14; use n"
    assert CatalogModel("old", legacy=True).status() == "legacy" and CatalogModel("new").note() == ""


@pytest.mark.parametrize(("provider", "model", "price"), [
    ("openai", "gpt-4o-mini-2024-07-18", (0.15, 0.60)),  # a dated snapshot costs what its model does
    ("anthropic", "claude-haiku-4-5-20251001", (1.00, 5.00)),
    ("anthropic", "claude-opus-4-5@20251101", (5.00, 25.00)),  # Vertex's spelling
    ("openai", "gpt-5.6-sol", None),  # starts like gpt-5, is not it
    ("openai", "gpt-4o-mini-custom", None),
    ("azure", "gpt-6-luna", (0.10, 0.50)),
])
def test_prices_come_from_the_catalog(provider, model, price):
    from pytest_batch.processor.pricing import price_of
    from pytest_batch.providers import provider_named

    assert price_of(provider_named(provider), model) == price
