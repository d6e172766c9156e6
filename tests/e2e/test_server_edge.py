"""The API's edge under real gunicorn: its own refusals in the JSON error shape, its logs free of keys
and addresses, no shared control socket."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.processes import start_api
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """The gunicorn's own HOME and XDG_RUNTIME_DIR, where a default control socket would go."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def api(app, log_dir, home):
    process, base = start_api(log_dir, env={"HOME": str(home), "XDG_RUNTIME_DIR": str(home),
                                            "LOG_FORMAT": "text"}, name="api-edge")
    yield process, base
    process.stop()


def exchange(base: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer: (status, headers, body)."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(raw)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip()
               for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def request(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: herald.test", "Connection: close", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def assert_json_error(headers: dict, body: bytes, status: int, code: str) -> dict:
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["status"] == status and error["code"] == code
    assert error["message"]
    return error


def test_an_over_long_request_line_is_414_in_the_json_error_shape(api):
    _process, base = api
    marker = uuid.uuid4().hex
    status, headers, body = exchange(base, request(f"/health?{marker}={'a' * 5000}"))

    assert status == 414
    error = assert_json_error(headers, body, 414, "uri_too_long")
    assert error["fields"] == {"url": "too long"}
    assert marker.encode() not in body  # nothing of the request is echoed


@pytest.mark.parametrize("extra", [
    [f"X-Filler-{i}: {i}" for i in range(60)],  # too many
    [f"X-Big: {'b' * 9000}"],                   # one too large
], ids=["too-many-headers", "one-header-too-large"])
def test_too_many_or_too_large_headers_are_431_in_the_json_error_shape(api, extra):
    _process, base = api
    status, headers, body = exchange(base, request("/health", *extra))

    assert status == 431
    error = assert_json_error(headers, body, 431, "request_header_fields_too_large")
    assert error["fields"] == {"headers": "too many, or one too large"}


def test_a_malformed_request_is_400_in_the_json_error_shape_without_echoing_it(api):
    _process, base = api
    marker = uuid.uuid4().hex
    status, headers, body = exchange(base, f"GET /health{marker} HTTP/1.1 junk\r\n\r\n".encode())

    assert status == 400
    assert_json_error(headers, body, 400, "bad_request")
    assert marker.encode() not in body


def test_requests_within_the_limits_reach_the_app(api):
    _process, base = api
    status, headers, body = exchange(base, request(f"/health?q={'a' * 3000}",
                                                   *[f"X-Filler-{i}: {i}" for i in range(40)]))

    assert status == 200 and json.loads(body) == {"status": "ok"}


def test_the_access_log_shows_neither_a_basic_auth_key_nor_an_address(api, db):
    from api.keys.service import create_api_key

    process, base = api
    _key, secret = create_api_key("edge-service")
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    address = f"ada.{uuid.uuid4().hex[:8]}@example.com"

    refused, _, _ = exchange(base, request("/v1/notifications", f"Authorization: Basic {basic}"))
    shown, _, _ = exchange(base, request(f"/v1/recipients/{address}",
                                         f"Authorization: Bearer {secret}",
                                         f"User-Agent: client for {address}"))

    assert (refused, shown) == (401, 404)
    wait_until(lambda: process.log().count('"GET /v1/') >= 2, timeout=10,
               message=f"no access log lines:\n{process.log()[-2000:]}")
    log = process.log()
    assert "hrd_" not in log  # not even masked: the user name is not logged at all
    assert address not in log
    assert "/v1/recipients/a***@example.com" in log


def test_no_control_socket_is_made(api, home):
    _process, base = api
    exchange(base, request("/health"))  # the server is up

    assert not list(home.rglob("*.ctl"))
