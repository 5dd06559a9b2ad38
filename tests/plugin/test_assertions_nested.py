"""assert_extractions on a user's own nested models: field paths, options, accuracy; and the
error-kind helpers."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pytest
from pydantic import BaseModel

from pytest_batch.assertions import (
    ExtractionMismatch,
    assert_at_most_errors,
    assert_error_kinds,
    assert_extractions,
    compare_extractions,
)
from pytest_batch.models import BatchError, BatchResults, BatchSuccess, ErrorKind, Usage


class Address(BaseModel):
    street: str
    city: str
    zip: str | None = None


class LineItem(BaseModel):
    description: str
    quantity: int
    unit_price: float


class Invoice(BaseModel):
    invoice_number: str
    vendor: str
    issue_date: date
    due_date: date | None = None
    currency: Literal["EUR", "USD", "GBP"]
    billing_address: Address | None = None
    line_items: list[LineItem]


GLOBEX = Invoice(invoice_number="17", vendor="Globex GmbH", issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31),
                 currency="EUR", billing_address=Address(street="Hauptstraße 1", city="Berlin", zip="10115"),
                 line_items=[LineItem(description="Widget, blue", quantity=2, unit_price=9.5),
                             LineItem(description="Gadget XL", quantity=1, unit_price=150.0)])
ACME = Invoice(invoice_number="A-1", vendor="Acme Corp", issue_date=date(2024, 1, 5), currency="USD",
               line_items=[LineItem(description="Anvil", quantity=1, unit_price=99.0)])


def results(*items: BatchSuccess | BatchError, order: list[str] | None = None) -> BatchResults:
    return BatchResults(lambda: iter(items), custom_ids=order)


def ok(custom_id: str, value: object) -> BatchSuccess:
    return BatchSuccess(custom_id, value, Usage(10, 5))


def changed(invoice: Invoice, **update: object) -> Invoice:
    return invoice.model_copy(update=update)


def with_price(invoice: Invoice, index: int, price: float) -> Invoice:
    items = list(invoice.line_items)
    items[index] = items[index].model_copy(update={"unit_price": price})
    return changed(invoice, line_items=items)


def failure(got: BatchResults, expected: object, **options: object) -> str:
    with pytest.raises(ExtractionMismatch) as caught:
        assert_extractions(got, expected, **options)
    return str(caught.value)


# ---------------------------------------------------------------------- what a failure shows
def test_a_nested_difference_is_named_by_path_with_both_values_uncut() -> None:
    got = with_price(changed(GLOBEX, currency="USD", issue_date=date(2024, 3, 10)), 1, 15.0)
    text = failure(results(ok("inv-acme-1", ACME), ok("inv-globex-17", got)),
                   {"inv-acme-1": ACME, "inv-globex-17": GLOBEX})
    lines = text.splitlines()
    assert lines[0] == "batch extraction mismatch (matched by custom_id): 1 wrong value of 2 expected items"
    details = lines[lines.index("inv-globex-17: 3 fields differ") + 1:]
    assert details[:3] == ["  issue_date: expected datetime.date(2024, 3, 1), got datetime.date(2024, 3, 10)",
                           "  currency: expected 'EUR', got 'USD'",
                           "  line_items[1].unit_price: expected 150.0, got 15.0"]
    # the table row shows the differing fields, not the first 60 characters of the invoice
    row = next(line for line in lines if "inv-globex-17 |" in line)
    assert "✗ DIFF" in row and row.endswith("| Invoice: 3 fields differ, see below")
    assert "fields right: 20 of 23 (87.0%)" in lines


def test_a_table_cell_too_narrow_for_the_whole_value_shows_the_fields_that_differ() -> None:
    text = failure(results(ok("inv-globex-17", changed(GLOBEX, currency="USD"))), [GLOBEX])
    row = next(line for line in text.splitlines() if "inv-globex-17 |" in line)
    assert row.split("|")[2:] == [" Invoice(… currency='EUR') ", " Invoice(… currency='USD')"]


def test_long_values_and_whole_objects_that_differ_are_shown_in_full() -> None:
    vendor = "Globex Handels- und Vertriebsgesellschaft mit beschränkter Haftung, Zweigniederlassung Berlin-Mitte"
    got = changed(GLOBEX, vendor=vendor, billing_address=None)
    text = failure(results(ok("inv-globex-17", got)), [GLOBEX])
    assert f"  vendor: expected 'Globex GmbH', got {vendor!r}" in text.splitlines()
    assert ("  billing_address: expected Address(street='Hauptstraße 1', city='Berlin', zip='10115'), got None"
            in text.splitlines())


def test_a_missing_or_extra_list_item_is_named_by_its_index() -> None:
    shorter = changed(GLOBEX, line_items=GLOBEX.line_items[:1])
    longer = changed(ACME, line_items=[*ACME.line_items, LineItem(description="Rope", quantity=3, unit_price=4.25)])
    text = failure(results(ok("request-1", shorter), ok("request-2", longer), order=["request-1", "request-2"]),
                   [GLOBEX, ACME])
    lines = text.splitlines()
    assert ("  line_items[1]: expected LineItem(description='Gadget XL', quantity=1, unit_price=150.0), got nothing"
            in lines)
    assert "  line_items[1]: expected nothing, got LineItem(description='Rope', quantity=3, unit_price=4.25)" in lines


# ---------------------------------------------------------------------- ignore=
def test_ignore_leaves_out_fields_and_list_item_fields() -> None:
    got = with_price(changed(GLOBEX, issue_date=date(2024, 3, 2)), 1, 149.0)
    got = changed(got, billing_address=got.billing_address.model_copy(update={"zip": "10117"}))
    assert_extractions(results(ok("r1", got)), [GLOBEX],
                       ignore=["issue_date", "billing_address.zip", "line_items[*].unit_price"])
    assert_extractions(results(ok("r1", got)), [GLOBEX], ignore=["issue_date", "billing_address", "line_items"])
    text = failure(results(ok("r1", got)), [GLOBEX], ignore=["issue_date", "line_items[0].unit_price"])
    assert "  line_items[1].unit_price: expected 150.0, got 149.0" in text.splitlines()
    assert "  billing_address.zip: expected '10115', got '10117'" in text.splitlines()
    assert "issue_date" not in text


def test_an_ignore_path_that_matches_no_field_is_reported() -> None:
    with pytest.raises(ValueError, match=r"ignore='billing_adress.zip' matches no field .* their fields are: "
                                         r"billing_address, currency, due_date, invoice_number"):
        assert_extractions(results(ok("r1", GLOBEX)), [GLOBEX], ignore=["billing_adress.zip"])
    # a deeper path under a field that is None here is fine
    assert_extractions(results(ok("r1", ACME)), [ACME], ignore="billing_address.zip")
    with pytest.raises(ValueError, match=r"ignore='line_items\.\[0\]' is not a field path: write it like"):
        assert_extractions(results(ok("r1", ACME)), [ACME], ignore=["line_items.[0]"])


# ---------------------------------------------------------------------- approx=
def test_approx_compares_floats_within_a_tolerance_and_ints_exactly() -> None:
    close = with_price(GLOBEX, 1, 150.4)
    assert_extractions(results(ok("r1", close)), [GLOBEX], approx=0.01)
    assert_extractions(results(ok("r1", close)), [GLOBEX], approx={"abs": 0.5})
    text = failure(results(ok("r1", close)), [GLOBEX], approx={"rel": 0.001})
    assert "  line_items[1].unit_price: expected 150.0, got 150.4 (beyond the tolerance ±0.15)" in text.splitlines()
    assert "unit_price: expected 150.0, got 150.4" in failure(results(ok("r1", close)), [GLOBEX])  # exact by default
    more = changed(GLOBEX, line_items=[GLOBEX.line_items[0].model_copy(update={"quantity": 3}), GLOBEX.line_items[1]])
    assert "  line_items[0].quantity: expected 2, got 3" in failure(results(ok("r1", more)), [GLOBEX], approx=0.9)
    with pytest.raises(ValueError, match=r"approx= takes True, a relative tolerance like 0.01"):
        assert_extractions(results(ok("r1", GLOBEX)), [GLOBEX], approx={"relative": 0.01})


# ---------------------------------------------------------------------- normalize=
def test_normalize_compares_strings_after_case_and_whitespace() -> None:
    sloppy = changed(GLOBEX, vendor="  globex   GMBH ")
    assert_extractions(results(ok("r1", sloppy)), [GLOBEX], normalize=True)
    squeeze = lambda text: text.lower().replace(" ", "")  # noqa: E731
    assert_extractions(results(ok("r1", sloppy)), [GLOBEX], normalize=squeeze)
    text = failure(results(ok("r1", sloppy)), [GLOBEX], normalize="case")
    assert "  vendor: expected 'Globex GmbH', got '  globex   GMBH ' (after normalize=)" in text.splitlines()
    assert "vendor: expected 'Globex GmbH'" in failure(results(ok("r1", sloppy)), [GLOBEX])
    with pytest.raises(ValueError, match=r"normalize= takes True .* one or more of case, whitespace, unicode"):
        assert_extractions(results(ok("r1", GLOBEX)), [GLOBEX], normalize=["lowercase"])


# ---------------------------------------------------------------------- subset=True
def test_subset_compares_only_the_fields_the_expected_value_names() -> None:
    wanted = {"vendor": "Globex GmbH", "currency": "EUR", "issue_date": "2024-03-01",
              "line_items": [{"unit_price": 9.5}, {"description": "Gadget XL"}]}
    assert_extractions(results(ok("r1", GLOBEX)), [wanted], subset=True)
    text = failure(results(ok("r1", changed(GLOBEX, currency="GBP"))), [wanted], subset=True)
    assert "  currency: expected 'EUR', got 'GBP'" in text.splitlines()
    whole = failure(results(ok("r1", GLOBEX)), [wanted])  # without subset, the fields it leaves out are wrong
    assert ("  invoice_number: expected nothing, got '17' (the expected value has no such field: subset=True "
            "compares only the fields it names)") in whole.splitlines()
    # a model gives the fields set when it was made: zip was left at its default here
    partial = changed(GLOBEX, billing_address=Address(street="Hauptstraße 1", city="Berlin"))
    assert_extractions(results(ok("r1", GLOBEX)), [partial], subset=True)
    assert "  billing_address.zip: expected None, got '10115'" in failure(results(ok("r1", GLOBEX)), [partial])


# ---------------------------------------------------------------------- matching
def test_matching_nested_values_by_input_order_and_by_custom_id() -> None:
    order = ["inv-acme-1", "inv-globex-17"]
    arrived = results(ok("inv-globex-17", GLOBEX), ok("inv-acme-1", ACME), order=order)  # the provider's order
    assert_extractions(arrived, [ACME, GLOBEX])
    assert_extractions(arrived, {"inv-globex-17": GLOBEX, "inv-acme-1": ACME})
    swapped = failure(arrived, [GLOBEX, ACME])
    assert swapped.startswith("batch extraction mismatch (matched by order): 2 wrong values of 2 expected items")
    assert "  vendor: expected 'Globex GmbH', got 'Acme Corp'" in swapped.splitlines()
    by_id = failure(arrived, {"inv-acme-1": ACME, "inv-globex-17": with_price(GLOBEX, 0, 95.0)})
    assert by_id.splitlines()[0] == ("batch extraction mismatch (matched by custom_id): 1 wrong value of 2 "
                                     "expected items")
    assert "inv-globex-17: 1 field differs" in by_id.splitlines()
    assert "  line_items[0].unit_price: expected 95.0, got 9.5" in by_id.splitlines()


# ---------------------------------------------------------------------- min_accuracy=
def test_min_accuracy_passes_at_the_bar_and_fails_below_it() -> None:
    # 10 items of 9 fields (ACME: 6 fields + one line item of 3); one wrong price, one refusal (9 wrong)
    wanted = {f"r{n}": ACME for n in range(1, 11)}
    items = [ok(f"r{n}", ACME) for n in range(1, 9)]
    items += [ok("r9", with_price(ACME, 0, 9.9)),
              BatchError("r10", ErrorKind.REFUSAL, "I cannot help with that", usage=Usage(10, 2))]
    report = assert_extractions(results(*items), wanted, min_accuracy=0.85)
    assert (report.right, report.total) == (80, 90)
    assert report.accuracy == pytest.approx(80 / 90)
    assert report.fields["line_items[*].unit_price"] == [8, 10] and report.fields["vendor"] == [9, 10]
    with pytest.raises(ExtractionMismatch) as caught:
        assert_extractions(results(*items), wanted, min_accuracy=0.95)
    lines = str(caught.value).splitlines()
    assert lines[0] == "batch extraction accuracy 88.9% is below min_accuracy=0.95: 80 of 90 fields right"
    assert ("least accurate fields: line_items[*].unit_price 8/10, billing_address 9/10, currency 9/10, "
            "due_date 9/10, invoice_number 9/10, issue_date 9/10, line_items[*].description 9/10, "
            "line_items[*].quantity 9/10, vendor 9/10") in lines
    assert "  line_items[0].unit_price: expected 99.0, got 9.9" in lines
    assert "r10: error refusal: I cannot help with that" in lines


def test_min_accuracy_still_fails_on_an_unexpected_result_and_checks_its_argument() -> None:
    with pytest.raises(ExtractionMismatch, match="1 unexpected of 1 expected items; unexpected results fail even"):
        assert_extractions(results(ok("r1", ACME), ok("r2", ACME)), {"r1": ACME}, min_accuracy=0.5)
    with pytest.raises(ValueError, match=r"between 0 and 1 \(0.9 for 90%\); got 90"):
        assert_extractions(results(ok("r1", ACME)), [ACME], min_accuracy=90)
    report = compare_extractions(results(ok("r1", changed(ACME, currency="EUR"))), [ACME])  # asserts nothing
    assert [str(diff) for diff in report.items[0].diffs] == ["currency: expected 'USD', got 'EUR'"]


# ---------------------------------------------------------------------- error kinds
ERRORED = [ok("request-1", ACME), BatchError("request-2", ErrorKind.EXPIRED, "the batch expired"),
           BatchError("request-3", ErrorKind.HTTP_ERROR, "model not found", status=404),
           BatchError("request-4", ErrorKind.REFUSAL, "I cannot help with that")]


def test_assert_error_kinds_passes_on_exactly_those_errors() -> None:
    assert_error_kinds(results(*ERRORED), {"request-2": "expired", "request-3": ErrorKind.HTTP_ERROR,
                                           "request-4": "refusal"})


def test_assert_error_kinds_says_which_item_differs_and_how() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_error_kinds(results(*ERRORED), {"request-1": "expired", "request-2": "canceled",
                                               "request-3": "http_error", "request-9": "expired"})
    assert str(caught.value).splitlines() == [
        "batch errors differ from the expected kinds (4 items):",
        "  request-1: expected error expired, got a value: Invoice(invoice_number='A-1', vendor='Acme Corp', "
        "issue_date=datetime.date(2024, 1, 5), due_date=None, currency='USD', billing_address=None, "
        "line_items=[LineItem(description='Anvil', quantity=1, unit_price=99.0)])",
        "  request-2: expected error canceled, got error expired: the batch expired",
        "  request-9: expected error expired, got no result at all (not in the results)",
        "  request-4: expected a value, got error refusal: I cannot help with that",
    ]
    with pytest.raises(ValueError, match=r"'expird' is not an error kind; use one of http_error, expired"):
        assert_error_kinds(results(*ERRORED), {"request-2": "expird"})


def test_assert_at_most_errors_counts_the_tolerated_kinds() -> None:
    assert_at_most_errors(results(*ERRORED), 3)
    assert_at_most_errors(results(*ERRORED[:1], ERRORED[3]), 1, kinds=["refusal", "truncated"])
    with pytest.raises(AssertionError) as caught:
        assert_at_most_errors(results(*ERRORED), 2)
    assert str(caught.value).splitlines()[:2] == ["3 batch items failed; at most 2 allowed:",
                                                  "  request-2: error expired: the batch expired"]
    with pytest.raises(AssertionError) as caught:
        assert_at_most_errors(results(*ERRORED), 1, kinds=["refusal", "expired"])
    assert str(caught.value).splitlines() == [
        "2 batch items failed with refusal or expired; at most 1 allowed:",
        "  request-2: error expired: the batch expired",
        "  request-4: error refusal: I cannot help with that",
        "1 batch item failed with a kind not tolerated (kinds=refusal, expired):",
        "  request-3: error http_error 404: model not found",
    ]
    with pytest.raises(ValueError, match=r"at_most is a number of items, 0 or more; got -1"):
        assert_at_most_errors(results(*ERRORED), -1)
