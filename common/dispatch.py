"""The only place that publishes: a delivery task, by name, on its channel's queue.

A task carries just the notification id and the dispatch token; the worker
re-reads the row. Publishing always happens after the row is committed, so a
failed publish loses nothing: the relay finds the row and publishes it again.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from common import topology
from common.celery_app import celery_app

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


def try_publish_delivery(
    notification_id: uuid.UUID, channel: str, token: uuid.UUID, deliver_at: datetime, now: datetime
) -> bool:
    """Publish, or log and report False: the row is committed, the relay will retry."""
    try:
        publish_delivery(notification_id, channel, token, deliver_at, now)
        return True
    except Exception as exc:  # any broker failure: the database row is the truth
        log.warning("publish of %s failed, leaving it to the relay: %s", notification_id, exc)
        return False
