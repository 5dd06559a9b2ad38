"""Failures exit non-zero with one clear line, never a traceback, and need no key to report."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading

import pytest

from pytest_batch.model_catalog import DEFAULT_MODELS
from tests.cli.conftest import EXAMPLES, clean_env


def test_help_needs_no_key_and_imports_no_sdk(cli):
    """`pytest-batch --help` works without keys and loads no SDK, rich or pydantic."""
    code = ("import sys\nfrom pytest_batch import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit as e:\n"
            "    rc = e.code\nprint('RC', rc)\n"
            "print('LOADED', [m for m in ('openai', 'anthropic', 'google.genai', 'rich', 'pydantic') "
            "if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(),
                          cwd=cli.cwd, timeout=30, check=False)
    assert "RC 0" in done.stdout, done.stderr
    for command in ("create", "create-from-file", "list", "status", "results", "cancel", "delete", "list-models",
                    "serve", "demo"):
        assert command in done.stdout
    assert "--simulate" in done.stdout and "exit codes" in done.stdout
    assert "LOADED []" in done.stdout


@pytest.mark.parametrize("model, variable", [("openai/gpt-4o-mini", "OPENAI_API_KEY"),
                                             ("anthropic/claude-3-5-sonnet-20241022", "ANTHROPIC_API_KEY"),
                                             ("google/gemini-2.0-flash-001", "GOOGLE_API_KEY")])
def test_missing_key_names_the_variable_and_suggests_simulate(cli, model, variable):
    result = cli("list", "--model", model)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith(f"❌ Error: {variable} environment variable is not set")
    assert "--simulate" in lines[0]
    assert result.out == ""


def test_bad_model_strings_get_the_seed_messages(cli):
    """A missing or malformed --model is bad usage (exit 2, as the README says); it used to exit 1."""
    no_slash = cli("status", "--model", "gpt-4o-mini", "--batch-id", "b", "--simulate")
    assert (no_slash.code, no_slash.err.strip()) == (
        2, f"❌ Error: Model must be in format 'provider/model-name' (e.g. {DEFAULT_MODELS['openai']}; "
           "see `pytest-batch list-models`)")
    unknown = cli("list", "--model", "xyz/some-model")
    assert (unknown.code, unknown.err.strip()) == (
        2, "❌ Unsupported provider: xyz. Supported providers: openai, anthropic, google, azure")
    missing = cli("list", "--simulate")
    assert missing.code == 2 and missing.err.startswith("❌ Error: --model is required"), missing
    configured = cli("list-models", env={"PYTEST_BATCH_MODELS": "gpt-5"})  # configuration, not usage: exit 1
    assert (configured.code, configured.err) == (
        1, "❌ Error: PYTEST_BATCH_MODELS: 'gpt-5': Model must be in format 'provider/model-name' "
           f"(e.g. {DEFAULT_MODELS['openai']}; see `pytest-batch list-models`)\n"), configured
    usage = cli("list", "--model", "openai/gpt-4o-mini", "--limit", "ten")
    assert usage.code == 2
    assert usage.err.strip() == ("❌ Error: argument --limit: expected a whole number, got 'ten' "
                                 "(see `pytest-batch list --help`)")


@pytest.mark.parametrize("model, problem", [
    ("openai/gpt 4o", "the model name 'gpt 4o' contains whitespace"),
    ("openai/gpt-4o\n", "the model name 'gpt-4o\\n' contains whitespace"),
    ("anthropic/claude-3-5-sonnet-2024102'", "the model name \"claude-3-5-sonnet-2024102'\" contains \"'\""),
    ("openai/gpt-4\u043e", "the model name 'gpt-4\u043e' contains the non-ASCII character '\u043e' (U+043E)"),
    ("google/gemini-2.0-flash/", "the model name 'gemini-2.0-flash/' starts or ends with '/'"),
])
def test_a_model_name_no_provider_uses_is_bad_usage(cli, model, problem):
    """`--model "openai/gpt 4o"` was accepted and sent; a stray quote, a look-alike letter too."""
    result = cli("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), "--model", model, "--simulate")
    assert (result.code, result.out) == (2, ""), result
    assert result.err == (f"❌ Error: --model {model!r}: {problem}; model names use only letters, digits and "
                          "- . _ : @ / (see `pytest-batch list-models`)\n"), result
    assert not (cli.cwd / ".pytest-batch").exists()


def test_model_names_the_providers_use_are_accepted():
    from pytest_batch.cli.target import parse_model

    for model in ("openai/ft:gpt-4o-mini-2024-07-18:my-org:custom:9abc", "anthropic/claude-sonnet-4-5@20250929",
                  "google/tunedModels/my-model-123", "openai/gpt-4.1_mini"):
        provider, name = parse_model(model)
        assert f"{provider}/{name}" == model


def test_non_positive_durations_and_limits_are_usage_errors(cli):
    """--timeout 0 used to give up at once and --interval 0 to poll in a busy loop: now exit 2, one line."""
    status = ("status", "--model", "openai/gpt-4o-mini", "--batch-id", "b", "--simulate", "--wait")
    for option, value in (("--timeout", "0"), ("--timeout", "-2"), ("--interval", "0"), ("--interval", "nan")):
        result = cli(*status, option, value)
        assert (result.code, result.out) == (2, ""), result
        assert result.err.strip() == (f"❌ Error: argument {option}: must be more than 0, got '{value}' "
                                      "(see `pytest-batch status --help`)"), result
    limit = cli("list", "--model", "openai/gpt-4o-mini", "--simulate", "--limit", "0")
    assert limit.code == 2 and "argument --limit: must be more than 0" in limit.err, limit
    assert not (cli.cwd / ".pytest-batch").exists()


def test_malformed_messages_file_names_file_and_line(cli):
    path = cli.cwd / "messages.jsonl"
    path.write_text('"first prompt"\n{"prompt": "second"}\n{"prompt": "third"\n', encoding="utf-8")
    result = cli("create", "--messages-file", "messages.jsonl", "--model", "openai/gpt-4o-mini", "--simulate")
    assert result.code == 1
    assert result.err.strip().startswith("❌ Error: messages.jsonl line 3: not valid JSON"), result
    assert not (cli.cwd / ".pytest-batch").exists()  # nothing was sent


def test_bad_message_role_or_content_names_file_and_line(cli, tmp_path):
    """These used to surface from the processor as "prompt 2: each message needs a role ..." (no file, no line)."""
    (cli.cwd / "chat.jsonl").write_text('"first"\n\n{"messages": [{"role": "user", "content": "a"}, '
                                        '{"role": "bot", "content": "b"}]}\n', encoding="utf-8")
    result = cli("create", "--messages-file", "chat.jsonl", "--model", "openai/gpt-4o-mini", "--output-file", "r.jsonl")
    assert (result.code, result.out) == (1, ""), result
    assert result.err == ("❌ Error: chat.jsonl line 3: message 2: \"role\" must be one of 'system', 'user', "
                          "'assistant', got \"bot\"\n"), result
    assert not (cli.cwd / "r.jsonl").exists()

    from pytest_batch.cli.inputs import read_messages
    from pytest_batch.cli.target import CLIError

    path = tmp_path / "m.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": ["x"]}]}\n')
    with pytest.raises(CLIError, match=r'm.jsonl line 1: message 1: "content" must be a string, got list \["x"\]'):
        read_messages(path)
    path.write_text('{"prompt": "ok"}\n{"messages": [{"content": "no role"}]}\n')
    with pytest.raises(CLIError, match='m.jsonl line 2: message 1: every message needs "role" and "content"'):
        read_messages(path)


def test_unknown_batch_id_is_one_line_on_every_provider(cli, monkeypatch):
    from pytest_batch.cli.state import new_emulator, save_state

    monkeypatch.setenv("XDG_CONFIG_HOME", str(cli.config_home))  # signed with the key the subprocesses use
    (cli.cwd / "state").mkdir()
    save_state(new_emulator(), cli.cwd / "state" / "emulator.pickle")
    for model, batch_id in (("openai/gpt-4o-mini", "batch_nope"),
                            ("anthropic/claude-3-5-sonnet-20241022", "msgbatch_nope"),
                            ("google/gemini-2.0-flash-001", "batches/nope")):
        result = cli("status", "--model", model, "--batch-id", batch_id, "--simulate", "--state-dir", "state", "--json")
        assert (result.code, result.out) == (1, ""), result
        assert len(result.err.strip().splitlines()) == 1, result
        assert result.err.startswith("❌ Error: ") and batch_id.removeprefix("batches/") in result.err, result


def test_state_dir_and_output_file_problems_are_one_line(cli):
    (cli.cwd / "state" / "lock").mkdir(parents=True)  # stands for a state directory this user cannot write
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    locked = cli("create", "--messages-file", "prompt.jsonl", "--model", "openai/gpt-4o-mini", "--simulate",
                 "--state-dir", "state")
    assert locked.code == 1, locked
    assert locked.err.startswith("❌ Error: cannot lock the simulated state directory state (Is a directory); "
                                 "pass a writable --state-dir"), locked
    into_dir = cli("results", "--model", "openai/gpt-4o-mini", "--batch-id", "b", "--simulate", "--output-file", ".")
    assert into_dir.code == 1 and "--output-file . is a directory" in into_dir.err, into_dir


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_option_errors_are_one_line(cli):
    usage = {("--port", "70000"): "argument --port: expected a port number from 0 to 65535 (0 picks a free one), "
                                  "got '70000'",
             ("--port", "abc"): "argument --port: expected a port number from 0 to 65535 (0 picks a free one), "
                                "got 'abc'",
             ("--seed", "abc"): "argument --seed: invalid int value: 'abc'"}
    for args, message in usage.items():
        result = cli("serve", *args)
        assert (result.code, result.out) == (2, ""), result
        assert result.err == f"❌ Error: {message} (see `pytest-batch serve --help`)\n", result
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        taken = cli("serve", "--port", str(port))
    assert (taken.code, taken.out) == (1, ""), taken
    assert taken.err == (f"❌ Error: port {port} on 127.0.0.1 is already in use (another `pytest-batch serve`?); "
                         "pass --port 0 to pick a free port, or choose another --port\n"), taken
    host = cli("serve", "--host", "no-such-host.invalid", "--port", "0")
    assert host.code == 1 and host.err.startswith("❌ Error: cannot listen on no-such-host.invalid:0 ("), host
    assert len(host.err.splitlines()) == 1, host


@pytest.fixture
def google_tries_once(monkeypatch):
    """google-genai retries a refused connection with real pauses (the other SDKs' retries are
    turned off with max_retries=0): one attempt is enough to see how the failure reads."""
    from pytest_batch.providers import google

    monkeypatch.setattr(google, "RETRY_OPTIONS", {**google.RETRY_OPTIONS, "attempts": 1})


def test_server_not_running_names_the_url(cli, google_tries_once):
    url = f"http://127.0.0.1:{_closed_port()}"
    result = cli("list", "--model", "google/gemini-2.0-flash-001", "--base-url", url, "--json")
    assert (result.code, result.out) == (1, ""), result
    assert result.err.strip() == (f"❌ Error: cannot reach the google API at {url}/google (connection refused); "
                                  "is `pytest-batch serve` running there? check --base-url")


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_every_sdks_connection_failure_is_recognised(provider, google_tries_once):
    """Each SDK fails differently (raw, wrapped by the processor, or chained): all read as unreachable."""
    from pytest_batch.cli.output import unreachable
    from pytest_batch.cli.target import resolve_target, sdk_client
    from pytest_batch.model_catalog import DEFAULT_MODELS
    from pytest_batch.processor import BatchProcessor

    target = resolve_target(provider, base_url=f"http://127.0.0.1:{_closed_port()}")
    client = sdk_client(provider, target.base_url, "key")
    if provider != "google":
        client = client.with_options(max_retries=0)
    with pytest.raises(Exception) as failure:
        BatchProcessor(DEFAULT_MODELS[provider], client=client).list(1)
    line = unreachable(failure.value, target)
    assert line is not None and line.message.startswith(f"cannot reach the {provider} API at {target.base_url} "
                                                        "(connection refused)")
    assert unreachable(ValueError("not a network problem"), target) is None


@pytest.fixture
def echoing_server():
    """A server that answers 401 quoting the credentials it received, as careless proxies do."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"error": {"message": f"bad credentials {self.headers.get('Authorization')}",
                                         "type": "invalid_request_error"}}).encode()
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_failing_call_never_prints_the_key(cli, echoing_server):
    key = "sk-proj-" + "Zq9" * 16
    result = cli("list", "--model", "openai/gpt-4o-mini", "--base-url", echoing_server + "/v1", "--json",
                 env={"OPENAI_API_KEY": key})
    assert (result.code, result.out) == (1, ""), result
    assert result.err.strip() == "❌ Error: OpenAI could not list batches: HTTP 401: bad credentials Bearer ***"


