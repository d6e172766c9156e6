"""A small closed-loop HTTP load generator: a fixed number of POSTs from a few threads."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

TIMEOUT = 30.0


@dataclass
class LoadResult:
    requests: int
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0




def parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    """An HTTP/1.x response head: its version, status and headers (names and values lower-cased)."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status = status_line.split(" ", 2)[:2]
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    return version, int(status), headers

def post_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# Just enough HTTP/1.1 over a raw socket to stay cheap next to the servers it
# measures on the same two cores: the request bytes are built once, a response
# is read by its Content-Length, and the connection is reused unless the
# server closes it (gunicorn's sync workers always do).
class _Connection:
    def __init__(self, address: tuple[str, int]):
        self.address = address
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.headers: dict[str, str] = {}  # of the last response, names in lower case

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def round_trip(self, payload: bytes) -> int:
        reused = self.sock is not None
        try:
            return self._round_trip(payload)
        except (ConnectionError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            return self._round_trip(payload)  # the server dropped an idle keep-alive connection

    def _round_trip(self, payload: bytes) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=TIMEOUT)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(payload)
        version, status, headers = parse_head(self._read_until(b"\r\n\r\n"))
        self._read_exactly(int(headers.get("content-length", "0")))
        self.headers = headers
        if headers.get("connection") == "close" or version == "HTTP/1.0":
            self.close()
        return status

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-response")
        self.buffer += chunk

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end], self.buffer[end + len(marker):]
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def run_load(host: str, port: int, payload: bytes, total: int, clients: int,
             max_seconds: float | None = None) -> LoadResult:
    """Send `payload` `total` times (stopping early after `max_seconds`) from `clients` closed-loop threads."""
    tickets = itertools.count()
    stop_at = time.perf_counter() + max_seconds if max_seconds else float("inf")
    lock = threading.Lock()
    statuses: Counter = Counter()
    latencies: list[float] = []
    errors: list[BaseException] = []

    def client() -> None:
        connection = _Connection((host, port))
        mine: Counter = Counter()
        times: list[float] = []
        try:
            while next(tickets) < total and time.perf_counter() < stop_at:
                started = time.perf_counter()
                mine[connection.round_trip(payload)] += 1
                times.append(time.perf_counter() - started)
        except BaseException as error:  # reported after the run, not swallowed
            errors.append(error)
        finally:
            connection.close()
            with lock:
                statuses.update(mine)
                latencies.extend(times)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} load client(s) failed; first: {errors[0]!r}")
    return LoadResult(requests=sum(statuses.values()), seconds=elapsed, statuses=statuses,
                      latencies=latencies)
