"""The user's own pipeline: a module that builds its own SDK clients and BatchProcessor, tested
in every mode with no API key in the environment."""

from __future__ import annotations

import pytest

from pytest_batch.sim.server import ServerHandle

pytestmark = pytest.mark.usefixtures("clean_env")

#: a user's pipeline module: nested and optional fields, an enum, dates; every client it uses it
#: builds itself, from the environment, as production code does.
PIPELINE = '''
"""Invoices from documents, through the batch APIs."""
import asyncio
import os
from datetime import date
from enum import Enum

import anthropic
import openai
from google import genai
from pydantic import BaseModel

from pytest_batch import AsyncBatchProcessor, BatchProcessor

PROMPT = "Extract the invoice from this document:\\n\\n{document}"


class Currency(str, Enum):
    EUR = "EUR"
    USD = "USD"


class LineItem(BaseModel):
    description: str
    quantity: int
    unit_price: float


class Customer(BaseModel):
    name: str
    vat_id: str | None = None


class Invoice(BaseModel):
    number: str
    issued: date
    currency: Currency
    customer: Customer
    items: list[LineItem]
    note: str | None = None


def extract(documents, model):
    with BatchProcessor(model, response_model=Invoice) as bp:
        job = bp.wait(bp.submit([PROMPT.format(document=d) for d in documents]))
        return [item.value for item in bp.results(job).in_input_order()]


async def extract_async(documents, model):
    async with AsyncBatchProcessor(model, response_model=Invoice) as bp:
        job = await bp.wait(await bp.submit([PROMPT.format(document=d) for d in documents]))
        return [item.value async for item in (await bp.results(job)).in_input_order()]


def batch_ids(provider):
    """The provider's recent batches, through the SDK's own client."""
    if provider == "openai":
        return [batch.id for batch in openai.OpenAI().batches.list(limit=5)]
    if provider == "anthropic":
        return [batch.id for batch in anthropic.Anthropic().messages.batches.list(limit=5)]
    client = genai.Client()  # kept while the pager reads: a collected genai.Client closes its HTTP client
    return [job.name for job in client.batches.list(config={"page_size": 5})]


async def batch_ids_async(provider):
    if provider == "openai":
        return [batch.id async for batch in openai.AsyncOpenAI().batches.list(limit=5)]
    if provider == "anthropic":
        return [batch.id async for batch in anthropic.AsyncAnthropic().messages.batches.list(limit=5)]
    client = genai.Client()
    return [job.name async for job in await client.aio.batches.list(config={"page_size": 5})]
'''

