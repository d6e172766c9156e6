"""Herald's Prometheus metrics: every series is defined here, with the helpers that record them.

The API (creation), the delivery tasks and the maintenance jobs record through
the helpers below, each at the one place where its fact becomes true (after
the commit that makes it so). Under gunicorn and in a worker pool the values
live in per-process files (prometheus_client's multiprocess mode, see
common/multiprocess.py) and a scrape merges them; elsewhere (tests, `flask
run`) in the default registry.

Queue depth is not recorded anywhere: `QueueCollector` asks the broker at
scrape time (a passive queue_declare), for the API's /metrics.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

# Outcomes of a delivery attempt, as herald_deliveries_total labels them.
SENT, RETRYING, FAILED, DEFERRED = "sent", "retrying", "failed", "deferred"
NO_REASON = "none"

# Seconds: provider calls take milliseconds to a timeout (10 s by default).
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Seconds: from a few milliseconds (an idle pool) to an hour (a backlog, retries).
_DELAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                  900.0, 3600.0)

NOTIFICATIONS_ACCEPTED = Counter(
    "herald_notifications_accepted", "Notifications created by the API (committed), by channel; "
    "includes those created suppressed.", ["channel"])
QUIET_HOURS_SHIFTS = Counter(
    "herald_quiet_hours_shifts", "Notifications whose delivery time was moved out of the "
    "recipient's quiet hours when they were created.", ["channel"])
DELIVERIES = Counter(
    "herald_deliveries", "Recorded outcomes of delivery attempts by the channel pools: "
    "sent | retrying | failed | deferred (quiet hours began); reason is the error code or "
    "'none'.", ["channel", "outcome", "reason"])
RETRIES = Counter(
    "herald_retries", "Retries scheduled: transient delivery errors (workers) and expired "
    "leases (sweeper), by error code.", ["channel", "reason"])
PROVIDER_CALL_SECONDS = Histogram(
    "herald_provider_call_seconds", "Time spent in a provider's send(), whatever its result.",
    ["channel", "provider"], buckets=_CALL_BUCKETS)
DELIVERIES_IN_PROGRESS = Gauge(
    "herald_deliveries_in_progress", "Provider calls under way (a lower bound of the messages "
    "a pool holds unacked).", ["channel"], multiprocess_mode="livesum")
DELIVERY_LATENESS_SECONDS = Histogram(
    "herald_delivery_lateness_seconds", "sent_at - deliver_at of each notification sent.",
    ["channel"], buckets=_DELAY_BUCKETS)
IMMEDIATE_SEND_SECONDS = Histogram(
    "herald_immediate_send_seconds", "sent_at - created_at of each notification sent that "
    "was due at once (schedule_reason 'immediate'), retries included.",
    ["channel"], buckets=_DELAY_BUCKETS)
RELAY_PUBLISHED = Counter(
    "herald_relay_published", "Delivery tasks the relay published (due rows and lost publishes).")
SWEEPER_RECOVERED = Counter(
    "herald_sweeper_recovered", "Claims with an expired lease the sweeper took back: "
    "retrying | failed.", ["outcome"])
RATE_LIMITED = Counter(
    "herald_api_rate_limited", "Requests the API refused with 429, by key kind and budget "
    "(writes | reads).", ["kind", "budget"])


# --- recording ----------------------------------------------------------------------------------

def _seconds(later: datetime, earlier: datetime) -> float:
    # Hosts' clocks may disagree by a little; a negative delay is no delay.
    return max((later - earlier).total_seconds(), 0.0)


def notification_accepted(channel: str, quiet_hours_shifted: bool) -> None:
    NOTIFICATIONS_ACCEPTED.labels(channel).inc()
    if quiet_hours_shifted:
        QUIET_HOURS_SHIFTS.labels(channel).inc()


def request_rate_limited(kind: str, budget: str) -> None:
    RATE_LIMITED.labels(kind, budget).inc()


def delivery_recorded(channel: str, outcome: str, reason: str | None = None) -> None:
    """One outcome of a delivery attempt, once it is committed."""
    reason = reason or NO_REASON
    DELIVERIES.labels(channel, outcome, reason).inc()
    if outcome == RETRYING:
        RETRIES.labels(channel, reason).inc()


def delivery_sent(channel: str, *, deliver_at: datetime, created_at: datetime, sent_at: datetime,
                  schedule_reason: str) -> None:
    delivery_recorded(channel, SENT)
    DELIVERY_LATENESS_SECONDS.labels(channel).observe(_seconds(sent_at, deliver_at))
    if schedule_reason == "immediate":
        IMMEDIATE_SEND_SECONDS.labels(channel).observe(_seconds(sent_at, created_at))


@contextmanager
def provider_call(channel: str, provider: str):
    """Time a provider's send() and count it as under way meanwhile."""
    in_progress = DELIVERIES_IN_PROGRESS.labels(channel)
    in_progress.inc()
    started = time.perf_counter()
    try:
        yield
    finally:
        PROVIDER_CALL_SECONDS.labels(channel, provider).observe(time.perf_counter() - started)
        in_progress.dec()


