"""Your model in every fixture: ``@pytest.mark.batch(response_model=)``, the ``batch_response_model``
ini setting and ``batch_processor_factory``."""

from __future__ import annotations

import pytest

from pytest_batch.model_catalog import DEFAULT_MODELS

pytestmark = pytest.mark.usefixtures("clean_env")

#: the user's models: nested, optional fields, an enum, dates
MODELS = """
from datetime import date
from enum import Enum

from pydantic import BaseModel


class Status(str, Enum):
    PAID = "paid"
    OPEN = "open"


class Address(BaseModel):
    city: str
    postcode: str | None = None


class Line(BaseModel):
    description: str
    amount: float


class Invoice(BaseModel):
    number: str
    issued: date
    status: Status
    billing: Address
    lines: list[Line]
    notes: str | None = None


class Customer(BaseModel):
    name: str
    email: str | None = None
"""

EXTRACT = """
def extracted(processor, prompts):
    job = processor.wait(processor.submit(prompts))
    return [item.value for item in processor.results(job).in_input_order()]
"""


@pytest.fixture
def models(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS, extract=EXTRACT)
    return pytester


@pytest.mark.parametrize("spec", ["Invoice", "'models:Invoice'", "'models.Invoice'"])
def test_the_marker_names_the_model_batch_processor_extracts(models: pytest.Pytester, spec: str) -> None:
    models.makepyfile(test_invoices=f"""
        import pytest

        from extract import extracted
        from models import Invoice

        @pytest.mark.batch(response_model={spec})
        def test_invoices(batch_processor):
            assert batch_processor.response_model is Invoice
            invoices = extracted(batch_processor, ["Invoice INV-7, paid, Berlin", "Invoice INV-8, open"])
            assert [type(invoice) for invoice in invoices] == [Invoice, Invoice]
    """)
    models.runpytest("--batch-mode=simulate").assert_outcomes(passed=3)


def test_the_ini_setting_applies_to_every_test_and_a_marker_wins(models: pytest.Pytester) -> None:
    models.makeini("[pytest]\nbatch_response_model = models:Invoice\n")
    models.makepyfile(test_invoices="""
        import pytest

        from extract import extracted
        from models import Customer, Invoice

        def test_configured(batch_processor):
            assert [type(value) for value in extracted(batch_processor, ["INV-1"])] == [Invoice]

        @pytest.mark.batch(response_model=Customer)
        def test_marked(batch_processor, batch_env):
            assert batch_env.response_model is Customer
            assert [type(value) for value in extracted(batch_processor, ["Ada"])] == [Customer]
    """)
    models.runpytest("--batch-mode=simulate", "--batch-provider=openai,google").assert_outcomes(passed=4)


def test_without_configuration_the_seed_user_stays_the_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from pytest_batch import User

        def test_default(batch_processor, batch_env):
            assert batch_processor.response_model is User and batch_env.response_model is User
    """)
    pytester.runpytest("--batch-provider=anthropic").assert_outcomes(passed=1)


def test_the_factory_makes_several_processors_for_the_tests_provider_and_mode(models: pytest.Pytester) -> None:
    models.makepyfile(test_factory="""
        from extract import extracted
        from models import Customer, Invoice

        def test_two_models(batch_processor_factory, batch_provider, batch_model, batch_sim):
            invoices = batch_processor_factory(response_model=Invoice)
            customers = batch_processor_factory(response_model=Customer, model="custom-model", max_tokens=500)
            text = batch_processor_factory(response_model=None)
            assert invoices.model_string == batch_model
            assert customers.model_string == batch_provider + "/custom-model"
            assert [type(v) for v in extracted(invoices, ["INV-1", "INV-2"])] == [Invoice, Invoice]
            assert [type(v) for v in extracted(customers, ["Ada"])] == [Customer]
            assert [type(v) for v in extracted(text, ["Say hi"])] == [str]
            assert len(batch_sim.journal.calls(batch_provider, "POST")) >= 3, "all three ran on the emulator"
    """)
    result = models.runpytest("--batch-mode=simulate")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*openai*simulate*1*3*4*4*0"])  # the factory's processors are counted


def test_the_factory_refuses_another_providers_model(models: pytest.Pytester) -> None:
    models.makepyfile(test_factory="""
        def test_other(batch_processor_factory):
            batch_processor_factory(model="anthropic/claude-haiku-4-5")
    """)
    result = models.runpytest("--batch-provider=openai")
    result.assert_outcomes(failed=1)
    bare = DEFAULT_MODELS["openai"].partition("/")[2]  # the test's model: the catalog's default
    result.stdout.fnmatch_lines(["*batch_processor_factory(model='anthropic/claude-haiku-4-5') in a test running "
                                 f"openai: give a openai model (or a bare name such as '{bare}')*"])


def test_a_model_that_cannot_be_imported_fails_the_test_saying_which_step(models: pytest.Pytester) -> None:
    models.makepyfile(test_bad="""
        import pytest

        @pytest.mark.batch(response_model="models:Invoise")
        def test_typo(batch_processor):
            pass
    """)
    result = models.runpytest("--batch-provider=openai")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.batch(response_model=) 'models:Invoise': cannot import it (module "
                                 "'models' has no attribute 'Invoise')*"])
    result.stdout.no_fnmatch_line("*During handling*")


def test_a_marker_model_that_is_no_pydantic_class_stops_the_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(response_model=dict)
        def test_p(batch_processor):
            pass
    """)
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*@pytest.mark.batch(response_model=<class 'dict'>) is not a pydantic BaseModel "
                                 "subclass (class dict)*"])


def test_a_malformed_ini_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbatch_response_model = Invoice\n")
    pytester.makepyfile("def test_p(batch_provider):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini setting batch_response_model: expected 'module:Class' (e.g. "
                                 "myapp.models:Invoice), got 'Invoice'*"])


def test_the_configured_model_replays_from_its_cassette(models: pytest.Pytester, server, monkeypatch) -> None:
    """Record and replay build the configured model's schema into the requests alike."""
    models.makepyfile(test_invoices="""
        import pytest

        from extract import extracted
        from models import Invoice

        @pytest.mark.batch(response_model="models:Invoice", providers="google")
        def test_invoices(batch_processor):
            assert [type(value) for value in extracted(batch_processor, ["INV-1"])] == [Invoice]
    """)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        models.runpytest("--batch-mode=record").assert_outcomes(passed=1)
    server.stop()
    models.runpytest("--batch-mode=replay").assert_outcomes(passed=1)
