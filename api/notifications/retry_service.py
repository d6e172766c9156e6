"""Replaying failed notifications for a caller: one by id, or many by a filter, idempotently."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from api.notifications.retry_schema import RetryRequest
from api.notifications.service import (commit_remembering, find_notification, replayed_response)
from api.visibility import visible_notifications
from common.config import Settings
from common.db import db
from common.errors import Conflict
from common.models import ApiKey, Notification
from common.replay import replay_failed
from common.statuses import Status


def who_asked(api_key: ApiKey) -> str:
    return f"{api_key.id} ({api_key.key_prefix}...)"


def retry_one(api_key: ApiKey, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(api_key, notification_id)
    replayed = replay_failed(notification.id, requested_by=who_asked(api_key), now=now)
    if replayed is None:
        db.session.rollback()
        db.session.refresh(notification)
        raise Conflict(f"only a failed notification is sent again; this one is {notification.status}",
                       {"status": notification.status})
    db.session.commit()  # publishes its task
    return replayed


def retry_many(api_key: ApiKey, request: RetryRequest, *, idempotency_key: str | None,
               config: Settings, now: datetime) -> tuple[dict, bool]:
    """Replay what the filter matches (up to its limit). Returns (the answer, whether replayed)."""
    fingerprint = request.fingerprint(api_key.kind)
    if idempotency_key:
        replay = replayed_response(api_key.service, idempotency_key, fingerprint, now,
                                   config.idempotency_ttl)
        if replay is not None:
            return replay, True
    query = select(Notification.id).where(*visible_notifications(api_key),
                                          Notification.status == Status.FAILED.value)
    for column, value in ((Notification.error_code, request.error_code),
                          (Notification.channel, request.channel)):
        if value is not None:
            query = query.where(column == value)
    # A failed notification's last change was its failure.
    if request.failed_after is not None:
        query = query.where(Notification.updated_at >= request.failed_after)
    if request.failed_before is not None:
        query = query.where(Notification.updated_at < request.failed_before)
    ids = db.session.execute(query.order_by(Notification.updated_at, Notification.id)
                             .limit(request.limit + 1)).scalars().all()
    asker = who_asked(api_key)
    # One that changed since it was read (another replay won) is simply not counted.
    replayed = sum(replay_failed(nid, requested_by=asker, now=now) is not None
                   for nid in ids[:request.limit])
    answer = {"replayed": replayed, "more": len(ids) > request.limit}
    return commit_remembering(api_key, idempotency_key, fingerprint, None, answer,
                              config=config, now=now)
