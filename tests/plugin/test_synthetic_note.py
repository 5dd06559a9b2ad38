"""An assertion that compares the user's expected values with answers the emulator made up says
so in its failure message, and names the way to give those prompts real answers."""

from __future__ import annotations

import pytest

PROJECT = """
import pytest
from pydantic import BaseModel

from pytest_batch.assertions import assert_extractions


class Order(BaseModel):
    customer: str
    quantity: int


@pytest.mark.batch(providers="openai", response_model=Order)
def test_orders(batch_processor, batch_sim):
    batch_sim.expect({"customer": "Ada", "quantity": 3}, match="Ada")
    job = batch_processor.wait(batch_processor.submit(["Ada orders three.", "Grace orders two."]))
    assert_extractions(batch_processor.results(job), [Order(customer="Ada", quantity=4),
                                                      Order(customer="Grace", quantity=2)])
"""


def test_a_failure_says_which_answers_the_emulator_made_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PROJECT)
    result = pytester.runpytest("--batch-mode=simulate")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*synthetic answers: request-2: the emulator made these up (no expectation "
                                 "matched their prompts)*batch_sim.expect(...) or @pytest.mark.batch(responses=...)"])
    result.stdout.no_fnmatch_line("*synthetic answers: request-1*")  # an expectation answered it: a real mismatch
