"""Checking the API key of each request (keys are made and stored by `api.keys.service`)."""

from __future__ import annotations

from functools import wraps

from flask import g, request
from sqlalchemy import bindparam, select

from api.errors import ApiError
from api.keys.service import hash_key
from common.db import db
from common.models import ApiKey

def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"Authorization": message})


def authenticate() -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("send your API key as `Authorization: Bearer <key>`")
    found = db.session.execute(_LIVE_KEY, {"key_hash": hash_key(secret.strip())}).one_or_none()
    if found is None:
        raise _unauthorized("unknown or revoked API key")
    # Read with Core, once per request: the ORM's loading would cost more than the query.
    return ApiKey(**found._mapping)


_KEYS = ApiKey.__table__
_LIVE_KEY = select(*_KEYS.c).where(_KEYS.c.key_hash == bindparam("key_hash"),
                                   _KEYS.c.revoked_at.is_(None))


def requires_api_key(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        g.api_key = authenticate()
        return view(*args, **kwargs)

    wrapper.requires_api_key = True  # read by api.openapi: the operation's security and 401
    return wrapper
