"""``pytest --batch-provider=azure``: simulate, record against an emulator server with no real
key, replay with no environment at all, and the messages when the Azure resource is missing.
Azure runs only when named: ``all`` (the default) is the public APIs."""

from __future__ import annotations

import pytest
import yaml

from pytest_batch.model_catalog import DEFAULT_MODELS
from pytest_batch.sim.server import ServerHandle

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")

PROVIDER_TEST = """
def test_p(batch_provider, batch_model):
    print(f"RAN {batch_provider} {batch_model}")
"""


@pytest.mark.parametrize(("option", "ran"), [
    (None, ["openai", "anthropic", "google"]),
    ("--batch-provider=all", ["openai", "anthropic", "google"]),
    ("--batch-provider=azure", ["azure"]),
    ("--batch-provider=all,azure", ["openai", "anthropic", "google", "azure"]),
    ("--batch-provider=azure,openai", ["openai", "azure"]),
])
def test_azure_runs_when_named(pytester: pytest.Pytester, option: str | None, ran: list[str]) -> None:
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest(*([option] if option else []), "-v", "-s")
    result.assert_outcomes(passed=len(ran))
    result.stdout.fnmatch_lines([f"*test_p[[]{name}[]]*" for name in ran])
    if "azure" in ran:
        result.stdout.fnmatch_lines([f"*RAN azure {DEFAULT_MODELS['azure']}*"])  # the catalog's default


def test_simulate_the_users_test_on_a_deployment_with_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USERS_TEST + '''

import pytest
from pytest_batch.assertions import assert_error_kinds


@pytest.mark.batch(faults={"requests": {"request-2": "refusal", "request-3": "expired"},
                           "http": [{"status": 429, "times": 1, "method": "POST"}]}, lifecycle="polls:3")
def test_faults(batch_processor, batch_messages, batch_sim):
    job = batch_processor.wait(batch_processor.submit(batch_messages[:4]))
    assert_error_kinds(batch_processor.results(job), {"request-2": "refusal", "request-3": "expired"})
    assert {entry.provider for entry in batch_sim.journal} == {"azure"}
    assert any(entry.status == 429 for entry in batch_sim.journal)
''')
    result = pytester.runpytest("--batch-provider=azure", "--batch-model=azure/team-extract", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_users[[]azure[]] PASSED*", "*azure*simulate*2*2*14*12*2*"])


def test_record_against_a_server_then_replay_with_no_environment(pytester: pytest.Pytester, server: ServerHandle,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_extract=USERS_TEST)
    with monkeypatch.context() as env:
        for name, value in server.env.items():  # what `pytest-batch serve` prints: endpoint, api-version, no key
            env.setenv(name, value)
        result = pytester.runpytest("--batch-mode=record", "--batch-provider=azure")
        result.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "azure" / "test_extract" / "test_users.yaml"
    text = cassette.read_text()
    assert "127.0.0.1" not in text and "sim-azure-key" not in text
    assert "https://pytest-batch.openai.azure.com/openai/files?api-version=2024-10-21" in text
    recorded = yaml.safe_load(text)
    assert recorded["metadata"]["provider"] == "azure" and recorded["metadata"]["recorded_against"] == "emulator"
    assert {i["request"]["headers"].get("api-key") for i in recorded["interactions"]} == {"REDACTED"}
    server.stop()  # replay comes from the cassette alone: no endpoint, no key, another api-version

    monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=azure")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*azure*replay*1*1*10*10*0*"])
    pytester.runpytest("--batch-provider=azure").assert_outcomes(passed=1)  # auto replays it too


@pytest.mark.parametrize("mode", ["record", "live"])
def test_a_network_mode_without_the_resource_says_what_to_set(pytester: pytest.Pytester, mode: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(USERS_TEST)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 32)  # a key alone is not enough: whose resource?
    result = pytester.runpytest(f"--batch-mode={mode}", "--batch-provider=azure")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*pytest-batch: --batch-mode={mode} needs your Azure OpenAI resource: set "
                                 "AZURE_OPENAI_ENDPOINT (e.g. https://my-resource.openai.azure.com) and "
                                 "AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN, with --batch-model=azure/<your "
                                 "Global-Batch deployment>*"])
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
    result = pytester.runpytest(f"--batch-mode={mode}", "--batch-provider=azure")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*pytest-batch: --batch-mode={mode} needs a real azure API key: set "
                                 "AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN*"])


#: a user's Azure pipeline: its processor and its own AzureOpenAI client come from the environment
AZURE_PIPELINE = '''
import openai
from pytest_batch import BatchProcessor
from pytest_batch.seed import User


def extract(prompts, model):
    with BatchProcessor(model, response_model=User) as bp:
        job = bp.wait(bp.submit(prompts))
        return [item.value for item in bp.results(job).in_input_order()]


def recent_batches():
    return [batch.id for batch in openai.AzureOpenAI().batches.list(limit=5)]
'''

AZURE_PIPELINE_TESTS = '''
import os

import azure_pipeline
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS


def test_extract(batch_env):
    assert azure_pipeline.extract(list(SEED_PROMPTS[:2]), batch_env.model) == list(EXPECTED_USERS[:2])
    assert azure_pipeline.recent_batches(), "the batch the pipeline submitted is listed"


def test_the_environment_is_restored():
    assert "AZURE_OPENAI_API_KEY" not in os.environ  # the placeholder key lived only during the batch test
    assert os.environ.get("AZURE_OPENAI_ENDPOINT") == os.environ.get("ENDPOINT_BEFORE")
'''


def test_a_pipeline_building_its_own_azure_clients_in_every_mode(pytester: pytest.Pytester, server: ServerHandle,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint, key or api-version in the environment: simulate sets a stand-in resource;
    record reaches the server the exports name; replay needs nothing."""
    pytester.makepyfile(azure_pipeline=AZURE_PIPELINE, test_azure_pipeline=AZURE_PIPELINE_TESTS)
    pytester.runpytest("--batch-provider=azure", "--batch-mode=simulate").assert_outcomes(passed=2)
    with monkeypatch.context() as env:
        for name, value in server.env.items():
            env.setenv(name, value)
        env.setenv("ENDPOINT_BEFORE", server.env["AZURE_OPENAI_ENDPOINT"])
        pytester.runpytest("--batch-provider=azure", "--batch-mode=record").assert_outcomes(passed=2)
    assert server.emulator.azure.batches, "the recording reached the server"
    server.stop()
    pytester.runpytest("--batch-provider=azure", "--batch-mode=replay").assert_outcomes(passed=2)
