"""The network block at the socket: every way out of a socket (TCP connect and connect_ex, UDP
sendto and sendmsg, sockets of the C-level ``_socket.socket`` type) is refused for a host that is
not allowed, naming it; an allowed host is reached. The "real host" is a listener on 127.0.0.2."""

from __future__ import annotations

import _socket
import socket

import pytest

from pytest_batch.sim.patch import LOOPBACK, NetworkBlocked, block_network

WAYS_OUT = {
    "create_connection": lambda host: socket.create_connection((host.host, host.tcp_port), timeout=5),
    "connect": lambda host: socket.socket().connect((host.host, host.tcp_port)),
    "connect_ex": lambda host: socket.socket().connect_ex((host.host, host.tcp_port)),
    "_socket connect": lambda host: _socket.socket().connect((host.host, host.tcp_port)),
    "_socket connect_ex": lambda host: _socket.socket().connect_ex((host.host, host.tcp_port)),
    "udp sendto": lambda host: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (host.host,
                                                                                               host.udp_port)),
    "udp sendto with flags": lambda host: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
        b"x", 0, (host.host, host.udp_port)),
    "udp sendmsg": lambda host: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendmsg(
        [b"x"], [], 0, (host.host, host.udp_port)),
    "_socket udp sendto": lambda host: _socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
        b"x", (host.host, host.udp_port)),
}


@pytest.mark.reaches_stand_in_host
@pytest.mark.parametrize("way", WAYS_OUT.values(), ids=WAYS_OUT.keys())
def test_every_way_out_of_a_socket_is_blocked_naming_the_host(stand_in_host, way):
    with block_network(why="this test says so", hint="Do something else."):
        with pytest.raises(NetworkBlocked) as blocked:
            way(stand_in_host)
    assert str(blocked.value) == ("pytest-batch blocked a real connection to '127.0.0.2' (this test says so). "
                                  "Do something else.")


@pytest.mark.reaches_stand_in_host
@pytest.mark.parametrize("way", WAYS_OUT.values(), ids=WAYS_OUT.keys())
def test_an_allowed_host_is_reached_every_way(stand_in_host, way):
    with block_network((*LOOPBACK, stand_in_host.host)):
        result = way(stand_in_host)
    assert result in (None, 0, 1) or isinstance(result, socket.socket)


def test_the_block_ends_with_its_block():
    before = (socket.getaddrinfo, _socket.socket, socket.socket.connect, socket.socket.connect_ex,
              socket.socket.sendto, socket.socket.sendmsg)
    with block_network():
        assert _socket.socket is not before[1]
    assert (socket.getaddrinfo, _socket.socket, socket.socket.connect, socket.socket.connect_ex,
            socket.socket.sendto, socket.socket.sendmsg) == before
