"""Due push rows for the cluster tests, published by Herald's own relay, and what became of them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from common.db import db
from common.models import Notification, utcnow
from common.recovery import relay_due


def owner():
    """An API key whose service owns the test's rows."""
    from api.keys.service import create_api_key

    key, _secret = create_api_key("cluster-service")
    return key


def insert_due_pushes(key, count: int, prefix: str = "device",
                      due_in: timedelta = timedelta(seconds=-1)) -> list[uuid.UUID]:
    """`count` push rows due now (or in `due_in`) and never published: the relay's to publish."""
    now = utcnow()
    rows = [dict(id=uuid.uuid4(), service=key.service, api_key_id=key.id, channel="push",
                 recipient=f"{prefix}-{i}-{uuid.uuid4().hex[:8]}", title="Hi", body="Hello",
                 priority="normal", deliver_at=now + due_in,
                 schedule_reason="immediate", status="scheduled", attempts=0,
                 dispatch_token=uuid.uuid4(), enqueued_at=None, created_at=now, updated_at=now)
            for i in range(count)]
    db.session.execute(insert(Notification), rows)
    db.session.commit()
    return [row["id"] for row in rows]


def relay_everything(config) -> int:
    """Run the relay until nothing due is left unpublished; returns how many it published."""
    published = 0
    while (chunk := relay_due(config, utcnow())) > 0:
        published += chunk
    return published


def sent_times() -> list[datetime]:
    db.session.rollback()
    return sorted(db.session.execute(
        select(Notification.sent_at).where(Notification.sent_at.is_not(None))).scalars())


def longest_pause(times: list[datetime], around: datetime) -> float:
    """The longest gap between two successive deliveries from shortly before `around` on."""
    after = [t for t in times if t >= around - timedelta(seconds=2)]
    gaps = [(b - a).total_seconds() for a, b in zip(after, after[1:])]
    return max(gaps, default=0.0)
