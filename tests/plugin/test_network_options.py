"""The plugin's network block from a user's side: raw sockets in a batch test are blocked in
every offline mode, naming the host; --batch-allow-hosts (and its ini setting) lets a host
through; --batch-block-network extends the block to every test. The "real host" is a listener
on 127.0.0.2."""

from __future__ import annotations

import pytest

RAW_WAYS_OUT = """
import _socket
import socket

import pytest

PORTS = ({tcp}, {udp})
WAYS = {{
    "connect_ex": lambda: socket.socket().connect_ex(("127.0.0.2", PORTS[0])),
    "_socket connect": lambda: _socket.socket().connect(("127.0.0.2", PORTS[0])),
    "udp sendto": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.2", PORTS[1])),
}}


@pytest.mark.batch(providers="openai")
@pytest.mark.parametrize("way", WAYS.values(), ids=WAYS.keys())
def test_reaches_out(way):
    way()
"""

PLAIN_TEST = """
import socket


def test_not_a_batch_test():
    socket.create_connection(("127.0.0.2", {tcp}), timeout=5).close()
"""


@pytest.mark.parametrize("mode", ["simulate", "replay", "auto"])
def test_raw_sockets_in_a_batch_test_are_blocked_in_every_offline_mode(pytester, stand_in_host, mode):
    pytester.makepyfile(RAW_WAYS_OUT.format(tcp=stand_in_host.tcp_port, udp=stand_in_host.udp_port))
    result = pytester.runpytest(f"--batch-mode={mode}")
    result.assert_outcomes(failed=3)
    assert result.stdout.str().count("pytest-batch blocked a real connection to '127.0.0.2'") >= 3


@pytest.mark.reaches_stand_in_host
@pytest.mark.parametrize("how", [("--batch-allow-hosts=127.0.0.2",), ("-o", "batch_allow_hosts=localhost, 127.0.0.2")],
                         ids=["option", "ini"])
def test_an_allowed_host_is_reached(pytester, stand_in_host, how):
    pytester.makepyfile(RAW_WAYS_OUT.format(tcp=stand_in_host.tcp_port, udp=stand_in_host.udp_port))
    pytester.runpytest("--batch-mode=simulate", *how).assert_outcomes(passed=3)


@pytest.mark.reaches_stand_in_host
def test_block_network_extends_the_block_to_every_test(pytester, stand_in_host):
    pytester.makepyfile(PLAIN_TEST.format(tcp=stand_in_host.tcp_port))
    pytester.runpytest().assert_outcomes(passed=1)  # not a batch test: untouched by default
    blocked = pytester.runpytest("--batch-block-network")
    blocked.assert_outcomes(failed=1)
    blocked.stdout.fnmatch_lines(["*pytest-batch blocked a real connection to '127.0.0.2' (--batch-block-network "
                                  "blocks real connections in every test). Allow a host with "
                                  "--batch-allow-hosts=HOST*"])
    pytester.runpytest("--batch-block-network", "--batch-allow-hosts=127.0.0.2").assert_outcomes(passed=1)
    pytester.runpytest("-o", "batch_block_network=true").assert_outcomes(failed=1)
