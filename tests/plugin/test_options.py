"""Command-line options, ini settings and the ``batch`` marker."""

from __future__ import annotations

import pytest

from pytest_batch.model_catalog import DEFAULT_MODELS

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")

PROVIDER_TEST = """
def test_p(batch_provider, batch_model):
    print(f"RAN {batch_provider} {batch_model}")
"""


def test_every_provider_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_users[[]openai[]] PASSED*", "*test_users[[]anthropic[]] PASSED*",
                                 "*test_users[[]google[]] PASSED*"])


@pytest.mark.parametrize(("option", "ran"), [
    ("--batch-provider=openai", ["openai"]),
    ("--batch-provider=google,anthropic", ["anthropic", "google"]),
    ("--batch-provider=all", ["openai", "anthropic", "google"]),
])
def test_batch_provider_option_selects_providers(pytester: pytest.Pytester, option: str, ran: list[str]) -> None:
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest(option, "-v")
    result.assert_outcomes(passed=len(ran))
    result.stdout.fnmatch_lines([f"*test_p[[]{name}[]] PASSED*" for name in ran])


def test_unknown_provider_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest("--batch-provider=openia")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--batch-provider: unknown provider 'openia'; choose from openai, anthropic, "
                                 "google, azure or 'all' (openai, anthropic, google)*"])


def test_ini_settings_apply_and_the_command_line_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        batch_provider = "anthropic"
        batch_model = ["anthropic/claude-sonnet-4-5"]
    """)
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RAN anthropic anthropic/claude-sonnet-4-5"])

    result = pytester.runpytest("-s", "--batch-provider=openai")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*RAN openai {DEFAULT_MODELS['openai']}"])  # the catalog's default


def test_batch_model_overrides_one_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest("-s", "--batch-model=google/gemini-2.5-flash", "--batch-provider=openai,google")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"*RAN openai {DEFAULT_MODELS['openai']}", "*RAN google google/gemini-2.5-flash"])


def test_batch_model_runs_the_processor_with_that_model(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_model(batch_processor, batch_sim, batch_messages):
            batch_processor.wait(batch_processor.submit(batch_messages[:1]))
            assert batch_processor.model_string == "openai/gpt-4.1-nano"
            assert batch_sim.openai.batches, "the batch reached the emulator"
    """)
    pytester.runpytest("--batch-provider=openai", "--batch-model=openai/gpt-4.1-nano").assert_outcomes(passed=1)