def test_list_models_shows_builtin_and_configured(cli):
    (cli.cwd / "pyproject.toml").write_text('[tool.pytest-batch]\nmodels = ["anthropic/claude-mythos-5-2"]\n')
    result = cli("list-models", "--json", env={"PYTEST_BATCH_MODELS": "openai/gpt-5-mini, google/gemini-2.5-flash"})
    assert result.code == 0, result
    models = {provider: {row["model"]: row for row in rows} for provider, rows in result.json().items()}
    assert list(models["anthropic"])[-1] == "anthropic/claude-mythos-5-2"
    assert models["anthropic"]["anthropic/claude-mythos-5-2"]["source"] == "configured"
    assert models["anthropic"]["anthropic/claude-mythos-5-2"]["status"] is None  # the catalog does not know it
    # configured, and in the catalog: listed once, with the catalog's lifecycle
    assert list(models["openai"]).count("openai/gpt-5-mini") == 1
    assert models["openai"]["openai/gpt-5-mini"]["source"] == "catalog"
    assert models["google"]["google/gemini-2.5-flash"]["status"] == "retired"


def test_square_brackets_in_config_and_paths_are_printed_as_typed(cli):
    """rich read "[tool.pytest-batch]" (and any bracketed path or message) as markup and dropped it.
    (A model name with brackets is no provider's: it is refused, and the message shows it as typed.)"""
    (cli.cwd / "pyproject.toml").write_text('[tool.pytest-batch]\nmodels = ["openai/gpt-x:[y]"]\n')
    refused = cli("list-models")
    assert refused.code == 1 and "'openai/gpt-x:[y]': the model name 'gpt-x:[y]' contains '['" in refused.err, refused
    (cli.cwd / "pyproject.toml").write_text('[tool.pytest-batch]\nmodels = ["openai/gpt-x"]\n')
    listed = cli("list-models")
    assert listed.code == 0, listed
    assert "or [tool.pytest-batch] models = [...] in pyproject.toml." in listed.out, listed
    (cli.cwd / "prompt.jsonl").write_text('"Zed is 7."\n')
    created = cli("create", "--messages-file", "prompt.jsonl", "--model", "openai/gpt-x", "--simulate",
                  "--state-dir", "st[red]:smile:", "--lifecycle", "immediate")
    assert created.code == 0, created
    assert "(simulated (st[red]:smile:/emulator.pickle))" in created.out, created


