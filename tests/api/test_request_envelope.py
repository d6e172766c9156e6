"""What surrounds a request body: its size however it is sent, and the Idempotency-Key header.

gunicorn (and werkzeug's own server) set `wsgi.input_terminated` when they end
a chunked body themselves; the test client sets it only when told, as here.
"""

from __future__ import annotations

import io
import json

import pytest
from werkzeug.datastructures import Headers

from common.config import settings
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.factories import email_body, sms_body

AS_GUNICORN = {"wsgi.input_terminated": True}


def chunked(client, auth, body: bytes, environ=AS_GUNICORN, path="/v1/notifications"):
    """POST `body` streamed, with Transfer-Encoding: chunked and no Content-Length."""
    headers = {**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    return client.post(path, input_stream=io.BytesIO(body), headers=headers, environ_overrides=environ)


def padded_to(size: int) -> bytes:
    """An email request of exactly `size` bytes of JSON."""
    body = email_body(content={"subject": "Hi", "body": "b", "html": ""})
    padding = size - len(json.dumps(body).encode())
    html = min(padding, 200_000)  # within the content limits, so the size is all that matters
    body["content"].update(html="x" * html, body="b" + "x" * (padding - html))
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


@pytest.mark.parametrize("extra", [1, 1_000, 10 * settings().max_request_bytes])
@pytest.mark.parametrize("path", ["/v1/notifications", "/v1/notifications/preview", "/v1/reminders"])
def test_a_chunked_body_over_the_limit_is_413(client, auth, extra, path):
    response = chunked(client, auth, padded_to(settings().max_request_bytes + extra), path=path)

    error = assert_error(response, 413, "body")
    assert error["code"] == "request_too_large"
    assert stored_counts() == NOTHING_STORED


def test_a_chunked_body_at_the_limit_is_read_whole(client, auth):
    response = chunked(client, auth, padded_to(settings().max_request_bytes))

    assert response.status_code == 202, response.get_data(as_text=True)
    assert stored_counts()["notifications"] == 1


def test_a_small_chunked_body_is_read_like_any_other(client, auth):
    response = chunked(client, auth, json.dumps(sms_body()).encode())

    assert response.status_code == 202, response.get_data(as_text=True)


def test_a_chunked_body_the_server_does_not_end_is_refused_as_unreadable(client, auth):
    # Werkzeug reads such a body as empty; answering about its JSON would mislead.
    response = chunked(client, auth, json.dumps(sms_body()).encode(), environ={})

    assert_error(response, 411, "Content-Length")
    assert stored_counts() == NOTHING_STORED


# --- Idempotency-Key ------------------------------------------------------------------------------

def test_two_idempotency_key_headers_are_refused(client, auth):
    headers = Headers(auth)
    headers.add("Idempotency-Key", "order-42")
    headers.add("Idempotency-Key", "order-43")

    error = assert_error(client.post("/v1/notifications", json=sms_body(), headers=headers), 422,
                         "Idempotency-Key")

    assert "one Idempotency-Key header" in error["fields"]["Idempotency-Key"]
    assert stored_counts() == NOTHING_STORED


@pytest.mark.parametrize("key", ["order-42,order-43", "order-42, order-43", ",", "clé-42", "order\t42",
                                 "order\x7f42"])
def test_an_idempotency_key_that_is_not_one_printable_ascii_value_is_refused(client, auth, key):
    response = client.post("/v1/notifications", json=sms_body(), headers={**auth, "Idempotency-Key": key})

    assert_error(response, 422, "Idempotency-Key")
    assert stored_counts() == NOTHING_STORED


def test_one_idempotency_key_header_still_deduplicates(client, auth):
    headers = {**auth, "Idempotency-Key": "order-42 attempt:1/2"}

    first = client.post("/v1/notifications", json=sms_body(), headers=headers)
    second = client.post("/v1/notifications", json=sms_body(), headers=headers)

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert stored_counts()["notifications"] == 1
