"""Gunicorn's worker for the API, answering the requests gunicorn itself refuses in Herald's JSON error shape.

Gunicorn rejects some requests before the app sees them (a request line or
headers over the limits, a malformed request) and answers those in HTML,
echoing part of the request. This worker answers them like every other
error (api.errors), with a fixed message, and logs only the kind of failure:
the refused request line may carry anything the caller put in it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from ssl import SSLError

from gunicorn import util
from gunicorn.http import errors as http
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

from api.errors import ApiError, error_body

log = logging.getLogger(__name__)

# (status, reason phrase, code, message, fields) per kind of refusal; the first match wins.
_REFUSALS = (
    ((http.InvalidResponseHeader, http.InvalidResponseHeaderName, http.ConfigurationProblem),
     500, "Internal Server Error", "internal_error", "an unexpected error occurred", None),
    (http.LimitRequestLine, 414, "URI Too Long", "uri_too_long",
     "the request line is too long", {"url": "too long"}),
    (http.LimitRequestHeaders, 431, "Request Header Fields Too Large",
     "request_header_fields_too_large", "too many request headers, or one too large",
     {"headers": "too many, or one too large"}),
    (http.UnsupportedTransferCoding, 501, "Not Implemented", "not_implemented",
     "this Transfer-Encoding is not supported", {"Transfer-Encoding": "not supported"}),
    (http.ExpectationFailed, 417, "Expectation Failed", "expectation_failed",
     "only `Expect: 100-continue` is supported", {"Expect": "not supported"}),
    ((http.ForbiddenProxyRequest, SSLError), 403, "Forbidden", "forbidden",
     "request forbidden", None),
    ((http.ParseException, http.NoMoreData), 400, "Bad Request", "bad_request",
     "the request is not valid HTTP/1.1", None),
)
_UNEXPECTED = (500, "Internal Server Error", "internal_error", "an unexpected error occurred", None)


def refusal_for(exc: BaseException) -> tuple:
    """(status, reason, code, message, fields) for an exception gunicorn met handling a request."""
    for kinds, *answer in _REFUSALS:
        if isinstance(exc, kinds):
            return tuple(answer)
    return _UNEXPECTED


def error_document(status: int, reason: str, code: str, message: str, fields) -> bytes:
    """A whole HTTP response carrying the error in api.errors' JSON shape."""
    body = json.dumps(error_body(ApiError(status, code, message, fields))).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class JsonErrorSyncWorker(SyncWorker):
    """Gunicorn's sync worker, with its own error answers in Herald's JSON error shape."""

    def handle_error(self, req, client, addr, exc):
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket has no peer address
        status, reason, code, message, fields = refusal_for(exc)
        if status >= 500:
            log.exception("error handling a request")
        else:
            log.warning("refused a request from %s: %s (%s)", addr[0], status, type(exc).__name__)
        req = req or getattr(exc, "req", None)
        if req is not None:  # the access log line, as gunicorn writes it
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            response = Response(req, client, self.cfg)
            response.status = f"{status} {reason}"
            self.log.access(response, req, environ, datetime.now() - started)
        try:
            util.write_nonblock(client, error_document(status, reason, code, message, fields))
        except Exception:
            self.log.debug("Failed to send error message.")
