"""Both load generators POST the body with the bench key, and count what the server answered."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.http_load import post_load

BODY = b'{"channel": "push", "to": "bench-device-token"}'


class _Recorder(BaseHTTPRequestHandler):
    """Answers every POST with the status the test chose, and records what arrived."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        with server.lock:
            server.received.append((self.path, self.headers.get("Authorization"), body))
            status = server.statuses[len(server.received) % len(server.statuses)]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.daemon_threads = True
    httpd.lock, httpd.received, httpd.statuses = threading.Lock(), [], [202]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


GENERATORS = [pytest.param("asyncio"),
              pytest.param("wrk", marks=pytest.mark.skipif(shutil.which("wrk") is None,
                                                           reason="wrk is not installed"))]


@pytest.mark.parametrize("generator", GENERATORS)
def test_the_generator_posts_the_body_with_the_key_and_counts_answers(server, generator, monkeypatch):
    monkeypatch.setenv("BENCH_LOAD_GENERATOR", generator)

    result = post_load(server.server_address[1], "/v1/notifications", BODY, "hrd_live_bench",
                       connections=2, seconds=1)

    assert result.requests > 0 and result.non_2xx == 0 and result.socket_errors == 0
    # The server may have answered a last request the client stopped waiting for.
    assert result.requests <= len(server.received) <= result.requests + 2
    assert set(server.received) == {("/v1/notifications", "Bearer hrd_live_bench", BODY)}


@pytest.mark.parametrize("generator", GENERATORS)
def test_answers_other_than_2xx_are_counted(server, generator, monkeypatch):
    monkeypatch.setenv("BENCH_LOAD_GENERATOR", generator)
    server.statuses = [202, 429]  # every other request refused

    result = post_load(server.server_address[1], "/v1/notifications", BODY, None, connections=1, seconds=1)

    assert result.requests >= 2
    assert abs(result.non_2xx - result.requests / 2) <= 1
    assert {authorization for _path, authorization, _body in server.received} == {None}
