"""Plain functions that build request bodies and read back what Herald stored."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from common.db import db
from common.models import Notification, NotificationEvent


def push_body(token: str = "device-token-1", **extra) -> dict:
    return {"channel": "push", "to": token, "content": {"title": "Hi", "body": "Hello"}, **extra}


def email_body(address: str = "ada@example.com", **extra) -> dict:
    return {"channel": "email", "to": address,
            "content": {"subject": "Hello", "body": "Hi Ada", "html": "<p>Hi Ada</p>"}, **extra}


def sms_body(number: str = "+447700900123", **extra) -> dict:
    return {"channel": "sms", "to": number, "content": {"body": "Your code is 1234"}, **extra}


BODIES = {"push": push_body, "email": email_body, "sms": sms_body}


def status_counts() -> dict[str, int]:
    db.session.rollback()  # see other processes' commits
    rows = db.session.execute(select(Notification.status, func.count()).group_by(Notification.status))
    return dict(rows.all())


def fetch(notification_id: str) -> Notification:
    db.session.rollback()
    return db.session.get(Notification, uuid.UUID(notification_id))


def events_of(notification_id: str) -> list[NotificationEvent]:
    db.session.rollback()
    return list(db.session.execute(
        select(NotificationEvent).where(NotificationEvent.notification_id == uuid.UUID(notification_id))
        .order_by(NotificationEvent.id)
    ).scalars())
