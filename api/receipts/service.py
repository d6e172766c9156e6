"""Applying a provider's delivery receipt to the notification it names."""

from __future__ import annotations

import uuid
from datetime import datetime

from common import lifecycle
from common.db import db
from common.errors import NotFound
from common.models import Notification


def record_delivery_receipt(notification_id: str, outcome, *, message_sid: str | None,
                            now: datetime) -> str:
    """Apply a provider's receipt; a late or repeated one changes nothing. Returns the status."""
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise NotFound("no such notification") from None
    # Without a MessageSid a receipt cannot be matched to the message Herald sent.
    if outcome is not None and message_sid:
        target, error_code = outcome
        lifecycle.record_receipt(nid, target, provider_message_id=message_sid,
                                 error_code=error_code, now=now,
                                 detail=f"receipt: {error_code or target.value}")
        db.session.commit()
    notification = db.session.get(Notification, nid)
    if notification is None:
        raise NotFound("no such notification")
    return notification.status
