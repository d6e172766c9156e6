"""A local webhook receiver: a plain HTTP server on a free port that records every POST it gets.

It checks nothing itself; tests verify what it recorded with the independent
`standardwebhooks` package. `answer` sets the status it replies with (503
while "down"); `delay` holds each answer back.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: str
    answered: int

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, answer: int = 204, delay: float = 0.0, location: str | None = None):
        self.answer = answer
        self.reply: bytes | None = None  # the body of each answer; None: a short default
        self.delay = delay
        self.location = location  # a 3xx answer's Location
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.answer
                with receiver._lock:
                    receiver.received.append(Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                reply = receiver.reply if receiver.reply is not None else (
                    b'{"ok": true}' if status < 300 else b"receiver unavailable")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):  # quiet: the test reads `received`
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
