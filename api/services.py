"""What the API does, apart from HTTP: create, find, list, cancel, hurry notifications."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from api.errors import ApiError
from api.responses import accepted
from api.schemas import NotificationRequest
from common import lifecycle
from common.config import Settings
from common.db import db
from common.dispatch import Publication, publish_all
from common.models import ApiKey, IdempotencyKey, Notification, NotificationEvent
from common.scheduling import initial_deliver_at, within_horizon
from common.statuses import Status


def request_fingerprint(request: NotificationRequest) -> str:
    canonical = json.dumps(asdict(request), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(service: str, key: str, fingerprint: str, now: datetime, ttl) -> dict | None:
    """The first response for this idempotency key, if it is still live."""
    record = db.session.get(IdempotencyKey, (service, key))
    if record is None:
        return None
    if record.created_at < now - ttl:
        db.session.delete(record)
        db.session.flush()
        return None
    if record.request_hash != fingerprint:
        raise ApiError(409, "idempotency_key_reused",
                       "this Idempotency-Key was used with a different request",
                       {"Idempotency-Key": "already used with a different request body"})
    return record.response


def create_notification(
    api_key: ApiKey, request: NotificationRequest, *, idempotency_key: str | None,
    config: Settings, now: datetime,
) -> tuple[dict, bool]:
    """Persist, commit, then publish. Returns (response body, whether it was a replay)."""
    fingerprint = request_fingerprint(request)
    if idempotency_key:
        replay = _replay(api_key.service, idempotency_key, fingerprint, now, config.idempotency_ttl)
        if replay is not None:
            return replay, True

    deliver_at, reason = initial_deliver_at(request.send_at, now)
    publish_now = within_horizon(deliver_at, now, config.eta_horizon)
    notification = Notification(
        id=uuid.uuid4(), service=api_key.service, api_key_id=api_key.id, channel=request.channel,
        recipient=request.to, title=request.title, body=request.body, html=request.html,
        data=request.data, options=request.options, priority=request.priority,
        timezone=request.timezone, sandbox=api_key.kind == "test",
        reference=request.reference, send_at=request.send_at, deliver_at=deliver_at,
        schedule_reason=reason, status=Status.SCHEDULED.value, attempts=0,
        dispatch_token=uuid.uuid4(), enqueued_at=now if publish_now else None,
        created_at=now, updated_at=now,
    )
    db.session.add(notification)
    lifecycle.record_event(notification, at=now, detail=f"scheduled: {reason}")
    response = accepted(notification)
    # Taken before the commit, which expires the row: reading it after would reload it.
    publication = Publication(notification.id, request.channel, notification.dispatch_token,
                              deliver_at)
    if idempotency_key:
        # The models declare no relationship, so the unit of work orders inserts by
        # class name and would write the key before the row it references.
        db.session.flush()
        db.session.add(IdempotencyKey(service=api_key.service, key=idempotency_key,
                                      request_hash=fingerprint, notification_id=notification.id,
                                      response=response, created_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race.
        db.session.rollback()
        replay = _replay(api_key.service, idempotency_key, fingerprint, now, config.idempotency_ttl)
        if replay is None:
            raise
        return replay, True

    if publish_now:
        publish_all([publication], now)
    return response, False


def record_delivery_receipt(notification_id: str, outcome, *, message_sid: str | None,
                            now: datetime) -> str:
    """Apply a provider's receipt; a late or repeated one changes nothing. Returns the status."""
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise ApiError(404, "not_found", "no such notification") from None
    if outcome is not None:
        target, error_code = outcome
        lifecycle.record_receipt(nid, target, provider_message_id=message_sid,
                                 error_code=error_code, now=now,
                                 detail=f"receipt: {error_code or target.value}")
        db.session.commit()
    notification = db.session.get(Notification, nid)
    if notification is None:
        raise ApiError(404, "not_found", "no such notification")
    return notification.status


def find_notification(service: str, notification_id: str) -> Notification:
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise ApiError(404, "not_found", "no such notification") from None
    notification = db.session.get(Notification, nid)
    if notification is None or notification.service != service:
        raise ApiError(404, "not_found", "no such notification")
    return notification


def history(notification: Notification) -> list[NotificationEvent]:
    return list(db.session.execute(
        select(NotificationEvent)
        .where(NotificationEvent.notification_id == notification.id)
        .order_by(NotificationEvent.at, NotificationEvent.id)
    ).scalars())


def _conflict(notification: Notification, action: str) -> ApiError:
    return ApiError(409, "conflict", f"cannot {action} a notification that is {notification.status}",
                    {"status": notification.status})


def cancel_notification(service: str, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(service, notification_id)
    cancelled = lifecycle.cancel(notification.id, now=now)
    db.session.commit()
    if cancelled is None:
        db.session.refresh(notification)
        raise _conflict(notification, "cancel")
    return cancelled


def send_now(service: str, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(service, notification_id)
    hurried = lifecycle.hurry(notification.id, now=now)
    if hurried is None:
        db.session.rollback()
        db.session.refresh(notification)
        raise _conflict(notification, "send now")
    publication = Publication(notification.id, hurried.channel, hurried.dispatch_token, now)
    db.session.commit()
    publish_all([publication], now)
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
        return moment, uuid.UUID(nid)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ValueError("not a cursor from a previous page") from None


def list_notifications(service: str, filters: ListFilters) -> tuple[list[Notification], str | None]:
    """Newest first; keyset pagination on (created_at, id)."""
    query = select(Notification).where(Notification.service == service)
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
