"""The emulator as a real HTTP server on loopback: access path 3 (``pytest-batch serve``).

One port serves every provider under path prefixes (``/openai/v1``, ``/anthropic``,
``/google``, and ``/azure`` as an Azure OpenAI resource endpoint) because OpenAI and Gemini both
own ``/v1/batches/{id}`` and ``/v1/files/{id}``.
A control API under ``/_control`` lets another process reset the emulator, load
expectations, inject faults, change lifecycles, advance and read the journal.

Each connection has its own thread, and calls run side by side: the emulator holds its state
lock only while it reads or changes its dicts, so a poll is answered while another client
uploads 100 MB or has its batch's results rendered.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..endpoints import AZURE_API_VERSION
from ..secrets import redact
from .clock import Clock, checked_advance
from .core import DroppedConnection, Emulator
from .gc_pause import freeze_what_paused_calls_leave
from .http import SimRequest, SimResponse, json_response, parse_json
from .lifecycle import LifecycleError
from .responders import Expectation, ExpectationError, load_expectations

CONTROL_PREFIX = "/_control"


@dataclass
class ServerHandle:
    server: ThreadingHTTPServer
    thread: threading.Thread | None
    emulator: Emulator

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_urls(self) -> dict[str, str]:
        return {"openai": f"{self.url}/openai/v1", "anthropic": f"{self.url}/anthropic",
                "google": f"{self.url}/google", "azure": f"{self.url}/azure"}

    @property
    def env(self) -> dict[str, str]:
        urls = self.base_urls
        return {"OPENAI_BASE_URL": urls["openai"], "ANTHROPIC_BASE_URL": urls["anthropic"],
                "GOOGLE_GEMINI_BASE_URL": urls["google"],
                # openai.AzureOpenAI needs an endpoint and an api-version (its v1 API: <endpoint>/openai/v1)
                "AZURE_OPENAI_ENDPOINT": urls["azure"], "OPENAI_API_VERSION": AZURE_API_VERSION}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BadFraming(Exception):
    """The request's own framing is broken (Content-Length, chunk sizes): answer 400 and close."""


#: the largest body the server reads (the providers' own limits are 200-256 MB per file)
MAX_BODY = 512 * 1024 * 1024
#: bodies up to this size leave in the same write as the headers
_ONE_WRITE = 64 * 1024