def relay_published(count: int) -> None:
    if count:
        RELAY_PUBLISHED.inc(count)


def sweeper_recovered(retried_channels: list[str], failed: int) -> None:
    if retried_channels:
        SWEEPER_RECOVERED.labels(RETRYING).inc(len(retried_channels))
    for channel in retried_channels:
        RETRIES.labels(channel, "lease_expired").inc()
    if failed:
        SWEEPER_RECOVERED.labels(FAILED).inc(failed)


# --- after the commit ---------------------------------------------------------------------------

_ON_COMMIT = "herald_metrics_on_commit"


def on_commit(session, record) -> None:
    """Call `record()` when the session's transaction commits; drop it if it rolls back.

    For facts written in one place and made true by a commit elsewhere (a
    notification is added by `add_planned`, committed by whichever request
    made it).
    """
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still ends it, and forgets this
    session.info.setdefault(_ON_COMMIT, []).append(record)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session):
    if session.in_nested_transaction():  # a savepoint; the transaction goes on
        return
    for record in session.info.pop(_ON_COMMIT, ()):
        try:
            record()
        except Exception:  # a metric must never fail a request that has committed
            log.exception("recording a metric failed")


@event.listens_for(Session, "after_transaction_end")
def _forget_on_rollback(session, transaction):
    if transaction.parent is None:  # whatever is left was rolled back
        session.info.pop(_ON_COMMIT, None)


# --- queue depth, asked at scrape time ----------------------------------------------------------

@dataclass(frozen=True)
class QueueDepth:
    messages: int  # ready; messages delivered to a consumer and not yet acked are not counted
    consumers: int | None  # None: the transport does not know (the embedded filesystem://)


def probe_queues(app, names, timeout: float) -> dict[str, QueueDepth | None]:
    """Ready messages and consumers per queue from passive declares (which create nothing).

    A queue nobody has declared yet maps to None. Raises when the broker does
    not answer within `timeout`.
    """
    base = app.connection_for_read()
    connection = base.clone(
        connect_timeout=timeout,
        transport_options={**base.transport_options, "read_timeout": timeout,
                           "write_timeout": timeout},
    )
    base.release()
    depths: dict[str, QueueDepth | None] = {}
    with connection:
        connection.ensure_connection(max_retries=0, reraise_as_library_errors=False)
        counts_consumers = connection.transport.driver_type == "amqp"
        for name in names:
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue=name, passive=True)
                depths[name] = QueueDepth(declared.message_count,
                                          declared.consumer_count if counts_consumers else None)
            except connection.channel_errors:  # 404: not declared yet
                depths[name] = None
            finally:
                try:
                    channel.close()
                except Exception:  # already closed by the broker after a 404
                    pass
    return depths


class QueueCollector:
    """herald_queue_depth, herald_queue_consumers and herald_queue_probe_success at scrape time.

    One broker round trip per `cache_seconds` at most, whatever the scrape
    rate; a broker that does not answer costs one `timeout` and reports
    probe_success 0 (and no depth) until the next try. RabbitMQ does not tell
    an AMQP client how many messages are unacked; see docs/monitoring.md.
    """

    def __init__(self, app, queues, *, timeout: float = 1.0, cache_seconds: float = 5.0,
                 clock=time.monotonic):
        self._app = app
        self._queues = tuple(queues)
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dict | None] | None = None

    def _depths(self) -> dict | None:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._cache_seconds:
                try:
                    depths = probe_queues(self._app, self._queues, self._timeout)
                except Exception as error:
                    log.warning("queue depth probe failed: %s: %s", type(error).__name__, error)
                    depths = None
                self._cached = (now, depths)
            return self._cached[1]

    def collect(self):
        depths = self._depths()
        up = GaugeMetricFamily("herald_queue_probe_success",
                               "1 if the broker answered the last queue probe, else 0.")
        up.add_metric([], 1 if depths is not None else 0)
        yield up
        ready = GaugeMetricFamily("herald_queue_depth", "Messages ready in the queue (not "
                                  "counting those delivered to a worker and unacked).",
                                  labels=["queue"])
        consumers = GaugeMetricFamily("herald_queue_consumers",
                                      "Consumers of the queue (one per worker pool replica).",
                                      labels=["queue"])
        for name, depth in (depths or {}).items():
            if depth is None:
                continue
            ready.add_metric([name], depth.messages)
            if depth.consumers is not None:
                consumers.add_metric([name], depth.consumers)
        yield ready
        yield consumers


def scrape_registry(*extra_collectors) -> CollectorRegistry:
    """What one scrape exposes: every process's values (multiprocess) or this process's, plus extras."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for collector in extra_collectors:
        registry.register(collector)
    return registry
