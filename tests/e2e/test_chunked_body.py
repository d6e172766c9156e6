"""Chunked request bodies under gunicorn, as production runs the API: over the limit is a 413.

Werkzeug cuts a streamed body at MAX_CONTENT_LENGTH without a word; the API
must notice and refuse it in the JSON error shape, not parse what is left.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys

import pytest

from common.config import settings
from tests.support.factories import sms_body
from tests.support.processes import HeraldProcess
from tests.support.waiting import wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def gunicorn_port(app, log_dir):
    port = free_port()
    api = HeraldProcess("api-chunked", [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                                        "--workers", "1", "api:create_app()"], log_dir, None)
    try:
        wait_until(lambda: _answers(port), timeout=30, message=f"gunicorn did not start:\n{api.log()[-3000:]}")
        yield port
    finally:
        api.stop()


def post_chunked(port: int, body: bytes, auth: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pieces = (body[i:i + 16_384] for i in range(0, len(body), 16_384))
    connection.request("POST", "/v1/notifications", body=pieces, encode_chunked=True,
                       headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_a_chunked_body_over_the_limit_is_413_in_the_json_error_shape(gunicorn_port, auth):
    body = sms_body(content={"body": "x" * settings().max_request_bytes})

    status, answer = post_chunked(gunicorn_port, json.dumps(body).encode(), auth)

    assert status == 413, answer
    assert answer["error"]["code"] == "request_too_large"
    assert set(answer["error"]["fields"]) == {"body"}


def test_a_chunked_body_within_the_limit_is_accepted(gunicorn_port, auth):
    status, answer = post_chunked(gunicorn_port, json.dumps(sms_body()).encode(), auth)

    assert status == 202, answer
    assert answer["status"] == "scheduled"
