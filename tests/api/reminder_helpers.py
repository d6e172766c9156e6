"""Helpers for the /v1/reminders tests: request bodies, calls, and the rows they leave."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from common.db import db
from common.models import Notification, NotificationGroup, utcnow
from tests.support.factories import push_body

UTC = timezone.utc
DAY = timedelta(days=1)


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def in_days(days: float) -> datetime:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0)


def reminders_body(event_at, remind_before=("24h", "2h", "1h"), **notification) -> dict:
    event = event_at.isoformat() if isinstance(event_at, datetime) else event_at
    return {"event_at": event, "remind_before": list(remind_before),
            "notification": push_body(**notification)}


def create(client, auth, body: dict) -> dict:
    response = client.post("/v1/reminders", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reschedule(client, auth, group_id: str, event_at) -> dict:
    event = event_at.isoformat() if isinstance(event_at, datetime) else event_at
    response = client.post(f"/v1/reminders/{group_id}/reschedule", json={"event_at": event},
                           headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def force_status(notification_id: str, status: str) -> None:
    db.session.execute(update(Notification).where(Notification.id == uuid.UUID(notification_id))
                       .values(status=status))
    db.session.commit()


def stored_group(group_id: str) -> NotificationGroup:
    db.session.rollback()
    return db.session.get(NotificationGroup, uuid.UUID(group_id))


def member_rows(group_id: str) -> list[Notification]:
    db.session.rollback()
    return list(db.session.execute(
        select(Notification).where(Notification.group_id == uuid.UUID(group_id))
        .order_by(Notification.reminder_offset, Notification.id)).scalars())
