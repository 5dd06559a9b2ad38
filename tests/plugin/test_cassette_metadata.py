"""What a cassette's metadata says it was recorded against, after re-recording and resuming."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from pytest_batch import cassettes
from pytest_batch.cassettes import session as cassette_session
from pytest_batch.plugin import options as cfg
from pytest_batch.cassettes.session import EMULATOR_HEADER
from pytest_batch.seed import seed_expectations
from pytest_batch.sim import Emulator
from pytest_batch.sim.server import ServerHandle, start_server

from .conftest import USERS_TEST

pytestmark = pytest.mark.usefixtures("clean_env")

#: a stand-in for the live API: forwards to the emulator server (argv[1]) and drops the emulator's
#: marker header. It runs in its own process: in the test's process vcrpy would record its
#: upstream requests too (vcrpy patches http.client).
PROXY = """
import http.client, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

UPSTREAM = urlsplit(sys.argv[1])
DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", sys.argv[2]}


class Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        content = answer.read()
        upstream.close()
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in DROP:
                self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_DELETE = forward


proxy = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
print(proxy.server_address[1], flush=True)
proxy.serve_forever()
"""


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with start_server(Emulator(expectations=seed_expectations())) as handle:
        yield handle


@contextmanager
def header_stripping_proxy(upstream: str) -> Iterator[str]:
    """Run ``PROXY`` in front of ``upstream``; yields its URL."""
    process = subprocess.Popen([sys.executable, "-c", PROXY, upstream, EMULATOR_HEADER], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.kill()
        process.wait(timeout=10)


def _cassette(pytester: pytest.Pytester) -> Path:
    return pytester.path / "cassettes" / "openai" / "test_extract" / "test_users.yaml"


def _label(path: Path) -> str:
    return yaml.safe_load(path.read_text())["metadata"]["recorded_against"]


def test_rerecording_live_over_an_emulator_cassette_labels_it_live(
        pytester: pytest.Pytester, server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_extract=USERS_TEST)
    with monkeypatch.context() as env:
        for name, url in server.env.items():
            env.setenv(name, url)
        pytester.runpytest("--batch-mode=record", "--batch-provider=openai").assert_outcomes(passed=1)
    cassette = _cassette(pytester)
    assert _label(cassette) == "emulator"
    assert EMULATOR_HEADER in cassette.read_text()

    # Now the "live API": the same server behind a proxy that hides the emulator's marker, and
    # loopback detection off (a real provider is never on loopback), so no signal says emulator.
    with header_stripping_proxy(server.url) as proxy:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{proxy}/openai/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-" + "not-a-real-key-0123456789abcdef")
        monkeypatch.setattr(cfg, "recorded_against", lambda provider, environ=None: "live")
        monkeypatch.setattr(cassette_session, "is_loopback", lambda url: False)
        pytester.runpytest("--batch-mode=record", "--batch-provider=openai").assert_outcomes(passed=1)

    assert _label(cassette) == "live", "a fresh live recording must not inherit the old cassette's label"
    assert EMULATOR_HEADER not in cassette.read_text()
    assert len(server.emulator.openai.batches) == 2, "the second run really recorded (it did not replay)"


@pytest.mark.parametrize(("resuming", "label"), [(True, "emulator"), (False, "live")])
def test_only_a_resumed_recording_inherits_the_emulator_label(tmp_path: Path, resuming: bool, label: str) -> None:
    """Resuming replays the pending cassette's submission (sent to the emulator), so its label
    carries over; a fresh recording over an old cassette owes it nothing."""
    session = cassettes.CassetteSession(tmp_path / "c.yaml", "record", "openai", "openai/gpt-4o-mini", "live",
                                        None, "test_x.py::test_x", resuming=resuming)
    assert session.metadata({"recorded_against": "emulator"})["recorded_against"] == label
