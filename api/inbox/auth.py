"""Opening an inbox with its end user's token: `Authorization: Bearer <inbox token>`.

A token missing, forged or expired answers 401 in the usual error shape. The
stream also takes `?token=` (a browser's EventSource cannot set headers); the
access log never shows a query string.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from api.errors import ApiError
from common.inbox.tokens import TokenRefused, opened


def _unauthorized(message: str, code: str = "unauthorized") -> ApiError:
    return ApiError(401, code, message, {"Authorization": message})


def inbox_token(allow_query: bool = False) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return secret.strip()
    if allow_query and request.args.get("token"):
        return request.args["token"]
    raise _unauthorized("send the inbox token as `Authorization: Bearer <token>`")


def open_inbox(allow_query: bool = False) -> None:
    """Set g.inbox (and g.inbox_expires, a Unix time) from the request's token, or refuse with 401."""
    config = current_app.config["HERALD_SETTINGS"]
    try:
        g.inbox, g.inbox_expires = opened(inbox_token(allow_query), config)
    except TokenRefused as refusal:
        raise _unauthorized(str(refusal), "token_expired" if refusal.expired else "unauthorized") \
            from None


def requires_inbox_token(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        open_inbox()
        return view(*args, **kwargs)

    wrapper.requires_inbox_token = True  # read by api.openapi_document: the operation's security
    return wrapper
