"""An invoice-extraction pipeline, as a team would write it: its own models, prompts and SDK client.

Nothing here knows about pytest-batch's test harness. The pipeline builds its SDK client from
the environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY`` or ``GOOGLE_API_KEY``, and the
``*_BASE_URL`` variables) like the rest of the app does, hands it to a ``BatchProcessor``,
submits one request per document and sorts the answers into invoices and failures.

    python examples/invoices/invoice_pipeline.py openai/gpt-4o-mini   # live: needs a key

The tests beside it (``test_invoice_pipeline.py``) run this module unchanged in every
pytest-batch mode.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, Field

from pytest_batch import BatchJob, BatchProcessor

# ---------------------------------------------------------------------- the model


class Currency(str, Enum):
    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Address(BaseModel):
    street: str
    city: str
    postal_code: str | None = None
    country: str = Field(description="ISO 3166 alpha-2 code, e.g. DE")


class Party(BaseModel):
    name: str
    vat_id: str | None = Field(default=None, description="VAT identification number, if printed")
    address: Address | None = None


class LineItem(BaseModel):
    description: str
    quantity: float
    unit_price: float
    vat_rate: float | None = Field(default=None, description="e.g. 0.19 for 19 %")


class Invoice(BaseModel):
    invoice_number: str
    issue_date: date
    due_date: date | None = None
    currency: Currency
    seller: Party
    buyer: Party
    line_items: list[LineItem]
    total: float = Field(description="the amount due, taxes included")
    purchase_order: str | None = None


# ---------------------------------------------------------------------- the prompts

SYSTEM_PROMPT = (
    "You extract invoices for an accounts-payable system. Read the document and return the invoice "
    "exactly as printed: dates as YYYY-MM-DD, amounts as numbers without currency signs, VAT rates as "
    "fractions. Leave a field empty when the document does not state it; never guess."
)


def messages_for(document: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Extract the invoice from this document:\n\n{document}"}]


# ---------------------------------------------------------------------- the pipeline


def make_client(provider: str):  # -> openai.OpenAI | anthropic.Anthropic | genai.Client
    """The SDK client, built from the environment the way the rest of the app builds it."""
    if provider == "openai":
        import openai

        return openai.OpenAI(max_retries=5)
    if provider == "anthropic":
        import anthropic

        return anthropic.Anthropic(max_retries=5)
    if provider == "google":
        from google import genai

        return genai.Client()
    raise ValueError(f"unknown provider {provider!r}")


@dataclass
class ExtractionReport:
    """What one run produced: invoices by document id, and why the others failed."""

    job: BatchJob
    invoices: dict[str, Invoice] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


class InvoicePipeline:
    """Submit documents as one batch, wait for it, and sort the results."""

    def __init__(self, model: str, *, poll_interval: float = 30.0) -> None:
        provider = model.partition("/")[0]
        self.processor = BatchProcessor(model, response_model=Invoice, client=make_client(provider),
                                        max_tokens=2048, metadata={"pipeline": "invoices"})
        self.poll_interval = poll_interval

    def submit(self, documents: dict[str, str]) -> BatchJob:
        ids = list(documents)
        return self.processor.submit(self.processor.build([messages_for(documents[i]) for i in ids],
                                                          custom_ids=ids))

    def collect(self, job: BatchJob) -> ExtractionReport:
        job = self.processor.wait(job, interval=self.poll_interval)
        report = ExtractionReport(job)
        for item in self.processor.results(job):
            if item.ok:
                report.invoices[item.custom_id] = item.value
            else:
                report.failures[item.custom_id] = f"{item.kind}: {item.message}"
        return report

    def run(self, documents: dict[str, str]) -> ExtractionReport:
        return self.collect(self.submit(documents))


def load_documents(folder: Path) -> dict[str, str]:
    """Every ``*.txt`` in ``folder``, by file name (the document id)."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))}


if __name__ == "__main__":  # pragma: no cover - the live entry point
    report = InvoicePipeline(sys.argv[1] if len(sys.argv) > 1 else "openai/gpt-4o-mini").run(
        load_documents(Path(__file__).parent / "documents"))
    for document_id, invoice in report.invoices.items():
        print(document_id, invoice.model_dump_json())
    for document_id, why in report.failures.items():
        print(document_id, "FAILED", why)
