"""Replay and auto mode on a cassette file that is no cassette: one failure naming the file, what is
wrong and the command that records it again; no YAML traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import USERS_TEST

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("clean_env")

DAMAGE = {
    "cut short": (lambda text: text[: len(text) // 2], "the file is cut short: *"),
    "broken YAML": (lambda text: text.replace("interactions:\n", "interactions:\n  bad: [unclosed\n", 1),
                    "it is not valid YAML at line *, column *: *"),
    "a list at the top": (lambda text: "- a list\n- at the top\n",
                          "its top level is a list, not a mapping of metadata, version and interactions"),
}


@pytest.mark.parametrize("mode", ["auto", "replay"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_an_unreadable_cassette_fails_the_test_with_the_file_the_problem_and_the_command(
        pytester: pytest.Pytester, mode: str, damage: str) -> None:
    pytester.makepyfile(test_users=USERS_TEST)
    cassette = pytester.path / "cassettes" / "openai" / "test_users" / "test_users.yaml"
    cassette.parent.mkdir(parents=True)
    shutil.copy(ROOT / "cassettes" / "openai" / "test_users" / "test_users.yaml", cassette)
    change, problem = DAMAGE[damage]
    cassette.write_text(change(cassette.read_text()))

    result = pytester.runpytest(f"--batch-mode={mode}", "--batch-provider=openai")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*pytest-batch cannot read cassette {cassette}: {problem}. Record it again (record "
                                 "mode replaces the file): pytest 'test_users.py::test_users?openai?' "
                                 "--batch-mode=record*"])
    for noise in ("*Traceback*", "*ScannerError*", "*ParserError*", "*AttributeError*", "*<unicode string>*"):
        result.stdout.no_fnmatch_line(noise)
