"""Request bodies over MAX_CONTENT_LENGTH are refused with 413, whether sized or streamed (chunked)."""

from __future__ import annotations

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import ApiError


def refuse_oversized_body() -> None:
    """Run before every view: werkzeug checks Content-Length itself, but cuts a
    streamed body at the limit without a word, so JSON cut short read as
    `invalid_json`. Read it here, and one byte more, so that is a 413."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None:
        return
    if "wsgi.input_terminated" not in request.environ:
        # Without it werkzeug reads a chunked body as empty: say so rather than
        # answer for a body that was never read.
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            raise ApiError(411, "length_required",
                           "send Content-Length: this server cannot read a chunked body",
                           {"Content-Length": "required"})
        return
    body = request.get_data(cache=True)  # at most `limit` bytes; views read this copy
    if len(body) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
