"""The cursor of a notifications page: the (created_at, id) of the last row, opaque to callers."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timezone

from common.models import Notification


def encode_cursor(n: Notification) -> str:
    raw = json.dumps([n.created_at.isoformat(), str(n.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for a cursor Herald did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, nid = json.loads(base64.urlsafe_b64decode(padded))
        if not (isinstance(created_at, str) and isinstance(nid, str)):
            raise ValueError
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError
        # In UTC, as the column holds it; near year 1 or 9999 this overflows.
        return moment.astimezone(timezone.utc), uuid.UUID(nid)
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ValueError("not a cursor from a previous page") from None
