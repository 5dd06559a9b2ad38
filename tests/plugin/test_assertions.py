"""assert_extractions, assert_no_errors, assert_batch_completed: what a failure shows."""

from __future__ import annotations

import pytest

from pytest_batch.assertions import (
    ExtractionMismatch,
    assert_batch_completed,
    assert_extractions,
    assert_no_errors,
)
from pytest_batch.models import (
    BatchCounts,
    BatchError,
    BatchJob,
    BatchResults,
    BatchStatus,
    BatchSuccess,
    ErrorKind,
    Usage,
)
from pytest_batch.seed import EXPECTED_USERS, User


def results_of(items: list, custom_ids: list[str] | None = None) -> BatchResults:
    return BatchResults(lambda: iter(items), custom_ids=custom_ids)


def ok(custom_id: str, user: User) -> BatchSuccess:
    return BatchSuccess(custom_id, user, Usage(10, 5))


def test_matching_results_pass_in_input_order_whatever_the_provider_order() -> None:
    items = [ok(f"request-{i}", user) for i, user in enumerate(EXPECTED_USERS, 1)]
    ids = [item.custom_id for item in items]
    assert_extractions(results_of(list(reversed(items)), ids), EXPECTED_USERS)
    assert_extractions(results_of(items, ids), {item.custom_id: item.value for item in items}, by="custom_id")


def test_failure_table_shows_diffs_errors_missing_and_unexpected() -> None:
    items = [ok("request-1", User(name="Alice", age=28)),
             ok("request-2", User(name="Bob", age=53)),
             BatchError("request-3", ErrorKind.EXPIRED, "the batch expired before this request ran"),
             ok("request-9", User(name="Zed", age=1))]
    with pytest.raises(ExtractionMismatch) as caught:
        assert_extractions(results_of(items, ["request-1", "request-2", "request-3", "request-4"]),
                           EXPECTED_USERS[:4])
    text = str(caught.value)
    lines = text.splitlines()
    assert lines[0] == ("batch extraction mismatch (matched by order): 1 wrong value, 1 error, 1 missing, 1 unexpected "
                        "of 4 expected items")
    assert [cell.strip() for cell in lines[1].split("|")] == ["", "custom_id", "expected", "got"]
    row = {line.split("|")[1].strip(): line for line in lines[2:7]}
    assert "User(name='Bob', age=35)" in row["request-2"] and "User(name='Bob', age=53)" in row["request-2"]
    assert "✗ DIFF" in row["request-2"] and row["request-1"].lstrip().startswith("ok")
    assert "error expired: the batch expired before this request ran" in row["request-3"]
    assert "no result came back for request-4" in row["request-4"] and "✗ MISSING" in row["request-4"]
    assert "(not expected)" in row["request-9"] and "User(name='Zed', age=1)" in row["request-9"]
    assert "missing: request-4" in lines
    assert "unexpected: request-9" in lines
    assert "request-3: error expired: the batch expired before this request ran" in lines


def test_by_custom_id_reports_missing_and_unexpected_ids() -> None:
    items = [ok("alice", User(name="Alice", age=28)), ok("eve", User(name="Eve", age=50))]
    with pytest.raises(ExtractionMismatch) as caught:
        assert_extractions(results_of(items), {"alice": EXPECTED_USERS[0], "bob": EXPECTED_USERS[1]})  # a mapping
    assert "missing: bob" in str(caught.value) and "unexpected: eve" in str(caught.value)
    assert "(matched by custom_id)" in str(caught.value)
    assert [row[0] for row in caught.value.rows] == ["ok", "MISSING", "UNEXPECTED"]


def test_bad_by_argument_is_explained() -> None:
    with pytest.raises(ValueError, match="use 'order' or 'custom_id'"):
        assert_extractions(results_of([]), [], by="name")


def test_assert_no_errors_lists_each_error() -> None:
    assert_no_errors(results_of([ok("a", EXPECTED_USERS[0])]))
    with pytest.raises(AssertionError) as caught:
        assert_no_errors(results_of([ok("a", EXPECTED_USERS[0]),
                                     BatchError("b", ErrorKind.HTTP_ERROR, "model not found", status=404)]))
    assert str(caught.value) == "1 batch item(s) failed:\n  b: error http_error 404: model not found"


