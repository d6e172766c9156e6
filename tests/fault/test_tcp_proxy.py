"""The fault tests' TCP proxy itself, against a local echo server: it must cut what it claims to cut."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def echo_server():
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def echoes(sock: socket.socket, payload: bytes = b"ping") -> bool:
    try:
        sock.sendall(payload)
        return sock.recv(4096) == payload
    except OSError:
        return False


def new_connection_echoes(proxy: TcpProxy) -> bool:
    """A refused connection may fail in connect() or at its first read, depending on timing."""
    try:
        return echoes(connect(proxy))
    except OSError:
        return False


def test_forwards_then_cuts_live_connections_and_refuses_new_ones_until_up(echo_server):
    with TcpProxy("127.0.0.1", echo_server) as proxy:
        live = connect(proxy)
        assert echoes(live)

        proxy.down()
        assert proxy.live_connections == 0
        assert not echoes(live), "a live connection survived down()"
        assert not new_connection_echoes(proxy), "a new connection was forwarded while down"
        assert proxy.refused == 1

        proxy.up()
        assert new_connection_echoes(proxy)


def test_silent_down_leaves_new_connections_unanswered(echo_server):
    with TcpProxy("127.0.0.1", echo_server) as proxy:
        proxy.down(silent=True)
        held = connect(proxy)
        held.settimeout(0.5)
        held.sendall(b"ping")
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            held.recv(4096)
        assert time.monotonic() - started >= 0.4

        proxy.up()  # what was held is reset; new connections are forwarded again
        held.settimeout(2)
        with pytest.raises(ConnectionResetError):
            held.recv(4096)
        assert new_connection_echoes(proxy)