def test_bad_model_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest("--batch-model=gpt-4o")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--batch-model: 'gpt-4o' is not provider/model, e.g. openai/*list-models*"])


def test_a_bad_ini_value_names_the_ini_setting(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        batch_max_requests = "many"
    """)
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini setting batch_max_requests: expected a number, got 'many'"])


def test_mode_ini_setting(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbatch_mode = replay\nbatch_provider = openai\n")
    pytester.makepyfile(USERS_TEST)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pytest-batch: no cassette at *openai*test_users.yaml*"])


def test_cassette_dir_option_and_ini(pytester: pytest.Pytester) -> None:
    """auto mode replays when the test's cassette exists in the configured directory."""
    pytester.makepyfile(test_mod=PROVIDER_TEST)
    cassette = pytester.path / "tapes" / "openai" / "test_mod" / "test_p.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\n")
    result = pytester.runpytest("--batch-provider=openai", "--batch-cassette-dir=tapes")
    result.stdout.fnmatch_lines(["*openai*replay*"])
    result = pytester.runpytest("--batch-provider=openai")
    result.stdout.fnmatch_lines(["*openai*simulate*"])
    pytester.makeini("[pytest]\nbatch_cassette_dir = tapes\n")
    result = pytester.runpytest("--batch-provider=openai")
    result.stdout.fnmatch_lines(["*openai*replay*"])


def test_cassette_dir_option_is_relative_to_where_pytest_started_and_the_ini_to_its_file(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_mod=PROVIDER_TEST)
    cassette = pytester.path / "tapes" / "openai" / "test_mod" / "test_p.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\n")
    monkeypatch.chdir(pytester.mkdir("sub"))
    result = pytester.runpytest("../test_mod.py", "--batch-provider=openai", "--batch-cassette-dir=../tapes")
    result.stdout.fnmatch_lines(["*openai*replay*"])

    # a missing cassette is named by its normalised path, without ".."
    pytester.makepyfile(test_users=USERS_TEST)
    result = pytester.runpytest("../test_users.py", "--batch-provider=openai", "--batch-cassette-dir=../tapes",
                                "--batch-mode=replay")
    result.stdout.fnmatch_lines([f"*pytest-batch: no cassette at {pytester.path / 'tapes' / 'openai'}/test_users/*"])

    pytester.makeini("[pytest]\nbatch_cassette_dir = tapes\n")  # the ini's folder, wherever pytest starts
    result = pytester.runpytest("../test_mod.py", "--batch-provider=openai")
    result.stdout.fnmatch_lines(["*openai*replay*"])


@pytest.mark.parametrize("option", ["--batch-record-timeout=soon", "--batch-max-requests=-3"])
def test_numeric_options_are_checked(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--batch-*: *"])


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.batch(providers=None, mode=None, cassette=None, lifecycle=None, "
                                 "faults=None, response_model=None, responses=None)*"])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(providers="openai")
        def test_p(batch_provider):
            pass
    """)
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_marker_providers_narrow_the_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(providers=["openai", "google"])
        def test_two(batch_provider):
            pass

        @pytest.mark.batch(providers="anthropic")
        def test_one(batch_provider):
            pass
    """)
    result = pytester.runpytest("-v", "--batch-provider=openai,anthropic")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_two[[]openai[]] PASSED*", "*test_one[[]anthropic[]] PASSED*"])
    result.stdout.no_fnmatch_line("*google*PASSED*")


def test_marker_mode_pins_an_offline_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(mode="replay")
        def test_pinned(batch_processor):
            pass
    """)
    result = pytester.runpytest("--batch-provider=openai", "--batch-mode=simulate")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no cassette at*"])


def test_marker_live_mode_is_skipped_in_an_offline_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(mode="live")
        def test_live(batch_processor):
            raise AssertionError("must not run offline")
    """)
    result = pytester.runpytest("--batch-provider=openai", "-rs")
    result.assert_outcomes(skipped=1)
    # reported at the test's own line, not inside the plugin
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_marker_live_mode_is_skipped_in_an_offline_run.py:3: marked "
                                 "mode='live', which needs the network: run with --batch-mode=live*"])


def test_marker_lifecycle_reaches_the_emulator_and_waits_do_not_sleep(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import time
        import pytest

        @pytest.mark.batch(lifecycle="seconds:7200")
        def test_slow_batch(batch_processor, batch_sim, batch_messages, expected_users, monkeypatch):
            monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("slept for real"))
            job = batch_processor.submit(batch_messages)
            assert not batch_processor.status(job).is_terminal
            start = batch_sim.clock.now()
            job = batch_processor.wait(job)
            assert job.status.value == "completed"
            assert batch_sim.clock.now() - start >= 7200
    """)
    pytester.runpytest().assert_outcomes(passed=3)


def test_marker_faults_reach_the_emulator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(faults={"requests": {"request-3": "expired"}})
        def test_faulty(batch_processor, batch_messages):
            job = batch_processor.wait(batch_processor.submit(batch_messages))
            errors = list(batch_processor.results(job).errors())
            assert [(e.custom_id, e.kind.value) for e in errors] == [("request-3", "expired")]
    """)
    pytester.runpytest().assert_outcomes(passed=3)
    result = pytester.runpytest("--batch-mode=replay", "--batch-provider=openai", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*injects emulator faults, which only --batch-mode=simulate or auto can do*"])


def test_a_rate_limit_fault_is_retried_on_every_provider_alike(pytester: pytest.Pytester) -> None:
    """google-genai retries nothing by default; the plugin's clients retry a 429 on Gemini as the
    openai and anthropic SDKs do, so one marker means the same on every provider."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(faults={"http": [{"status": 429, "times": 1, "method": "POST"}]})
        def test_rate_limited(batch_processor, batch_messages, batch_sim):
            job = batch_processor.wait(batch_processor.submit(batch_messages[:2]))
            assert len(list(batch_processor.results(job).successes())) == 2
            assert any(entry.status == 429 for entry in batch_sim.journal)
    """)
    pytester.runpytest().assert_outcomes(passed=3)


def test_marker_cassette_names_the_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod="""
        import pytest

        @pytest.mark.batch(cassette="shared_users")
        def test_p(batch_provider):
            pass
    """)
    cassette = pytester.path / "cassettes" / "openai" / "test_mod" / "shared_users.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\n")
    result = pytester.runpytest("--batch-provider=openai")
    result.stdout.fnmatch_lines(["*openai*replay*"])


def test_bad_marker_argument_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(provider="openai")
        def test_p(batch_provider):
            pass
    """)
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*@pytest.mark.batch: unknown argument provider; use cassette, faults, "
                                 "lifecycle, mode, providers, response_model, responses*"])


def test_auto_simulates_tests_that_program_the_emulator_even_with_a_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod="""
        def test_p(batch_sim, batch_processor):
            pass
    """)
    cassette = pytester.path / "cassettes" / "openai" / "test_mod" / "test_p.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\n")
    result = pytester.runpytest("--batch-provider=openai")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*openai*simulate*"])


def test_a_bad_faults_value_is_reported_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.batch(faults={"request": {"request-3": "expired"}})
        def test_faulty(batch_processor):
            pass
    """)
    result = pytester.runpytest("--batch-provider=openai")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.batch(faults=): unknown key(s) [[]'request'[]]*"])
    result.stdout.no_fnmatch_line("*During handling*")
    report = [line for line in result.stdout.lines if not line.startswith("ERROR ")]
    assert sum("unknown key(s)" in line for line in report) == 1, "the bad value is reported once"


def test_batch_model_on_the_command_line_keeps_the_other_ini_models(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbatch_model = google/gemini-2.5-flash anthropic/claude-sonnet-4-5\n")
    pytester.makepyfile(PROVIDER_TEST)
    result = pytester.runpytest("-s", "--batch-model", "openai/gpt-4.1", "--batch-model", "anthropic/claude-opus-4-1")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*RAN openai openai/gpt-4.1", "*RAN anthropic anthropic/claude-opus-4-1",
                                 "*RAN google google/gemini-2.5-flash"])


def test_help_names_the_catalogs_default_models(pytester: pytest.Pytester) -> None:
    """``--batch-model``'s help lists the defaults the plugin runs: the model catalog's."""
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())  # help text wraps anywhere
    assert "Defaults: " + ", ".join(DEFAULT_MODELS.values()) + "." in text
