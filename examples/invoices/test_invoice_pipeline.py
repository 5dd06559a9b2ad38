"""The invoice pipeline's tests: they run its own code, SDK client and all, in every mode.

    pytest examples/invoices --batch-provider=all                      # replays the shipped cassettes
    pytest examples/invoices --batch-provider=all --batch-mode=simulate
    pytest examples/invoices --batch-mode=record                       # live: needs the API keys

No API key is needed offline: the plugin gives the pipeline placeholder keys while a test runs,
and sends the client it builds to the emulator (simulate) or the cassette (replay). In
simulation `answers.yaml` answers the two invoices; anything else gets a schema-valid synthetic
invoice. The shipped cassettes under cassettes/<provider>/test_invoice_pipeline/ were recorded
against `pytest-batch serve --responses examples/invoices/answers.yaml` (their metadata says
`recorded_against: emulator`); record them live to test against the real models.
"""

from pathlib import Path

import pytest
from invoice_pipeline import Currency, Invoice, InvoicePipeline, load_documents

from pytest_batch import ErrorKind, assert_batch_completed

pytestmark = pytest.mark.batch(responses="answers.yaml", response_model=Invoice)

DOCUMENTS = load_documents(Path(__file__).parent / "documents")


def test_extracts_every_document(batch_env):
    report = InvoicePipeline(batch_env.model, poll_interval=1).run(DOCUMENTS)
    assert_batch_completed(report.job)
    assert set(report.invoices) | set(report.failures) == set(DOCUMENTS), "no document goes missing"
    acme = report.invoices["acme-2026-031"]
    assert (acme.invoice_number, acme.currency, acme.total) == ("2026-031", Currency.EUR, 650.93)
    assert acme.seller.address.city == "Berlin" and acme.purchase_order == "PO-7781"
    assert sum(line.quantity * line.unit_price for line in acme.line_items) == pytest.approx(547.00)
    brightline = report.invoices["brightline-7781"]
    assert brightline.buyer.address is None and brightline.due_date is None  # optional fields left empty


def test_the_batch_processor_fixture_extracts_invoices_too(batch_processor):
    from invoice_pipeline import messages_for

    job = batch_processor.wait(batch_processor.submit([messages_for(DOCUMENTS["brightline-7781"])]))
    [item] = batch_processor.results(job)
    assert isinstance(item.value, Invoice) and item.value.currency == Currency.GBP


@pytest.mark.batch(faults={"requests": {"handwritten-receipt": "refusal"}})
def test_a_refused_document_is_reported_not_lost(batch_env):
    """Faults exist only in the emulator: this test runs in simulate (and auto) mode only."""
    report = InvoicePipeline(batch_env.model).run(DOCUMENTS)
    assert report.failures["handwritten-receipt"].startswith(ErrorKind.REFUSAL.value)
    assert set(report.invoices) == {"acme-2026-031", "brightline-7781"}