def test_a_messages_file_with_a_byte_order_mark_is_read(cli):
    """Notepad and Excel ("CSV UTF-8") start a UTF-8 file with a byte-order mark: it was refused
    ("line 1: not valid JSON (Unexpected UTF-8 BOM)")."""
    (cli.cwd / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"prompt": "Zed is 7.", "custom_id": "z"}\r\n"Amy is 30."\r\n')
    result = cli("create", "--messages-file", "bom.jsonl", "--model", "openai/gpt-4o-mini", "--output-file", "-")
    assert result.code == 0, result
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["custom_id"] for line in lines] == ["z", "request-2"]
    assert lines[0]["body"]["messages"][-1]["content"] == "Zed is 7."
    (cli.cwd / "latin1.jsonl").write_bytes('"Zoë is 7."\n'.encode("latin-1"))
    latin1 = cli("create", "--messages-file", "latin1.jsonl", "--model", "openai/gpt-4o-mini", "--output-file", "-")
    assert (latin1.code, latin1.out) == (1, ""), latin1
    assert latin1.err == ("❌ Error: messages file latin1.jsonl is not UTF-8 text (byte 0xeb at offset 3); "
                          "save it as UTF-8\n"), latin1


def test_messages_file_forms(tmp_path):
    from pytest_batch.cli.inputs import read_messages
    from pytest_batch.cli.target import CLIError

    parsed = read_messages(EXAMPLES / "messages.jsonl")
    assert len(parsed.requests) == 10 and parsed.custom_ids[0] == "user-1"
    assert isinstance(parsed.requests[-1], list)
    mixed = tmp_path / "m.jsonl"
    mixed.write_text('"a"\n\n{"prompt": "b", "custom_id": "x"}\n{"messages": [{"role": "user", "content": "c"}]}\n')
    assert read_messages(mixed).custom_ids == ["request-1", "x", "request-3"]  # numbered from 1, like the processor
    mixed.write_text('{"prompt": "b", "custom_id": "x"}\n{"prompt": "c", "custom_id": "x"}\n')
    with pytest.raises(CLIError, match="line 2: custom_id 'x' already used on line 1"):
        read_messages(mixed)
    mixed.write_text('{"messages": "hi"}\n')
    with pytest.raises(CLIError, match="line 1: \"messages\" must be a non-empty list"):
        read_messages(mixed)


