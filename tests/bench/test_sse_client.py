"""The benches' SSE client reads events as the specification says, over chunked HTTP/1.1."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.sse_client import EventParser, StreamClosed, stream

BODY = (b"retry: 2000\n: subscribed\n\n"
        b"id: 1\nevent: notification\ndata: {\"seq\":1}\n\n"
        b": keepalive\n\n"
        b"event: count\r\ndata: {\"unread\":0,\r\ndata: \"unseen\":0}\r\n\r\n")


def test_events_are_split_however_the_bytes_arrive():
    whole = EventParser().feed(BODY)
    parser = EventParser()
    byte_by_byte = [event for index in range(len(BODY))
                    for event in parser.feed(BODY[index:index + 1])]

    assert [(e.name, e.id, e.text) for e in whole] == [
        ("notification", "1", '{"seq":1}'), ("count", None, '{"unread":0,\n"unseen":0}')]
    assert [(e.name, e.id, e.text) for e in byte_by_byte] == [(e.name, e.id, e.text) for e in whole]


class _Stream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    status = 200

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(BODY), 7):  # chunks that cut lines and events in two
            piece = BODY[start:start + 7]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stream)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_chunked_stream_gives_its_events_then_closes(server):
    events, opened = [], []

    async def read():
        with pytest.raises(StreamClosed):
            await stream("127.0.0.1", server.server_port, "/v1/inbox/stream?token=t",
                         events.append, on_open=lambda: opened.append(True))

    asyncio.run(read())

    assert opened == [True]
    assert [(e.name, e.id) for e in events] == [("notification", "1"), ("count", None)]


def test_a_refused_stream_says_its_status(server, monkeypatch):
    monkeypatch.setattr(_Stream, "status", 401)

    async def read():
        await stream("127.0.0.1", server.server_port, "/v1/inbox/stream", lambda event: None)

    with pytest.raises(StreamClosed) as refused:
        asyncio.run(read())
    assert refused.value.status == 401
