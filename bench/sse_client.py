"""A Server-Sent Events client on raw asyncio sockets: cheap enough to hold thousands of streams per process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.load import parse_head


@dataclass
class Event:
    name: str = "message"
    id: str | None = None
    data: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.data)


class StreamClosed(Exception):
    """The server ended the stream, or refused it (`status`)."""

    def __init__(self, status: int | None = None):
        super().__init__(f"stream closed (HTTP {status})" if status else "stream closed")
        self.status = status


class EventParser:
    """Bytes in, complete events out, as the SSE specification reads them (comments dropped)."""

    def __init__(self):
        self._pending = b""
        self._event = Event()

    def feed(self, chunk: bytes) -> list[Event]:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        done = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if self._event.data:
                    done.append(self._event)
                self._event = Event()
                continue
            if line.startswith(":"):
                continue  # a keepalive comment
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event.name = value
            elif name == "id":
                self._event.id = value
            elif name == "data":
                self._event.data.append(value)
        return done


async def _chunks(reader: asyncio.StreamReader, chunked: bool):
    """The body's bytes as they come, with HTTP/1.1 chunked framing removed."""
    while True:
        if not chunked:
            data = await reader.read(65536)
            if not data:
                return
            yield data
            continue
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def stream(host: str, port: int, path: str, on_event: Callable[[Event], None],
                 on_open: Callable[[], None] | None = None,
                 headers: dict[str, str] | None = None) -> None:
    """GET `path` and hand each event to `on_event` until the server closes the stream."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                     f"{extra}\r\n".encode())
        _version, status, response_headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
        if status != 200:
            raise StreamClosed(status)
        if on_open:
            on_open()
        parser = EventParser()
        chunked = response_headers.get("transfer-encoding", "").lower() == "chunked"
        try:
            async for chunk in _chunks(reader, chunked):
                for event in parser.feed(chunk):
                    on_event(event)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        raise StreamClosed()
    finally:
        writer.close()