PIPELINE_TESTS = '''
import asyncio
import os

import pipeline

DOCUMENTS = ["Invoice INV-7 of 3 March 2026 to ACME GmbH: 2 chairs at 40.00 EUR.",
             "Rechnung R-19 vom 9.1.2026 an Müller AG: 1 Tisch, 120 EUR."]


def test_extract(batch_env):
    invoices = pipeline.extract(DOCUMENTS, batch_env.model)
    assert [type(invoice) for invoice in invoices] == [pipeline.Invoice, pipeline.Invoice]
    assert pipeline.batch_ids(batch_env.provider), "the batch the pipeline submitted is listed"


def test_extract_async(batch_env):
    invoices = asyncio.run(pipeline.extract_async(DOCUMENTS[:1], batch_env.model))
    assert [type(invoice) for invoice in invoices] == [pipeline.Invoice]
    assert asyncio.run(pipeline.batch_ids_async(batch_env.provider))


def test_keys_are_gone_after_the_batch_tests():
    assert "OPENAI_API_KEY" not in os.environ and "GOOGLE_API_KEY" not in os.environ
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(pipeline=PIPELINE, test_pipeline=PIPELINE_TESTS)
    return pytester


def test_a_pipeline_building_its_own_clients_runs_on_the_emulator_without_a_key(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-provider=all", "--batch-mode=simulate")
    result.assert_outcomes(passed=7)
    # the processors the pipeline built, sync (2 documents) and async (1), are counted like the fixture's own
    result.stdout.fnmatch_lines(["*anthropic*simulate*2*2*3*3*0", "*google*simulate*2*2*3*3*0",
                                 "*openai*simulate*2*2*3*3*0"])


def test_a_pipeline_building_its_own_clients_records_against_a_server_and_replays_without_it(
        project: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as env:
        for name, url in server.env.items():  # no key: an emulator server takes the plugin's placeholders
            env.setenv(name, url)
        result = project.runpytest("--batch-provider=all", "--batch-mode=record")
        result.assert_outcomes(passed=7)
    assert server.emulator.journal.calls("google", "POST"), "the pipeline's own clients reached the server"
    for provider in ("openai", "anthropic", "google"):
        for test in ("test_extract", "test_extract_async"):
            cassette = project.path / "cassettes" / provider / "test_pipeline" / f"{test}.yaml"
            assert cassette.is_file(), f"record mode wrote {cassette}"
            assert "recorded_against: emulator" in cassette.read_text()
    server.stop()  # nothing answers any more: replay must come from the cassettes alone

    result = project.runpytest("--batch-provider=all", "--batch-mode=replay")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*openai*replay*2*2*3*3*0"])


def test_without_a_cassette_replay_fails_the_pipeline_test_at_setup(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-provider=openai", "--batch-mode=replay", "-k", "test_extract and not async")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pytest-batch: no cassette at *openai*test_pipeline*test_extract.yaml*Record it "
                                 "with: pytest *test_extract[[]openai[]]* --batch-mode=record*"])


def test_a_blocked_host_names_itself_the_mode_and_what_to_do(pytester: pytest.Pytester) -> None:
    """A client with its own base URL cannot reach it offline: the user's exception (through
    BatchProcessor too, on every provider) names the host and the mode, and says what to do."""
    pytester.makepyfile("""
        import anthropic
        import openai
        import pytest
        from google import genai

        from pytest_batch import BatchProcessor
        from pytest_batch.errors import ProviderError

        GATEWAY = "https://llm-gateway.example.net"

        def gateway(provider):
            if provider == "openai":
                return openai.OpenAI(base_url=GATEWAY + "/v1", max_retries=0)
            if provider == "anthropic":
                return anthropic.Anthropic(base_url=GATEWAY, max_retries=0)
            return genai.Client(http_options={"base_url": GATEWAY + "/"})

        def test_sdk(batch_env):
            with pytest.raises(openai.APIConnectionError) as info:
                gateway("openai").batches.list()
            print("SDK CAUSE:", info.value.__cause__)

        def test_processor(batch_env, batch_provider):
            with pytest.raises(ProviderError) as info:
                BatchProcessor(batch_env.model, client=gateway(batch_provider)).list()
            print("PROCESSOR:", info.value)
    """)
    result = pytester.runpytest("--batch-mode=simulate", "-s")
    result.assert_outcomes(passed=6)
    blocked = ("pytest-batch blocked a real connection to 'llm-gateway.example.net' (this test runs "
               "--batch-mode=simulate, which never touches the network). The emulator answers the providers' own "
               "hosts*build SDK clients without base_url=*")
    result.stdout.fnmatch_lines([f"*SDK CAUSE: {blocked}",
                                 f"*PROCESSOR: OpenAI could not list batches: Connection error. ({blocked})",
                                 f"*PROCESSOR: Anthropic could not list batches: Connection error. ({blocked})",
                                 f"*PROCESSOR: Google could not list batches: ConnectError: {blocked}"],
                                consecutive=False)


def test_a_marked_test_without_batch_fixtures_is_routed_too(pytester: pytest.Pytester) -> None:
    """The marker alone makes a batch test: run per provider, its clients routed by mode; replay
    without a cassette blocks the provider with the command that records one."""
    pytester.makepyfile(test_marked="""
        import os

        import openai
        import pytest

        @pytest.mark.batch(providers="openai")
        def test_lists():
            assert os.environ["OPENAI_API_KEY"] == "sim-openai-key"
            openai.OpenAI(max_retries=0).batches.list()
    """)
    result = pytester.runpytest("--batch-mode=simulate", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_lists[[]openai[]] PASSED*"])
    result = pytester.runpytest("--batch-mode=replay")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest-batch blocked a real connection to 'api.openai.com' (this test runs "
                                 "--batch-mode=replay and has no cassette at *test_lists.yaml). Record it with: "
                                 "pytest *test_lists[[]openai[]]* --batch-mode=record*"])


def test_processors_the_code_builds_wait_on_the_emulators_clock(pytester: pytest.Pytester) -> None:
    """An hour-long simulated batch finishes at once: the pipeline's own processor sleeps on the
    emulator's clock, not the wall clock (which would never move the frozen emulator)."""
    pytester.makepyfile("""
        import pytest

        from pytest_batch import BatchProcessor

        @pytest.mark.batch(lifecycle="seconds:3600")
        def test_slow(batch_sim, batch_provider):
            start = batch_sim.clock.now()
            bp = BatchProcessor(batch_provider + "/any-model")
            job = bp.wait(bp.submit(["hello"]), timeout=None)
            assert job.status == "completed"
            assert batch_sim.clock.now() - start >= 3600
    """)
    pytester.runpytest("--batch-mode=simulate").assert_outcomes(passed=3)


def test_a_record_run_without_a_key_or_server_fails_the_pipeline_test_with_what_to_do(
        project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-provider=anthropic", "--batch-mode=record", "-k", "not async")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*--batch-mode=record needs a real anthropic API key: set ANTHROPIC_API_KEY*"])


AIOHTTP_TEST = '''
import asyncio

