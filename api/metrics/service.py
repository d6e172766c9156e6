"""What the metrics endpoints count: Prometheus series and queue depths, and a service's events."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from prometheus_client.exposition import choose_encoder
from sqlalchemy import distinct, func, select

from api.visibility import visible_notifications
from common import metrics
from common.celery_app import celery_app
from common.db import db
from common.models import ApiKey, Notification, NotificationEvent
from common.statuses import Status
from common.topology import CHANNELS, QUEUES

# A scrape must answer well within Prometheus's 10 s timeout, broker or not.
QUEUE_PROBE_TIMEOUT = 1.0
QUEUE_PROBE_CACHE_SECONDS = 5.0


def queue_collector(app: Flask) -> metrics.QueueCollector:
    """One per API process, so every scrape within the cache time reuses one probe."""
    collector = app.extensions.get("herald_queue_collector")
    if collector is None:
        config = app.config["HERALD_SETTINGS"]
        collector = metrics.QueueCollector(
            celery_app(), QUEUES, timeout=min(config.publish_timeout, QUEUE_PROBE_TIMEOUT),
            cache_seconds=QUEUE_PROBE_CACHE_SECONDS)
        app.extensions["herald_queue_collector"] = collector
    return collector


def exposition(app: Flask, accept: str | None) -> tuple[bytes, str]:
    """The series of this process and the queue depths, in the format `accept` asks for."""
    encoder, content_type = choose_encoder(accept)
    return encoder(metrics.scrape_registry(queue_collector(app))), content_type


def events_in_period(api_key: ApiKey, since: datetime, until: datetime, *columns):
    """SELECT `columns` over the events of the notifications `api_key` may see (api.visibility),
    with since <= at < until.

    A range scan of ix_notification_events_at, each event joined to its
    notification by primary key for the service and the channel.
    """
    return (
        select(*columns)
        .join(Notification, Notification.id == NotificationEvent.notification_id)
        .where(NotificationEvent.at >= since, NotificationEvent.at < until,
               *visible_notifications(api_key))
    )


def count_events(api_key: ApiKey, since: datetime, until: datetime) -> dict:
    """The events of the notifications `api_key` may see, since <= at < until, counted three ways.

    An event is one row of a notification's history (notification_events), as
    GET /v1/notifications/{id} lists them: its creation (`scheduled`, or
    `suppressed`), then every status change (`sending` at each claim,
    `retrying`, `sent`, `failed`, `delivered`, `cancelled`, and `scheduled`
    again when a claim is deferred out of quiet hours). Send-now and a
    reminder's reschedule add a row with the status the notification already
    had; they are counted under that status too. Each count is of events, not
    of notifications: one retried twice counts twice under `retrying`.

    `by_worker` holds the events a worker recorded (its node name, such as
    push@host; the relay and sweeper as maintenance@host); those the API
    recorded (creations, cancellations, receipts, send-now) have no worker and
    appear only in `by_status`, `by_channel` and `totals.api_events`.
    """
    rows = db.session.execute(
        events_in_period(api_key, since, until,
                         NotificationEvent.status, Notification.channel, NotificationEvent.worker,
                         func.count())
        .group_by(NotificationEvent.status, Notification.channel, NotificationEvent.worker)
    ).all()
    notifications = db.session.scalar(events_in_period(
        api_key, since, until, func.count(distinct(NotificationEvent.notification_id))))
    statuses = [s.value for s in Status]

    def zeros() -> dict[str, int]:
        return dict.fromkeys(statuses, 0)

    by_status, by_channel, by_worker = zeros(), {c: zeros() for c in CHANNELS}, {}
    events = api_events = 0
    for status, channel, worker, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        per_channel = by_channel.setdefault(channel, zeros())
        per_channel[status] = per_channel.get(status, 0) + count
        if worker is None:
            api_events += count
        else:
            per_worker = by_worker.setdefault(worker, zeros())
            per_worker[status] = per_worker.get(status, 0) + count
        events += count
    return {
        "by_status": by_status,
        "by_channel": by_channel,
        "by_worker": dict(sorted(by_worker.items())),
        "totals": {"events": events, "notifications": notifications,
                   "worker_events": events - api_events, "api_events": api_events},
    }
