"""Collection-time cassette bookkeeping: the stale check under narrowed runs, and two tests that
would share one cassette."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import USERS_TEST

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("clean_env")
CHECK = ("--batch-check-cassettes", "--collect-only", "-q")


def _cassette(pytester: pytest.Pytester, provider: str, module: str, name: str = "test_users") -> Path:
    target = pytester.path / "cassettes" / provider / module / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "cassettes" / provider / "test_users" / "test_users.yaml", target)
    return target


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """test_x.py with its cassettes on all three providers, and a second module."""
    pytester.makepyfile(test_x=USERS_TEST, test_y=USERS_TEST.replace("def test_users", "def test_more"))
    for provider in ("openai", "anthropic", "google"):
        _cassette(pytester, provider, "test_x")
    return pytester


@pytest.mark.parametrize("narrowing", [
    ["test_x.py", "--batch-provider=openai"],
    ["-k", "openai"],
    ["-k", "test_x and openai"],
    ["-m", "not slow", "--batch-provider=google"],
    ["test_x.py::test_users"],
])
def test_narrowed_runs_do_not_call_used_cassettes_stale(project: pytest.Pytester, narrowing: list[str]) -> None:
    result = project.runpytest(*CHECK, *narrowing)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*pytest-batch cassette check*", "3 cassettes in *cassettes: all clean"])
    result.stdout.no_fnmatch_line("stale:*")


def test_a_marker_narrowed_test_uses_its_cassette_whatever_the_run_selects(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="""
        import pytest

        @pytest.mark.batch(providers="anthropic")
        def test_users(batch_provider):
            pass
    """)
    _cassette(pytester, "anthropic", "test_x")
    result = pytester.runpytest(*CHECK, "--batch-provider=openai")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["1 cassettes in *cassettes: all clean"])


def test_a_narrowed_run_leaves_uncollected_modules_unchecked(project: pytest.Pytester) -> None:
    gone = _cassette(project, "openai", "test_gone", "test_old")
    result = project.runpytest(*CHECK, "test_x.py")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"not checked: 1 cassette in {gone.parent} (this run, narrowed by test paths, did "
                                 "not collect that module; run the check without them to find stale cassettes)",
                                 f"3 cassettes checked in {project.path / 'cassettes'}: 0 stale, 0 with secrets, "
                                 "0 pending; 1 not checked (narrowed run: test paths)"])
    result.stdout.no_fnmatch_line("stale:*")
    result.stdout.no_fnmatch_line("*all clean*")

    result = project.runpytest(*CHECK, "--ignore=test_y.py")
    result.stdout.fnmatch_lines(["not checked: 1 cassette in *test_gone (this run, narrowed by --ignore, did not *"])


@pytest.mark.parametrize("deselecting", [["-k", "test_x"], ["-m", "not slow"], ["--deselect", "test_x.py"]])
def test_deselecting_tests_still_finds_a_deleted_modules_cassettes_stale(project: pytest.Pytester,
                                                                         deselecting: list[str]) -> None:
    """-k, -m and --deselect collect every module: their cassettes are judged, deselected tests' as used."""
    _cassette(project, "openai", "test_gone", "test_old")
    result = project.runpytest(*CHECK, *deselecting)
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["stale: *test_gone*test_old.yaml*"])
    result.stdout.no_fnmatch_line("*test_x*test_users.yaml*")
    result.stdout.no_fnmatch_line("not checked*")

    result = project.runpytest(*CHECK)  # a full run judges every cassette
    assert result.ret == 1
    result.stdout.fnmatch_lines(["stale: *test_gone*test_old.yaml*"])

    stale_in_collected = _cassette(project, "google", "test_x", "test_renamed")
    result = project.runpytest(*CHECK, "test_x.py")
    assert result.ret == 1, "a collected module's unused cassette is stale even in a narrowed run"
    result.stdout.fnmatch_lines([f"stale: {stale_in_collected} *"])


