"""API keys: how they are made, stored (as hashes) and checked on each request."""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps

from flask import g, request
from sqlalchemy import select

from api.errors import ApiError
from common.db import db
from common.models import ApiKey

KEY_KINDS = ("live", "test")


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(service: str, kind: str = "live") -> tuple[ApiKey, str]:
    """A new key for `service`; the secret is returned once and never stored."""
    if kind not in KEY_KINDS:
        raise ValueError(f"kind must be one of {KEY_KINDS}")
    secret = f"hrd_{kind}_{secrets.token_urlsafe(32)}"
    key = ApiKey(service=service, key_hash=hash_key(secret), key_prefix=secret[:12], kind=kind)
    db.session.add(key)
    db.session.commit()
    return key, secret


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