def _small(response: SimResponse) -> bool:
    """A body that leaves in one write with the headers (``_ONE_WRITE``), which the socket takes at once."""
    return isinstance(response.body, bytes | bytearray) and len(response.body) <= _ONE_WRITE


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: a streamed body leaves in several writes; with Nagle's algorithm a small write waits for the
    #: client's delayed ACK (~40 ms a call on loopback). Off, as every HTTP server does.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:  # request lines may carry ?key=...: never log a key
            sys.stderr.write(redact(f"{self.address_string()} - [{self.log_date_time_string()}] {format % args}\n"))

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except BadFraming as exc:
            self.close_connection = True
            self._write(json_response(400, {"error": {"message": f"Bad request framing: {exc}",
                                                      "type": "invalid_request_error", "code": "bad_framing"}}))
            return
        host = self.headers.get("host") or "%s:%s" % self.server.server_address[:2]
        request = SimRequest.build(self.command, f"http://{host}{self.path}", dict(self.headers.items()), body)
        emulator = self.server.emulator
        lane = emulator.bulk_lane
        with lane.light_call():  # the bulk job in turn steps aside while this request computes (bulk_lane.py)
            try:
                if request.path.startswith(CONTROL_PREFIX):
                    response = control(emulator, request, self.server.startup_expectations)
                else:
                    response = emulator.handle(request)
            except DroppedConnection:
                self.close_connection = True
                self.connection.close()
                return
            if _small(response):
                self._write(response)  # one write, which the socket takes at once
                return
        self._write(response)  # a download: as fast as the client reads it, computing nothing meanwhile

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a request line it cannot split, e.g. one with a raw 0x85 or
        0xA0 byte that latin-1 reads as whitespace; a header block too long; an HTTP version it
        lacks) as JSON, like the framing errors, not its HTML page. A method no route takes (its 501)
        is a 405: the emulator is not broken, the request is."""
        self.close_connection = True
        if code == 501:
            code, message = 405, f"the emulator serves no {self.command} requests"
        self._write(json_response(code, {"error": {
            "message": redact(f"The pytest-batch emulator cannot read this request: {message or explain or code}"),
            "type": "invalid_request_error", "code": "bad_request_syntax"}}))

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        # RFC 9112 §6.3: several Content-Length values ("2" and "5", or "2, 5") that differ are an
        # unrecoverable error; equal ones may be taken as one
        values = {value.strip() for header in self.headers.get_all("content-length") or ()
                  for value in header.split(",")}
        if len(values) > 1:
            raise BadFraming(f"the request has different Content-Length values ({', '.join(sorted(values))[:80]})")
        declared = (values.pop() if values else "") or "0"
        if not declared.isdigit():  # "abc", "-1", "1e3": a reader would wait forever or read garbage
            raise BadFraming(f"Content-Length must be a non-negative integer, got {declared[:40]!r}")
        length = int(declared)
        if length > MAX_BODY:
            raise BadFraming(f"Content-Length {length} is over the emulator's {MAX_BODY} byte limit")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise BadFraming(f"the connection closed after {len(body)} of {length} body bytes")
        return body

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";")[0].strip()
            try:
                size = int(size_text or b"0", 16)
            except ValueError:
                raise BadFraming(f"bad chunk size {size_text[:40]!r}") from None
            if size < 0 or total + size > MAX_BODY:
                raise BadFraming(f"chunk size {size_text[:40]!r} is out of range")
            if size == 0:
                self.rfile.readline(1024)
                return b"".join(chunks)
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise BadFraming("the connection closed inside a chunk")
            chunks.append(chunk)
            total += size
            self.rfile.readline(1024)

    def _write(self, response: SimResponse) -> None:
        self.send_response(response.status)
        streamed = not isinstance(response.body, bytes | bytearray)
        whole = _small(response) and self.command != "HEAD"
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                # no header may carry a line break: a file name must never become a header of its own
                self.send_header(name, str(value).replace("\r", " ").replace("\n", " "))
        if streamed:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(len(response.body)))  # type: ignore[arg-type]
        if self.close_connection:
            self.send_header("connection", "close")
        if whole:  # headers and a small body in one write (http.server buffers the headers until flushed)
            self._headers_buffer.append(b"\r\n" + response.body)  # type: ignore[attr-defined,operator]
            self.flush_headers()
            return
        self.end_headers()
        if self.command == "HEAD":
            return
        if not streamed:
            self.wfile.write(response.body)  # type: ignore[arg-type]
            return
        for chunk in response.iter_bytes():
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: the accept backlog: socketserver's 5 drops the connections of a crowd of clients that
    #: arrive together (50 at once in bench/bench_concurrency.py), and each dropped one waits a
    #: second for its SYN to be sent again
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], emulator: Emulator, verbose: bool = False) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.verbose = verbose
        #: what /_control/reset restores: the answers the server was started with
        self.startup_expectations = list(emulator.responder.expectations)


def start_server(emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False) -> ServerHandle:
    """Serve ``emulator`` (a new one on the wall clock if None) in a background thread."""
    emulator = emulator or Emulator(clock=Clock())
    # many clients poll a server: a read leaves a batch's slow work to the background where the
    # batch may honestly stand still meanwhile (backends/base.py), instead of making the read wait
    emulator.background_work = True
    server = _Server((host, port), emulator, verbose)
    # a short poll interval: stop() waits for it, and tests start and stop servers often
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="pytest-batch-emulator", daemon=True)
    thread.start()
    return ServerHandle(server, thread, emulator)


# ---------------------------------------------------------------------------- control API

def control(emulator: Emulator, request: SimRequest, startup_expectations: Iterable[Expectation] = ()
            ) -> SimResponse:
    """``POST /_control/reset`` (back to the answers the server started with), ``/expectations``
    (JSON list or JSONL), ``/faults`` (the Faults.load spec), ``/lifecycle`` ({"spec",
    "batch_id"?, "next_batch"?}), ``/advance`` ({"seconds"?, "batch_id"?}); ``GET /_control/journal``.
    A body that is not what the action takes is a 400 with a JSON error, never a dropped connection."""
    action = request.path[len(CONTROL_PREFIX):].strip("/")
    with emulator.lock:
        return _control(emulator, request, action, startup_expectations)


def _control(emulator: Emulator, request: SimRequest, action: str, startup_expectations: Iterable[Expectation]
             ) -> SimResponse:
    try:
        if request.method == "GET" and action == "journal":
            return json_response(200, {"journal": [entry.to_dict() for entry in emulator.journal]})
        if request.method != "POST":
            return json_response(405, {"error": f"use POST {CONTROL_PREFIX}/{action}"})
        if action == "reset":
            emulator.reset()
            emulator.load_expectations(startup_expectations)
        elif action == "expectations":
            text = request.body.decode()
            rows = parse_json(text) if text.lstrip().startswith("[") else [
                parse_json(line) for line in text.splitlines() if line.strip()]
            if not all(isinstance(row, dict) for row in rows):
                raise ValueError("expected a JSON list (or JSONL) of expectation objects")
            emulator.load_expectations(rows)
        elif action == "faults":
            emulator.faults.load(_fault_spec(_object_body(request)))
        elif action == "lifecycle":
            spec = _object_body(request)
            emulator.set_lifecycle(spec["spec"], batch_id=spec.get("batch_id"),
                                   next_batch=bool(spec.get("next_batch")))
        elif action == "advance":
            spec = _object_body(request)
            emulator.advance(checked_advance(spec.get("seconds") or 0), batch_id=spec.get("batch_id"))
        else:
            return json_response(404, {"error": f"unknown control action {action!r}; use reset, expectations, "
                                                "faults, lifecycle, advance or GET journal"})
    except KeyError as exc:
        return json_response(400, {"error": f"{action}: missing {exc}"})
    except (ValueError, TypeError, AttributeError, LifecycleError, UnicodeDecodeError) as exc:
        return json_response(400, {"error": f"{action}: {exc}"})
    return json_response(200, {"ok": True})


def _object_body(request: SimRequest) -> dict[str, Any]:
    body = request.json() if request.body.strip() else {}
    if not isinstance(body, dict):
        raise ValueError(f"expected a JSON object body, got {type(body).__name__}")
    return body


#: the shape of a fault spec (Faults.load): a key, and what its value must be
_FAULT_SPEC_TYPES = {"requests": (dict, "an object mapping custom_ids to an outcome or {\"outcome\": ...}"),
                     "fractions": (list, "a list of {\"share\", \"outcome\"} objects"),
                     "batches": (list, "a list of batch fault kinds or objects"),
                     "http": (list, "a list of {\"status\", ...} objects")}


def _fault_spec(spec: dict[str, Any]) -> dict[str, Any]:
    for key, value in spec.items():
        expected = _FAULT_SPEC_TYPES.get(key)
        if expected is None:
            raise ValueError(f"unknown key {key!r}; use requests, fractions, batches or http")
        kind, what = expected
        items = list(value.values()) if isinstance(value, dict) else value
        if not isinstance(value, kind) or not all(isinstance(item, str | dict) for item in items):
            raise ValueError(f"{key!r} must be {what}, got {json.dumps(value)[:80]}")
    return spec


# ---------------------------------------------------------------------------- command line

#: seconds a thread holds the GIL before a waiting one may take it, in a serving process (5 ms in CPython)
SWITCH_INTERVAL = 0.001


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="pytest-batch serve")
    parser.description = ("Serve the OpenAI, Anthropic, Gemini and Azure OpenAI batch APIs on this machine. "
                          "Answers are simulated: expectations from --responses, the seed's ten prompts, then "
                          "schema-valid synthetic objects.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    parser.add_argument("--responses", metavar="FILE", help="expectations file (JSONL, JSON or YAML)")
    parser.add_argument("--lifecycle", default="seconds:2",
                        help="immediate, polls:N, seconds:S or manual (default seconds:2)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and synthetic answers")
    parser.add_argument("--no-seed-answers", action="store_true",
                        help="do not answer the seed README's ten prompts with their expected users")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # this process only serves: what batches leave alive stays out of the collector's scans, which
    # would stop every thread (every other client's poll) for as long as they take (gc_pause.py)
    freeze_what_paused_calls_leave()
    # ... and a request that waits for the GIL behind the bulk job in turn (bulk_lane.py) has it
    # within 1 ms instead of 5: with turns (before pacing), the poll p99 under bench_concurrency's
    # load was 27-55 ms with it against 47-226 ms without (four alternating runs, BENCHMARKS.md).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        emulator = Emulator(seed=args.seed, lifecycle=args.lifecycle, clock=Clock())
        if args.responses:
            emulator.load_expectations(load_expectations(args.responses))
        if not args.no_seed_answers:
            from ..seed import seed_expectations

            emulator.load_expectations(seed_expectations())
        handle = start_server(emulator, host=args.host, port=args.port, verbose=args.verbose)
    except (ExpectationError, LifecycleError, OSError) as exc:
        print(f"❌ Error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    urls = handle.base_urls
    print(f"pytest-batch emulator listening on {handle.url}")
    print(f"  OpenAI     {urls['openai']}")
    print(f"  Anthropic  {urls['anthropic']}")
    print(f"  Gemini     {urls['google']}")
    print(f"  Azure      {urls['azure']}  (resource endpoint; v1 API: {urls['azure']}/openai/v1)")
    for name, value in handle.env.items():
        print(f"export {name}={value}")
    print(f"control API: {handle.url}{CONTROL_PREFIX}/{{reset,expectations,faults,lifecycle,advance,journal}}")
    print("Press Ctrl+C to stop.", flush=True)
    stop.wait()
    handle.stop()
    print("pytest-batch emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
