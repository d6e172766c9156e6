"""API keys: how they are made, stored (as hashes), found by what an operator types, revoked and budgeted."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import select, update

from common.db import db
from common.models import ApiKey, utcnow

KEY_KINDS = ("live", "test")
# How much of a key is stored and shown (`keys list`): "hrd_live_" and three characters.
PREFIX_LENGTH = 12


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(service: str, kind: str = "live", *, write_rate_limit: str | None = None,
                   read_rate_limit: str | None = None) -> tuple[ApiKey, str]:
    """A new key for `service`; the secret is returned once and never stored.

    Budgets left None follow RATE_LIMIT_WRITES and RATE_LIMIT_READS.
    """
    if kind not in KEY_KINDS:
        raise ValueError(f"kind must be one of {KEY_KINDS}")
    secret = f"hrd_{kind}_{secrets.token_urlsafe(32)}"
    key = ApiKey(service=service, key_hash=hash_key(secret), key_prefix=secret[:PREFIX_LENGTH],
                 kind=kind, write_rate_limit=write_rate_limit, read_rate_limit=read_rate_limit)
    db.session.add(key)
    db.session.commit()
    return key, secret


class KeyNotFound(LookupError):
    """No key, or more than one, answers to what an operator typed."""


def list_api_keys(service: str | None = None) -> list[ApiKey]:
    """Every key (of one service), oldest first."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if service is not None:
        query = query.where(ApiKey.service == service)
    return list(db.session.execute(query).scalars())


def _shown(prefix_or_id: str) -> str:
    """What an answer may repeat of what the operator typed: never more of a secret than its prefix."""
    return prefix_or_id[:PREFIX_LENGTH] if prefix_or_id.startswith("hrd_") else prefix_or_id[:36]


def _matching(prefix_or_id: str):
    """The condition selecting the key an operator names by id, shown prefix or whole secret."""
    try:
        return ApiKey.id == uuid.UUID(prefix_or_id)
    except ValueError:
        pass
    if not prefix_or_id.startswith("hrd_"):
        raise KeyNotFound(f"{_shown(prefix_or_id)!r} is neither a key id nor a key prefix (hrd_...)")
    if len(prefix_or_id) > PREFIX_LENGTH:  # longer than any prefix: the secret itself
        return ApiKey.key_hash == hash_key(prefix_or_id)
    return ApiKey.key_prefix.startswith(prefix_or_id, autoescape=True)


def find_api_key(prefix_or_id: str) -> ApiKey:
    """The one key with this id, this shown prefix (or its start), or this whole secret."""
    prefix_or_id = prefix_or_id.strip().removesuffix("...")  # as `keys list` shows a prefix
    keys = list(db.session.execute(select(ApiKey).where(_matching(prefix_or_id))).scalars())
    if not keys:
        raise KeyNotFound(f"no key has the id or prefix {_shown(prefix_or_id)!r}")
    if len(keys) > 1:
        ids = ", ".join(str(key.id) for key in keys)
        raise KeyNotFound(f"{prefix_or_id!r} is the prefix of {len(keys)} keys: give the id ({ids})")
    return keys[0]


def revoke_api_key(prefix_or_id: str, now: datetime | None = None) -> tuple[ApiKey, bool]:
    """Revoke a key: every later request with it is 401. Returns (key, whether this call revoked it)."""
    key = find_api_key(prefix_or_id)
    if key.revoked_at is not None:
        return key, False
    key.revoked_at = now or utcnow()
    db.session.commit()
    return key, True


def set_rate_limits(service: str, kind: str, changes: dict[str, str | None]) -> int:
    """Set budgets (`write_rate_limit`, `read_rate_limit`) on a service's active keys of one kind.

    Returns how many keys changed.
    """
    result = db.session.execute(
        update(ApiKey)
        .where(ApiKey.service == service, ApiKey.kind == kind, ApiKey.revoked_at.is_(None))
        .values(**changes))
    db.session.commit()
    return result.rowcount
