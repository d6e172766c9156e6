"""A notification's status change becomes webhook messages, in the transaction of the change.

Each status a caller can subscribe to has one event type. Most services have
no endpoint, so the question "who listens to this service?" is answered from
a per-process cache (`WEBHOOK_ENDPOINT_CACHE_SECONDS`): a change for a service
without endpoints costs no query at all. When someone listens, the change
adds one message per endpoint and registers its publication, which the
commit sends (`common.dispatch`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from common import dispatch, topology
from common.db import db
from common.models import NotificationEvent
from common.statuses import Status
from common.webhooks.models import ENABLED, PENDING, WebhookEndpoint, WebhookMessage

EVENT_OF_STATUS: dict[str, str] = {
    Status.SENT: "notification.sent",
    Status.DELIVERED: "notification.delivered",
    Status.FAILED: "notification.failed",
    Status.CANCELLED: "notification.cancelled",
    Status.SUPPRESSED: "notification.suppressed",
    Status.RETRYING: "notification.retrying",
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_OF_STATUS.values())


class _Listeners:
    """service -> (read at, [(endpoint id, its event types)]), shared by a process's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, list[tuple[uuid.UUID, frozenset[str]]]]] = {}

    def of(self, service: str, ttl: float) -> list[tuple[uuid.UUID, frozenset[str]]]:
        with self._lock:
            known = self._known.get(service)
        if known is not None and time.monotonic() - known[0] < ttl:
            return known[1]
        rows = db.session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(WebhookEndpoint.service == service, WebhookEndpoint.status == ENABLED)
        ).all()
        endpoints = [(row.id, frozenset(row.event_types)) for row in rows]
        with self._lock:
            self._known[service] = (time.monotonic(), endpoints)
        return endpoints

    def forget(self, service: str) -> None:
        with self._lock:
            self._known.pop(service, None)


LISTENERS = _Listeners()


def announce_row(row, now: datetime) -> None:
    """`row` (a Notification, or a plain row named like one) has just changed status."""
    if row is not None:
        announce(row.id, row.service, row.status, row.error_code, row.reference, now)


def announce(notification_id: uuid.UUID, service: str, status: str, error_code: str | None,
             reference: str | None, at: datetime) -> list[WebhookMessage]:
    """Add a message for each endpoint of `service` listening to this status; uncommitted."""
    event = EVENT_OF_STATUS.get(status)
    if event is None:
        return []
    ttl = current_app.config["HERALD_SETTINGS"].webhook_endpoint_cache
    endpoints = [endpoint for endpoint, events in LISTENERS.of(service, ttl) if event in events]
    if not endpoints:
        return []
    # The events so far, this one included: written under the row's lock, so in commit order.
    sequence = db.session.scalar(select(func.count()).select_from(NotificationEvent)
                                 .where(NotificationEvent.notification_id == notification_id))
    body = payload(event, notification_id, status, error_code, reference, at, sequence)
    messages = [WebhookMessage(id=uuid.uuid4(), endpoint_id=endpoint, notification_id=notification_id,
                               event_type=event, sequence=sequence, event_at=at, payload=body,
                               status=PENDING, attempts=0, next_attempt_at=at,
                               dispatch_token=uuid.uuid4(), enqueued_at=at, created_at=at)
                for endpoint in endpoints]
    db.session.add_all(messages)
    dispatch.register(db.session, [dispatch.Publication(m.id, topology.WEBHOOKS_QUEUE,
                                                        m.dispatch_token, None) for m in messages])
    return messages


def payload(event: str, notification_id: uuid.UUID, status: str, error_code: str | None,
            reference: str | None, at: datetime, sequence: int) -> str:
    """The body every attempt sends, byte for byte (the signature covers it)."""
    when = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": event, "timestamp": when,
                       "data": {"notification_id": str(notification_id), "status": str(status),
                                "error_code": error_code, "reference": reference, "at": when,
                                "sequence": sequence}}, separators=(",", ":"))
