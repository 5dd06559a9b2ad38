"""--batch-check-cassettes: stale cassettes, leaked secrets and pending recordings, after collection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import USERS_TEST

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The example test with the project's own recorded cassettes of it beside it."""
    pytester.makepyfile(test_users=USERS_TEST)
    for provider in ("openai", "anthropic", "google"):
        folder = Path("cassettes") / provider / "test_users"
        shutil.copytree(ROOT / folder, pytester.path / folder)
    return pytester


def test_clean_cassettes_pass_the_check(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*pytest-batch cassette check*", "3 cassettes in *cassettes: all clean"])


def test_a_cassette_no_test_uses_is_stale(project: pytest.Pytester) -> None:
    orphan = project.path / "cassettes" / "openai" / "test_removed" / "test_gone.yaml"
    orphan.parent.mkdir(parents=True)
    shutil.copy(project.path / "cassettes" / "openai" / "test_users" / "test_users.yaml", orphan)
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["stale: *test_removed*test_gone.yaml (no collected test uses it; *"])


def test_a_cassette_holding_a_key_fails_the_check_without_printing_the_key(project: pytest.Pytester) -> None:
    key = "sk-proj-" + "Q7" * 24  # built here, so the repository never holds a key-like string
    cassette = project.path / "cassettes" / "anthropic" / "test_users" / "test_users.yaml"
    cassette.write_text(cassette.read_text().replace("authorization: REDACTED", f"authorization: Bearer {key}", 1))
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["secret: *anthropic*test_users.yaml:*"])
    assert key not in result.stdout.str()


def test_the_check_refuses_xdist(project: pytest.Pytester) -> None:
    result = project.runpytest("--batch-check-cassettes", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--batch-check-cassettes needs every test collected in one process*"])


def test_problems_end_with_the_count_line(project: pytest.Pytester) -> None:
    orphan = project.path / "cassettes" / "openai" / "test_removed" / "test_gone.yaml"
    orphan.parent.mkdir(parents=True)
    shutil.copy(project.path / "cassettes" / "openai" / "test_users" / "test_users.yaml", orphan)
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    lines = result.stdout.lines
    check = lines[lines.index(next(line for line in lines if "pytest-batch cassette check" in line)) + 1:]
    assert check[0].startswith(f"stale: {orphan} ")
    assert check[1] == f"4 cassettes checked in {project.path / 'cassettes'}: 1 stale, 0 with secrets, 0 pending"


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],  # cut short
    lambda text: text.replace("interactions:\n", "interactions:\n  bad: [unclosed\n", 1),
    lambda text: "- a list\n- at the top\n",
], ids=["cut short", "broken YAML", "a list at the top"])
def test_a_cassette_that_cannot_be_read_fails_the_check(project: pytest.Pytester, damage) -> None:
    cassette = project.path / "cassettes" / "google" / "test_users" / "test_users.yaml"
    cassette.write_text(damage(cassette.read_text()))
    result = project.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"unreadable: {cassette}: *; delete it and record its test again "
                                 "(--batch-mode=record)",
                                 "3 cassettes checked in *: 0 stale, 0 with secrets, 0 pending, 1 unreadable"])
    result.stdout.no_fnmatch_line("*all clean*")
    result.stdout.no_fnmatch_line("*<unicode string>*")


@pytest.fixture
def confined(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project whose testpaths leave out examples/, which holds a test with its own cassettes."""
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    for folder, module in (("tests", "test_extract"), ("examples", "test_users")):
        (pytester.path / folder).mkdir()
        (pytester.path / folder / f"{module}.py").write_text(USERS_TEST)
        for provider in ("openai", "anthropic", "google"):
            target = pytester.path / "cassettes" / provider / module / "test_users.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "cassettes" / provider / "test_users" / "test_users.yaml", target)
    return pytester


def test_a_run_confined_to_its_testpaths_does_not_call_other_folders_cassettes_stale(
        confined: pytest.Pytester) -> None:
    result = confined.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        f"not checked: 1 cassette in {confined.path / 'cassettes' / 'openai' / 'test_users'} (this run, narrowed by "
        "testpaths, did not collect that module; pass the rootdir to judge them: pytest --batch-check-cassettes "
        "--collect-only -q .)",
        f"3 cassettes checked in {confined.path / 'cassettes'}: 0 stale, 0 with secrets, 0 pending; 3 not checked "
        "(narrowed run: testpaths)"])
    result.stdout.no_fnmatch_line("stale:*")

    # a module that is nowhere (deleted) still leaves stale cassettes behind, testpaths or not
    gone = confined.path / "cassettes" / "openai" / "test_deleted" / "test_users.yaml"
    gone.parent.mkdir()
    shutil.copy(ROOT / "cassettes" / "openai" / "test_users" / "test_users.yaml", gone)
    result = confined.runpytest("--batch-check-cassettes", "--collect-only", "-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"stale: {gone} (no collected test uses it; *",
                                 "4 cassettes checked in *: 1 stale, 0 with secrets, 0 pending; 3 not checked "
                                 "(narrowed run: testpaths)"])
    gone.unlink()

    result = confined.runpytest("--batch-check-cassettes", "--collect-only", "-q", ".")  # the whole rootdir
    assert result.ret == 0
    result.stdout.fnmatch_lines(["6 cassettes in *cassettes: all clean"])
