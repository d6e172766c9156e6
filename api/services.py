"""What the API does with existing notifications: find, list, cancel, hurry, receipts."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, tuple_

from api.errors import ApiError
from api.visibility import visible_notifications
from common import lifecycle
from common.db import db
from common.models import ApiKey, Notification, NotificationEvent


def record_delivery_receipt(notification_id: str, outcome, *, message_sid: str | None,
                            now: datetime) -> str:
    """Apply a provider's receipt; a late or repeated one changes nothing. Returns the status."""
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise ApiError(404, "not_found", "no such notification") from None
    # Without a MessageSid a receipt cannot be matched to the message Herald sent.
    if outcome is not None and message_sid:
        target, error_code = outcome
        lifecycle.record_receipt(nid, target, provider_message_id=message_sid,
                                 error_code=error_code, now=now,
                                 detail=f"receipt: {error_code or target.value}")
        db.session.commit()
    notification = db.session.get(Notification, nid)
    if notification is None:
        raise ApiError(404, "not_found", "no such notification")
    return notification.status


def find_notification(api_key: ApiKey, notification_id: str) -> Notification:
    """The notification, if `api_key` may see it (api.visibility); 404 otherwise."""
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise ApiError(404, "not_found", "no such notification") from None
    notification = db.session.execute(
        select(Notification).where(Notification.id == nid, *visible_notifications(api_key))
    ).scalar_one_or_none()
    if notification is None:
        raise ApiError(404, "not_found", "no such notification")
    return notification


def history(notification: Notification) -> list[NotificationEvent]:
    """Events in the order they were written: each is written under the row's lock
    (`common.lifecycle.record_event`), so ids follow commit order where times,
    read before a wait for that lock, might not."""
    return list(db.session.execute(
        select(NotificationEvent)
        .where(NotificationEvent.notification_id == notification.id)
        .order_by(NotificationEvent.id)
    ).scalars())


def _conflict(notification: Notification, action: str) -> ApiError:
    return ApiError(409, "conflict", f"cannot {action} a notification that is {notification.status}",
                    {"status": notification.status})


def cancel_notification(api_key: ApiKey, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(api_key, notification_id)
    cancelled = lifecycle.cancel(notification.id, now=now)
    db.session.commit()
    if cancelled is None:
        db.session.refresh(notification)
        raise _conflict(notification, "cancel")
    return cancelled


def send_now(api_key: ApiKey, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(api_key, notification_id)
    hurried = lifecycle.hurry(notification.id, now=now)
    if hurried is None:
        db.session.rollback()
        db.session.refresh(notification)
        raise _conflict(notification, "send now")
    db.session.commit()  # publishes the task under its new token
    return hurried


@dataclass(frozen=True)
class ListFilters:
    status: str | None = None
    channel: str | None = None
    recipient: str | None = None
    reference: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 50
    cursor: tuple[datetime, uuid.UUID] | None = None


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


def list_notifications(api_key: ApiKey, filters: ListFilters) -> tuple[list[Notification], str | None]:
    """Those `api_key` may see, newest first; keyset pagination on (created_at, id)."""
    query = select(Notification).where(*visible_notifications(api_key))
    for column, value in ((Notification.status, filters.status),
                          (Notification.channel, filters.channel),
                          (Notification.recipient, filters.recipient),
                          (Notification.reference, filters.reference)):
        if value is not None:
            query = query.where(column == value)
    if filters.created_after:
        query = query.where(Notification.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Notification.created_at < filters.created_before)
    if filters.cursor:
        query = query.where(tuple_(Notification.created_at, Notification.id) < filters.cursor)
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = list(db.session.execute(query.limit(filters.limit + 1)).scalars())
    page = rows[: filters.limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > filters.limit else None
    return page, next_cursor