def test_response_model_specs(tmp_path, monkeypatch):
    from pytest_batch.cli.inputs import import_response_model
    from pytest_batch.cli.target import CLIError
    from pytest_batch.seed import User

    assert import_response_model(None) is User
    assert import_response_model("pytest_batch.seed.User") is User
    assert import_response_model("examples.User") is User  # the seed README's spelling
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodels.py").write_text("from pydantic import BaseModel\nclass Pet(BaseModel):\n    name: str\n")
    assert import_response_model("mymodels:Pet").__name__ == "Pet"
    with pytest.raises(CLIError, match="cannot import it \\(module 'mymodels' has no attribute 'Nope'\\)"):
        import_response_model("mymodels:Nope")
    with pytest.raises(CLIError, match=r"'json:JSONDecoder' is not a pydantic BaseModel subclass \(class JSONDec"):
        import_response_model("json:JSONDecoder")
    with pytest.raises(CLIError, match="'json:dumps' is a function, not a class"):
        import_response_model("json:dumps")
    with pytest.raises(CLIError, match="cannot import module 'no_such_module' \\(No module named"):
        import_response_model("no_such_module:X")


def test_response_model_failures_say_which_step_failed(cli):
    """Used to be "RuntimeError: boom at import" and, for BaseModel itself, an AttributeError later on.
    Each is bad usage (exit 2, as a bad --model is): they exited 1, the code of a failed command."""
    (cli.cwd / "broken.py").write_text('raise RuntimeError("boom\\nat import")\n')
    build = ("create", "--messages-file", str(EXAMPLES / "messages.jsonl"), "--model", "openai/gpt-4o-mini",
             "--output-file", "req.jsonl", "--response-model")
    broken = cli(*build, "broken:X")
    assert (broken.code, broken.out) == (2, ""), broken
    assert broken.err == ("❌ Error: --response-model 'broken:X': importing module 'broken' failed: "
                          "RuntimeError: boom at import\n"), broken
    for spec in ("no_such_module:User", "broken", "json:dumps"):
        result = cli(*build, spec)
        assert (result.code, result.out) == (2, ""), result
        assert result.err.startswith(f"❌ Error: --response-model '{spec}'") and result.err.count("\n") == 1, result
    results = cli("results", "--model", "openai/gpt-4o-mini", "--simulate", "--batch-id", "b", "--output-file", "o",
                  "--response-model", "no_such_module:User")
    assert results.code == 2 and "cannot import module 'no_such_module'" in results.err, results
    base = cli(*build, "pydantic:BaseModel")
    assert (base.code, base.out) == (2, ""), base
    assert base.err.startswith("❌ Error: --response-model 'pydantic:BaseModel' is pydantic's BaseModel itself; "
                               "give your subclass of it"), base
    assert not (cli.cwd / "req.jsonl").exists()