def test_assert_batch_completed_says_what_happened_instead() -> None:
    assert_batch_completed(BatchJob("openai", "batch_1", BatchStatus.COMPLETED))
    job = BatchJob("anthropic", "msgbatch_1", BatchStatus.IN_PROGRESS, counts=BatchCounts(10, 4, 0, 6))
    with pytest.raises(AssertionError, match=r"batch msgbatch_1 on anthropic is 'in_progress', not 'completed' "
                                             r"\(4 succeeded, 0 errored, 6 pending of 10\) - call processor.wait"):
        assert_batch_completed(job)
    just_submitted = BatchJob("openai", "batch_3", BatchStatus.VALIDATING, counts=BatchCounts(0, 0, 0, 0))
    with pytest.raises(AssertionError) as caught:  # no "0 of 0": the provider has not counted yet
        assert_batch_completed(just_submitted)
    assert str(caught.value) == ("batch batch_3 on openai is 'validating', not 'completed' - call processor.wait(job) "
                                 "first")
    failed = BatchJob("openai", "batch_2", BatchStatus.FAILED, errors=["invalid_json: bad line (line 3)"])
    with pytest.raises(AssertionError, match=r"'failed'.*\n  invalid_json: bad line \(line 3\)"):
        assert_batch_completed(failed)


def test_a_failing_extraction_test_prints_the_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from pytest_batch.assertions import assert_extractions

        @pytest.mark.batch(faults={"requests": {"request-3": "expired"}})
        def test_users(batch_processor, batch_sim, batch_messages, expected_users):
            batch_sim.expect({"name": "Bob", "age": 53}, match="Hello, I'm Bob")
            job = batch_processor.wait(batch_processor.submit(batch_messages))
            assert_extractions(batch_processor.results(job), expected_users)
    """)
    result = pytester.runpytest("--batch-provider=openai")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E*batch extraction mismatch (matched by order): 1 wrong value, 1 error of 10 expected items",
        "E*custom_id*expected*got",
        "E*ok*request-1*User(name='Alice', age=28)*User(name='Alice', age=28)",
        "E*✗ DIFF*request-2*User(name='Bob', age=35)*User(name='Bob', age=53)",
        "E*✗ ERROR*request-3*User(name='Sarah', age=42)*error expired*",
        "*request-3: error expired:*",
    ])
    result.stdout.no_fnmatch_line("*assertions.py*")  # the helper's own frames are hidden


def test_comparing_result_items_to_values_explains_with_the_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_wrong_values(batch_processor, batch_messages, expected_users):
            job = batch_processor.wait(batch_processor.submit(batch_messages[:2]))
            assert list(batch_processor.results(job).in_input_order()) == expected_users[1:3]

        def test_items_not_values(batch_processor, batch_messages, expected_users):
            job = batch_processor.wait(batch_processor.submit(batch_messages[:2]))
            assert list(batch_processor.results(job)) == expected_users[:2]
    """)
    result = pytester.runpytest("--batch-provider=anthropic")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["E*batch results do not match the expected values",
                                 "E*batch extraction mismatch (matched by order): 2 wrong values of 2 expected items",
                                 "E*DIFF*request-1*User(name='Bob', age=35)*User(name='Alice', age=28)",
                                 "*test_items_not_values*",
                                 "E*every value matches, but the items are BatchSuccess/BatchError objects",
                                 "E*compare results.values() instead, or call assert_extractions(results, expected)"])


def test_an_expected_item_with_no_result_is_numbered_from_one() -> None:
    """Without submitted ids, a result that never came is shown by its 1-based position."""
    items = [ok(f"request-{i}", user) for i, user in enumerate(EXPECTED_USERS[:9], 1)]
    with pytest.raises(ExtractionMismatch) as caught:
        assert_extractions(results_of(items), EXPECTED_USERS)
    assert "missing: #10" in str(caught.value).splitlines()
