"""Answers for your prompts in simulation: ``@pytest.mark.batch(responses="answers.yaml")`` beside
the test, ``batch_sim.expect(...)``, and schema-valid synthetic answers for everything else."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("clean_env")

MODELS = """
from pydantic import BaseModel


class Customer(BaseModel):
    name: str
    tier: int
    email: str | None = None
"""

ANSWERS_YAML = """
# the emulator's expectations format: match (substring), regex or custom_id, and the response
- match: "ACME GmbH"
  response: {name: ACME GmbH, tier: 1, email: billing@acme.example}
- regex: "Customer C-\\\\d+"
  response: {name: Numbered customer, tier: 2}
- custom_id: request-9
  outcome: refusal
  message: I cannot help with that.
"""

TEST = """
import pytest

from models import Customer


def extract(processor, prompts, custom_ids=None):
    job = processor.wait(processor.submit(processor.build(prompts, custom_ids=custom_ids)))
    return {item.custom_id: item for item in processor.results(job)}


@pytest.mark.batch(responses="data/answers.yaml", response_model=Customer)
def test_answers(batch_processor, batch_sim):
    batch_sim.expect({"name": "Overridden", "tier": 3}, match="Customer C-42")  # the test's own wins
    items = extract(batch_processor, ["Bill ACME GmbH", "Customer C-7 ordered", "Customer C-42 too",
                                      "Somebody else entirely"], ["request-1", "request-2", "request-3", "request-4"])
    assert items["request-1"].value == Customer(name="ACME GmbH", tier=1, email="billing@acme.example")
    assert items["request-2"].value == Customer(name="Numbered customer", tier=2)
    assert items["request-3"].value == Customer(name="Overridden", tier=3)
    assert isinstance(items["request-4"].value, Customer), "everything else: a schema-valid synthetic answer"


@pytest.mark.batch(responses="data/answers.yaml", response_model=Customer)
def test_outcomes(batch_processor):
    items = extract(batch_processor, ["anything"], ["request-9"])
    assert items["request-9"].kind == "refusal"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "tests" / "data").mkdir(parents=True)
    (pytester.path / "tests" / "models.py").write_text(MODELS)
    (pytester.path / "tests" / "test_customers.py").write_text(TEST)
    return pytester


def test_an_answers_file_beside_the_test_answers_its_prompts(project: pytest.Pytester) -> None:
    (project.path / "tests" / "data" / "answers.yaml").write_text(ANSWERS_YAML)
    project.runpytest("--batch-mode=simulate").assert_outcomes(passed=6)


def test_a_jsonl_answers_file_works_the_same(project: pytest.Pytester) -> None:
    rows = [{"match": "ACME GmbH", "response": {"name": "ACME GmbH", "tier": 1, "email": "billing@acme.example"}},
            {"regex": "Customer C-\\d+", "response": {"name": "Numbered customer", "tier": 2}},
            {"custom_id": "request-9", "outcome": "refusal", "message": "I cannot help with that."}]
    (project.path / "tests" / "data" / "answers.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    test = project.path / "tests" / "test_customers.py"
    test.write_text(test.read_text().replace("data/answers.yaml", "data/answers.jsonl"))
    project.runpytest("--batch-mode=simulate", "--batch-provider=anthropic").assert_outcomes(passed=2)


def test_a_broken_answers_file_fails_the_test_naming_the_file_and_line(project: pytest.Pytester) -> None:
    (project.path / "tests" / "data" / "answers.yaml").write_text("- match: ACME\n  response: {name: x}\n"
                                                                  "- respnse: {name: y}\n")
    result = project.runpytest("--batch-mode=simulate", "--batch-provider=openai", "-k", "test_answers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.batch(responses='data/answers.yaml'): *tests/data/answers.yaml "
                                 "item 2: unknown key(s) [[]'respnse'[]]*"])
    result.stdout.no_fnmatch_line("*During handling*")


def test_an_unquoted_number_in_the_answers_file_is_a_usage_error_of_that_test(project: pytest.Pytester) -> None:
    """``- match: 12345`` is an int in YAML: refused when the test starts, naming entry and field,
    instead of every poll failing with a 500 ("5 polls in a row failed")."""
    (project.path / "tests" / "data" / "answers.yaml").write_text("- match: 12345\n  response: {name: x}\n")
    result = project.runpytest("--batch-mode=simulate", "--batch-provider=openai", "-k", "test_answers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.batch(responses='data/answers.yaml'): *tests/data/answers.yaml "
                                 "item 1: 'match' must be a string*got int 12345*"])
    result.stdout.no_fnmatch_line("*polls in a row failed*")


def test_a_missing_answers_file_says_where_it_was_looked_for(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-mode=simulate", "--batch-provider=openai", "-k", "test_answers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.batch(responses='data/answers.yaml'): cannot read expectations "
                                 "file */tests/data/answers.yaml: No such file or directory*"])
