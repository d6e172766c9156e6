"""A small threaded TCP proxy that fault tests switch off and on to cut a path.

The shared PostgreSQL and RabbitMQ must never be stopped, so a test points one
side (say, the API's BROKER_URL) at this proxy instead and takes the proxy
down. Down means: every live connection is closed at once, as when the server
dies, and new ones are refused. "Refused" is done by accepting and resetting
at once (clients see ECONNRESET in their handshake) rather than by closing the
listening socket, so no other process can take the port while the proxy is
down. `down(silent=True)` is the nastier partition: new connections are
accepted and then never answered, so only the client's own timeouts save it.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN: the peer learns at once, with an error."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Link:
    """One client connection spliced to one upstream connection by one thread."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.client = client
        self.upstream = upstream
        self.thread = threading.Thread(target=self._pump, daemon=True, name="tcp-proxy-link")

    def _pump(self) -> None:
        peers = {self.client: self.upstream, self.upstream: self.client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [])
                for sock in readable:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # cut by `cut()`, or the peer reset
            pass
        finally:
            self.client.close()
            self.upstream.close()

    def cut(self) -> None:
        # shutdown() wakes the pump's select() from this thread; the pump
        # closes the sockets itself, so no descriptor is closed under it.
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class TcpProxy:
    """Forwards 127.0.0.1:<random port> to `target`; `down()` and `up()` switch it."""

    def __init__(self, target_host: str, target_port: int, connect_timeout: float = 5.0):
        self.target = (target_host, target_port)
        self.connect_timeout = connect_timeout
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._is_up = True
        self._closed = False
        self._links: set[_Link] = set()
        self._held: list[socket.socket] = []  # accepted while down and silent
        self._silent = False
        # What a test may report: connections forwarded and turned away.
        self.forwarded = 0
        self.refused = 0
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True, name="tcp-proxy")
        self._acceptor.start()

    @property
    def is_up(self) -> bool:
        return self._is_up

    @property
    def live_connections(self) -> int:
        with self._lock:
            return sum(1 for link in self._links if link.thread.is_alive())

    def down(self, silent: bool = False) -> None:
        """Cut every live connection now; refuse (or, if silent, ignore) new ones."""
        with self._lock:
            self._is_up = False
            self._silent = silent
            links, self._links = self._links, set()
        for link in links:
            link.cut()
        for link in links:
            link.thread.join(timeout=5)

    def up(self) -> None:
        """Forward new connections again; the ones held while silent are reset."""
        with self._lock:
            self._is_up = True
        self._release_held()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.down()
        self._acceptor.join(timeout=5)
        self._listener.close()
        self._release_held()

    def _release_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            _reset(sock)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.2)
                if self._closed:
                    return
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except OSError:  # the listener was closed
                return
            self._admit(client)

    def _admit(self, client: socket.socket) -> None:
        if not self._is_up:
            self._turn_away(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
        except OSError as error:
            log.warning("tcp proxy: upstream %s:%s unreachable: %s", *self.target, error)
            _reset(client)
            return
        upstream.settimeout(None)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(client, upstream)
        with self._lock:
            # down() may have run while we were connecting upstream.
            admitted = self._is_up
            if admitted:
                self._links.add(link)
                self.forwarded += 1
                link.thread.start()  # under the lock, so down() never joins an unstarted thread
        if not admitted:
            upstream.close()
            self._turn_away(client)

    def _turn_away(self, client: socket.socket) -> None:
        with self._lock:
            self.refused += 1
            if self._silent and not self._is_up:
                self._held.append(client)
                return
        _reset(client)