def test_the_check_still_reports_secrets_and_pending_in_a_narrowed_run(project: pytest.Pytester) -> None:
    leaking = _cassette(project, "openai", "test_gone", "test_old")
    key = "sk-proj-" + "Q7" * 24  # built here, so the repository never holds a key-like string
    leaking.write_text(leaking.read_text().replace("authorization: REDACTED", f"authorization: Bearer {key}", 1))
    pending = _cassette(project, "anthropic", "test_gone", "test_old")
    pending.write_text(pending.read_text().replace("metadata:\n", "metadata:\n  pending: {batch_id: msgbatch_1}\n", 1))
    result = project.runpytest(*CHECK, "test_x.py")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["secret: *openai*test_gone*test_old.yaml:*",
                                 "pending: *anthropic*test_gone*test_old.yaml (batch msgbatch_1 still running*"])
    assert key not in result.stdout.str()


@pytest.fixture
def same_names(pytester: pytest.Pytester) -> pytest.Pytester:
    for folder in ("a", "b"):
        pytester.mkpydir(folder)
        (pytester.path / folder / "test_same.py").write_text(USERS_TEST)
    return pytester


def test_two_modules_with_one_file_name_cannot_share_a_cassette(same_names: pytest.Pytester) -> None:
    result = same_names.runpytest("--batch-provider=openai")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*pytest-batch: a/test_same.py::test_users and b/test_same.py::test_users would share the cassette "
        "cassettes/*/test_same/test_users.yaml (a cassette path names the test module's file, not its folder). "
        "Give one its own cassette, e.g. @pytest.mark.batch(cassette='test_users_b')."])
    assert len(result.stderr.lines) < 5, "one message per clashing pair, not one per provider"

    (same_names.path / "b" / "test_same.py").write_text(
        "import pytest\npytestmark = pytest.mark.batch(cassette='test_users_b')\n" + USERS_TEST)
    same_names.runpytest("--batch-provider=openai").assert_outcomes(passed=2)


def test_under_xdist_the_clashing_tests_fail_with_the_same_message(same_names: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = same_names.runpytest("--batch-provider=openai", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*a/test_same.py::test_users and b/test_same.py::test_users would share the "
                                 "cassette cassettes/openai/test_same/test_users.yaml*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_tests_that_name_one_cassette_share_it_on_purpose(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(cassette="shared")
        def test_one(batch_provider):
            pass

        @pytest.mark.batch(cassette="shared")
        def test_two(batch_provider):
            pass
    """)
    pytester.runpytest("--batch-provider=openai").assert_outcomes(passed=2)


SHARED = """
import pytest
from pytest_batch.assertions import assert_extractions


@pytest.mark.batch(cassette=CASSETTE)
def test_users(batch_processor, batch_messages, expected_users):
    job = batch_processor.wait(batch_processor.submit(batch_messages))
    assert_extractions(batch_processor.results(job), expected_users)
"""


def test_one_named_cassette_for_several_providers_is_a_usage_error_naming_the_provider_placeholder(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=SHARED.replace("CASSETTE", "'shared/x.yaml'"))
    result = pytester.runpytest("--batch-mode=simulate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*pytest-batch: test_x.py::test_users would use the cassette cassettes/shared/x.yaml for openai, anthropic, "
        "google, azure, but a cassette holds one provider's recording. Put the {provider} placeholder in its name, "
        "e.g. @pytest.mark.batch(cassette='shared/{provider}/x.yaml'), or narrow the test to one provider with "
        "providers=."])

    pytester.makepyfile(test_x=SHARED.replace("CASSETTE", "'shared/{provider}/x.yaml'"))
    pytester.runpytest("--batch-mode=simulate").assert_outcomes(passed=3)


def test_a_mismatch_never_suggests_another_providers_model(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=USERS_TEST)
    target = pytester.path / "cassettes" / "openai" / "test_x" / "test_users.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(ROOT / "cassettes" / "anthropic" / "test_users" / "test_users.yaml", target)
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["The cassette was recorded for anthropic; this test runs openai. Give each provider "
                                 "its own cassette: put {provider} in the marker's cassette= name*"])
    result.stdout.no_fnmatch_line("*--batch-model=anthropic*")
