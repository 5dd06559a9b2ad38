"""The emulator mounted in a respx router: the user's own router and routes, pytest's
``respx_mock`` fixture, and SDKs on httpx2 as well as on httpx."""

from __future__ import annotations

import http.server
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest
import respx

import pytest_batch.sim.respx  # noqa: F401 - registers the httpcore2 mockers before routers start
from pytest_batch.processor import BatchProcessor
from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User, seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.clients import FAKE_KEYS, http_module_of


def _mocker(sdk: str) -> str:
    """The respx mocker that reaches the SDK installed here: httpx2 from openai 3.0 and anthropic
    1.0 on, httpx before (the matrix runs these tests on both)."""
    return "httpcore2" if http_module_of(f"{sdk}._base_client") == "httpx2" else "httpcore"


ANTHROPIC_MOCKER, OPENAI_MOCKER = _mocker("anthropic"), _mocker("openai")


@pytest.fixture
def sim() -> Emulator:
    return Emulator(seed=5, expectations=seed_expectations())


def _users(bp: BatchProcessor) -> list[User]:
    job = bp.wait(bp.submit(list(SEED_PROMPTS)))
    return [item.value for item in bp.results(job).in_input_order()]


def _google_on_httpx():
    """A google-genai client sending through a plain ``httpx.Client`` (google-genai 3 takes one
    in http_options; older releases use httpx anyway)."""
    from google import genai
    from google.genai import types

    options = {}
    if "httpx_client" in types.HttpOptions.model_fields:
        options = {"httpx_client": httpx.Client(), "httpx_async_client": httpx.AsyncClient()}
    return genai.Client(api_key=FAKE_KEYS["google"], http_options=options)


@pytest.mark.sdk_matrix
def test_the_emulator_in_a_users_router_serves_httpx2_and_httpx_sdks(sim):
    import openai

    with respx.mock(using="httpcore+httpcore2") as router:  # assert_all_called, as respx does by default
        health = router.get("https://status.example.com/health").respond(200, json={"ok": True})
        route = sim.mount_respx(router)
        openai_client = openai.OpenAI(api_key=FAKE_KEYS["openai"])  # made as the user's code makes it
        assert _users(BatchProcessor("openai/gpt-4o-mini", User, client=openai_client,
                                     sleep=lambda s: None)) == list(EXPECTED_USERS)
        assert _users(BatchProcessor("google/gemini-2.5-flash", User, client=_google_on_httpx(),
                                     sleep=lambda s: None)) == list(EXPECTED_USERS)
        assert httpx.get("https://status.example.com/health").json() == {"ok": True}  # the user's route still answers

    assert health.call_count == 1
    hosts = {call.request.url.host for call in route.calls}
    assert hosts == {"api.openai.com", "generativelanguage.googleapis.com"}
    assert route.call_count == len(sim.journal) and all(call.response.status_code == 200 for call in route.calls)


@pytest.mark.sdk_matrix
@pytest.mark.respx(using=ANTHROPIC_MOCKER)
def test_the_respx_mock_fixture_takes_the_emulator(respx_mock, sim):
    import anthropic

    route = sim.mount_respx(respx_mock, ["anthropic"])
    client = anthropic.Anthropic(api_key=FAKE_KEYS["anthropic"])
    assert _users(BatchProcessor("anthropic/claude-haiku-4-5", User, client=client,
                                 sleep=lambda s: None)) == list(EXPECTED_USERS)
    assert route.called and respx_mock.calls.last.request.url.path.endswith("/results")


def test_routes_of_the_user_come_first_and_an_uncalled_one_still_fails(sim):
    import openai

    client = openai.OpenAI(api_key=FAKE_KEYS["openai"], max_retries=0)
    with pytest.raises(AssertionError, match="some routes were not called"), \
            respx.mock(using=OPENAI_MOCKER) as router:
        router.get("https://never.example.com/")
        listing = router.get("https://api.openai.com/v1/batches").respond(200, json={
            "object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False})
        sim.mount_respx(router, ["openai"])
        assert list(client.batches.list()) == []
        client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")  # the emulator's route
    assert listing.call_count == 1
    assert [entry.path for entry in sim.journal] == ["/v1/files"]


def test_an_error_side_effect_reaches_an_httpx2_client_as_its_own(sim):
    httpx2 = pytest.importorskip("httpx2")
    with respx.mock(using="httpcore+httpcore2") as router:
        router.get("https://api.openai.com/v1/models").mock(side_effect=httpx.ConnectError)
        sim.mount_respx(router, ["openai"])
        with httpx2.Client() as client, pytest.raises(httpx2.ConnectError):
            client.get("https://api.openai.com/v1/models")
        sim.faults.drop_connection(times=1)  # the emulator's own fault: the SDK retries, as on a real drop
        import openai

        listed = openai.OpenAI(api_key=FAKE_KEYS["openai"]).batches.list()
        assert list(listed) == []
    assert [entry.fault for entry in sim.journal][0] is not None


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("content-length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


def test_a_pass_through_route_really_goes_out(sim):
    httpx2 = pytest.importorskip("httpx2")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with respx.mock(using="httpcore+httpcore2", assert_all_called=False) as router:
            sim.mount_respx(router)
            passed = router.get(url).pass_through()
            assert httpx2.get(url).text == "hello" and httpx.get(url).text == "hello"
    finally:
        server.shutdown()
        server.server_close()
    assert passed.called and not sim.journal


def test_a_router_entered_before_pytest_batch_was_imported_is_served():
    """respx looks a mocker up when the router starts: mounting registers and starts it late."""
    script = textwrap.dedent("""
        import respx, httpx2
        from pytest_batch.sim.patch import block_network
        with block_network(why="this test runs offline"), respx.mock(using="httpcore2") as router:
            from pytest_batch.sim import Emulator
            Emulator().mount_respx(router, ["anthropic"])
            response = httpx2.get("https://api.anthropic.com/v1/messages/batches",
                                  headers={"x-api-key": "sim-anthropic-key", "anthropic-version": "2023-06-01"})
            print(response.status_code, response.json()["data"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "200 []"), result.stderr


def test_unknown_providers_are_refused(sim):
    with respx.mock(using="httpcore2", assert_all_called=False) as router, \
            pytest.raises(ValueError, match="providers must be some of openai, anthropic, google, azure, got "
                                            "\\['mistral'\\]"):
        sim.mount_respx(router, ["mistral"])


def test_the_shipped_respx_example_passes(pytester, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    run = pytester.runpytest_inprocess(str(root / "examples" / "respx_router.py"), "--rootdir", str(root), "-c",
                                       str(root / "pyproject.toml"), "-q", "-p", "no:cacheprovider")
    run.assert_outcomes(passed=2)