import anthropic
import openai
from google import genai

from pytest_batch import AsyncBatchProcessor


def aiohttp_client(provider):
    """The async SDK client on aiohttp (openai[aiohttp], anthropic[aiohttp]; google-genai picks
    aiohttp for client.aio by itself when it is installed)."""
    if provider == "openai":
        return openai.AsyncOpenAI(http_client=openai.DefaultAioHttpClient())
    if provider == "anthropic":
        return anthropic.AsyncAnthropic(http_client=anthropic.DefaultAioHttpClient())
    return genai.Client()


async def extract(model, provider):
    async with AsyncBatchProcessor(model, client=aiohttp_client(provider)) as bp:
        job = await bp.wait(await bp.submit(["Hello, I am Ada, 36."]))
        return [item.ok async for item in await bp.results(job)]


def test_aiohttp(batch_env):
    assert asyncio.run(extract(batch_env.model, batch_env.provider)) == [True]
    if batch_env.emulator is not None:
        assert batch_env.emulator.journal, "the aiohttp client reached the emulator"
'''


def test_clients_on_aiohttp_transports_go_where_the_mode_says(pytester: pytest.Pytester, server: ServerHandle,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp is an optional extra of each SDK (not a dependency of pytest-batch): without it
    installed this test is skipped."""
    pytest.importorskip("aiohttp")
    pytester.makepyfile(test_aio=AIOHTTP_TEST)
    pytester.runpytest("--batch-mode=simulate").assert_outcomes(passed=3)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        pytester.runpytest("--batch-mode=record").assert_outcomes(passed=3)
    assert {entry.provider for entry in server.emulator.journal} == {"openai", "anthropic", "google"}
    server.stop()
    pytester.runpytest("--batch-mode=replay").assert_outcomes(passed=3)


def test_a_module_or_class_marker_makes_batch_tests_of_plain_functions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked="""
        import os

        import pytest

        pytestmark = pytest.mark.batch(providers="google")

        def test_module_level():
            assert os.environ["GOOGLE_API_KEY"] == "sim-google-key"

        @pytest.mark.batch(providers=["openai", "google"])
        class TestClass:
            def test_method(self):
                assert os.environ.get("GOOGLE_API_KEY") == "sim-google-key"

        def helper():  # not a test: left as it is
            pass
    """)
    result = pytester.runpytest("--batch-mode=simulate", "-v")
    result.assert_outcomes(passed=3)  # the closest marker wins: the class runs on openai too
    result.stdout.fnmatch_lines(["*test_module_level[[]google[]] PASSED*",
                                 "*TestClass::test_method[[]openai[]] PASSED*",
                                 "*TestClass::test_method[[]google[]] PASSED*"])


def test_live_sends_the_pipelines_own_clients_to_the_server_its_base_urls_name(
        project: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, url in server.env.items():  # an emulator server takes the plugin's placeholder keys
        monkeypatch.setenv(name, url)
    result = project.runpytest("--batch-provider=openai", "--batch-mode=live", "-k", "not async")
    result.assert_outcomes(passed=2)
    assert server.emulator.journal.calls("openai", "POST", "/batches")
    assert not (project.path / "cassettes").exists(), "live mode writes no cassettes"
