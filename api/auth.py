"""Checking the API key of each request (keys are made and stored by `api.keys.service`)."""

from __future__ import annotations

from functools import wraps

from flask import g, request
from sqlalchemy import select

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
    key = db.session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_key(secret.strip()), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if key is None:
        raise _unauthorized("unknown or revoked API key")
    return key


def requires_api_key(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        g.api_key = authenticate()
        return view(*args, **kwargs)

    wrapper.requires_api_key = True  # read by api.openapi: the operation's security and 401
    return wrapper
