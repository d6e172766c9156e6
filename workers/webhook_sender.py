"""One webhook POST: to the address that was vetted, with Host and SNI for the name; no redirects.

http.client follows no redirect, so a 3xx is an answer like any other (not a
success). The connection goes to `Target.address`, resolved and checked once
(`common.webhooks.addresses`), so a second DNS answer cannot send it elsewhere.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time

from common.webhooks.addresses import Target
from common.webhooks.attempts import Answer

EXCERPT_BYTES = 256  # of the answer, kept in the message log
USER_AGENT = "Herald-Webhooks/1"
_TLS = ssl.create_default_context()


def post(target: Target, body: str, headers: dict[str, str], *, timeout: float,
         tls: ssl.SSLContext | None = None) -> Answer:
    started = time.monotonic()
    connection = _connection(target, timeout, tls or _TLS)
    try:
        connection.request("POST", target.path, body=body.encode(), headers={
            **headers, "Content-Type": "application/json", "User-Agent": USER_AGENT})
        response = connection.getresponse()
        # Whatever the receiver says is stored as text: PostgreSQL takes no NUL character.
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace").replace("\x00", "\ufffd")
        return Answer(response.status, _since(started), excerpt)
    except TimeoutError:
        return Answer(None, _since(started), error="timeout")
    except ssl.SSLError:
        return Answer(None, _since(started), error="tls_error")
    except (OSError, http.client.HTTPException):
        return Answer(None, _since(started), error="connection_error")
    finally:
        connection.close()


def _connection(target: Target, timeout: float, tls: ssl.SSLContext) -> http.client.HTTPConnection:
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                                 context=tls)
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def to_vetted_address(address, timeout=None, source_address=None):
        # The name stays the connection's host: it is the Host header and the TLS server name.
        return socket.create_connection((target.address, address[1]), timeout, source_address)

    connection._create_connection = to_vetted_address
    return connection


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