@pytest.mark.parametrize("given, provider, expected", [
    ("http://127.0.0.1:9/", "openai", "http://127.0.0.1:9/openai/v1"),
    ("http://127.0.0.1:9/openai/v1", "anthropic", "http://127.0.0.1:9/anthropic"),
    ("http://127.0.0.1:9/google", "google", "http://127.0.0.1:9/google"),
    ("https://proxy.example/v1", "openai", "https://proxy.example/v1"),
    ("https://api.anthropic.com", "anthropic", "https://api.anthropic.com"),
])
def test_base_url_forms(given, provider, expected):
    from pytest_batch.cli.target import provider_base_url

    assert provider_base_url(provider, given) == expected


def test_error_lines_never_show_the_key(monkeypatch):
    from pytest_batch.cli.output import error_line
    from pytest_batch.errors import ProviderError

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret-123")
    line, code = error_line(ProviderError("401 invalid x-api-key sk-ant-very-secret-123", status=401), "anthropic")
    assert code == 1 and "very-secret" not in line and "***" in line


def test_conflicting_or_malformed_targets_are_bad_usage(cli):
    both = cli("list", "--model", "openai/gpt-4o-mini", "--simulate", "--base-url", "http://127.0.0.1:1")
    assert both.code == 2 and both.err.startswith("❌ Error: --simulate and --base-url exclude each other"), both
    not_url = cli("list", "--model", "openai/gpt-4o-mini", "--base-url", "notaurl")
    assert not_url.code == 2 and "is not a URL" in not_url.err, not_url
    version = cli("--version")
    assert version.code == 0 and version.out.startswith("pytest-batch "), version


