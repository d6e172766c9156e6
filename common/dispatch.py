"""The only place that publishes: a delivery task, by name, on its channel's queue.

A task carries just the notification id and the dispatch token; the worker
re-reads the row. Publishing always happens after the row is committed, so a
failed publish loses nothing: the relay finds the row and publishes it again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import tuple_, update

from common import topology
from common.celery_app import celery_app
from common.db import db
from common.models import Notification
from common.statuses import PENDING

log = logging.getLogger(__name__)


def publish_delivery(
    notification_id: uuid.UUID, channel: str, token: uuid.UUID, deliver_at: datetime, now: datetime
) -> None:
    """Publish one delivery task; raises if the broker did not confirm it."""
    celery_app().send_task(
        topology.delivery_task_name(channel),
        args=[str(notification_id), str(token)],
        queue=channel,
        routing_key=channel,
        eta=deliver_at if deliver_at > now else None,
    )


@dataclass(frozen=True)
class Publication:
    notification_id: uuid.UUID
    channel: str
    token: uuid.UUID
    deliver_at: datetime


def try_publish_delivery(p: Publication, now: datetime) -> bool:
    """Publish, or log and report False: the row is committed, the relay will retry."""
    try:
        publish_delivery(p.notification_id, p.channel, p.token, p.deliver_at, now)
        return True
    except Exception as exc:  # any broker failure: the database row is the truth
        log.warning("publish of %s failed, leaving it to the relay: %s", p.notification_id, exc)
        return False


def publish_all(publications: list[Publication], now: datetime) -> int:
    """Publish committed rows; what fails is left for the next relay run.

    After one failure on a channel the rest of that channel is not tried this
    time: its queue (or the whole broker) is unavailable, and each attempt can
    wait out a connection timeout.
    """
    failed_channels: set[str] = set()
    unpublished = []
    for p in publications:
        if p.channel not in failed_channels and try_publish_delivery(p, now):
            continue
        failed_channels.add(p.channel)
        unpublished.append(p)
    if unpublished:
        leave_for_relay(unpublished)
    return len(publications) - len(unpublished)


def leave_for_relay(publications: list[Publication]) -> None:
    """Mark rows as not enqueued, so the next relay run publishes them.

    Left marked, they would wait out the republish grace (minutes), which also
    covers the case where this write itself fails. Only rows still pending
    under the token that failed: a newer enqueue is not undone.
    """
    try:
        db.session.execute(
            update(Notification)
            .where(
                tuple_(Notification.id, Notification.dispatch_token).in_(
                    [(p.notification_id, p.token) for p in publications]
                ),
                Notification.status.in_(list(PENDING)),
            )
            .values(enqueued_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.warning("could not hand %d rows back to the relay: %s", len(publications), exc)
