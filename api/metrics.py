"""Metrics: GET /metrics for Prometheus, GET /v1/metrics for a calling service's own counts.

/metrics is the text exposition of Herald's series (common/metrics.py) as
recorded by the API's processes (all gunicorn workers at once when
PROMETHEUS_MULTIPROC_DIR is set), plus the depth of every queue, asked of the
broker at scrape time. It carries no per-service data and asks no API key:
keep it on the internal network. The worker pools serve their own series on
WORKER_METRICS_PORT.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel, Field
from prometheus_client.exposition import choose_encoder
from sqlalchemy import distinct, func, select

from api.auth import requires_api_key
from api.errors import invalid
from api.openapi import Answer, documented
from api.query import unknown_parameters
from api.responses import ResponseModel, Timestamp, body, iso
from api.visibility import visible_notifications
from common import metrics
from common.celery_app import celery_app
from common.db import db
from common.models import ApiKey, Notification, NotificationEvent, utcnow
from common.statuses import Status
from common.topology import CHANNELS, QUEUES

bp = Blueprint("metrics", __name__)

DEFAULT_PERIOD = 3600
MAX_PERIOD = 30 * 24 * 3600  # 2,592,000 s
# A scrape must answer well within Prometheus's 10 s timeout, broker or not.
QUEUE_PROBE_TIMEOUT = 1.0
QUEUE_PROBE_CACHE_SECONDS = 5.0

# status -> count; every status is present, zero when nothing happened.
StatusCounts = dict[str, int]


class EventTotals(ResponseModel):
    events: int
    notifications: int  # distinct notifications with an event in the period
    worker_events: int
    api_events: int


class ServiceMetrics(ResponseModel):
    """Counts of the caller's notification events; see `count_events`."""

    period_seconds: int
    since: Timestamp
    until: Timestamp
    by_status: StatusCounts
    by_channel: dict[str, StatusCounts]
    by_worker: dict[str, StatusCounts]
    totals: EventTotals


def _queue_collector() -> metrics.QueueCollector:
    """One per API process, so every scrape within the cache time reuses one probe."""
    collector = current_app.extensions.get("herald_queue_collector")
    if collector is None:
        config = current_app.config["HERALD_SETTINGS"]
        collector = metrics.QueueCollector(
            celery_app(), QUEUES, timeout=min(config.publish_timeout, QUEUE_PROBE_TIMEOUT),
            cache_seconds=QUEUE_PROBE_CACHE_SECONDS)
        current_app.extensions["herald_queue_collector"] = collector
    return collector


@bp.get("/metrics")
@documented(summary="Prometheus metrics of the API processes and the queues", tag="operations",
            description="No API key and no per-service data: keep it on the internal network.",
            answers={200: Answer("The text exposition (OpenMetrics when the Accept header asks).",
                                 media_types=("text/plain", "application/openmetrics-text"))})
def prometheus():
    encoder, content_type = choose_encoder(request.headers.get("Accept"))
    registry = metrics.scrape_registry(_queue_collector())
    return encoder(registry), 200, {"Content-Type": content_type}


class MetricsQuery(BaseModel):
    """The query of GET /v1/metrics, as `period_seconds` reads it."""

    period: int = Field(default=DEFAULT_PERIOD, ge=1, le=MAX_PERIOD,
                        description="Seconds back from now.")


def period_seconds() -> int:
    if problems := unknown_parameters(request.args, MetricsQuery):
        raise invalid(problems)
    raw = request.args.get("period", str(DEFAULT_PERIOD))
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
    if value is None or not 1 <= value <= MAX_PERIOD:
        raise invalid({"period": f"must be a whole number of seconds from 1 to {MAX_PERIOD:,}"})
    return value


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


@bp.get("/v1/metrics")
@documented(summary="Counts of the service's notification events over a period", tag="metrics",
            query=MetricsQuery, errors=(422,),
            answers={200: Answer("The counts.", ServiceMetrics)})
@requires_api_key
def service_metrics():
    """Counts of the caller's notification events over the last `period` seconds (default 3600)."""
    period = period_seconds()
    until = utcnow()
    since = until - timedelta(seconds=period)
    counts = count_events(g.api_key, since, until)
    return jsonify(body(ServiceMetrics(period_seconds=period, since=iso(since), until=iso(until),
                                       **counts)))