def test_a_custom_id_the_provider_refuses_is_reported_with_its_line(cli):
    (cli.cwd / "ids.jsonl").write_text('{"prompt": "hi", "custom_id": "ok-1"}\n\n'
                                       '{"prompt": "yo", "custom_id": "has space!"}\n')
    result = cli("create", "--messages-file", "ids.jsonl", "--model", "anthropic/claude-haiku-4-5", "--simulate")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1, result
    assert "ids.jsonl line 3: invalid custom_id 'has space!' for anthropic" in result.err
    assert not (cli.cwd / ".pytest-batch").exists()  # refused before anything was created


def test_a_request_file_that_is_missing_or_not_a_file_is_named(cli, tmp_path):
    missing = cli("create-from-file", "--file-path", str(tmp_path / "nope.jsonl"), "--model", "openai/gpt-6-luna",
                  "--simulate")
    assert (missing.code, missing.err.strip()) == (1, f"❌ Error: request file not found: {tmp_path / 'nope.jsonl'}")
    folder = cli("create-from-file", "--file-path", str(tmp_path), "--model", "openai/gpt-6-luna", "--simulate")
    assert folder.code == 1
    assert folder.err.strip() == (f"❌ Error: request file {tmp_path} is not a regular file: pass the path of a JSONL "
                                  "file of request lines (one per line)")
