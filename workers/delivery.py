"""The delivery tasks: claim the row, call the provider, record the outcome.

The task carries only the notification id and its dispatch token; the row is
the truth. A task that cannot claim its row is stale (cancelled, superseded by
a newer token, already done) and is acked without doing anything.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import InterfaceError, OperationalError

from common import channels, dispatch, metrics, topology
from common.config import Settings
from common.db import db
from common.lifecycle import (claim_for_delivery, defer, defer_unclaimed, mark_failed, mark_retrying,
                              mark_sent)
from common.logs import fields, mask_recipient
from common.models import Notification, utcnow
from common.quiet_hours import in_quiet_hours
from common.scheduling import QuietRule, Schedule, retry_delay, schedule_delivery
from common.statuses import PENDING
from workers.health import report_provider_health
from workers.outcomes import Attempt, Outcome
from workers.providers import provider_for
from workers.providers.base import DeliveryRequest, PermanentError, Provider, TransientError
from workers.recipients import TOKEN_GONE, forget_push_token

log = logging.getLogger(__name__)

# PostgreSQL unreachable (restarting, failing over, a network blip). Nothing is
# wrong with the notification, so neither the task nor the outcome is given up
# at once: see `deliver_task` and `_commit_outcome`.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Task retries ride out a short outage; a longer one is the relay's (it
# republishes what was published but never claimed, after its grace period).
DATABASE_RETRIES = 10
DATABASE_RETRY_MAX_DELAY = 30.0


def _recorded(attempt: Attempt, kind: str, reason: str | None, written: bool, **facts) -> Outcome:
    """Count an outcome whose status change was committed; one that lost its claim is not."""
    if not written:
        return Outcome.of(attempt, "superseded", reason, meant=kind, **facts)
    metrics.delivery_recorded(attempt.request.channel, kind, reason)
    return Outcome.of(attempt, kind, reason, **facts)


def deliver(channel: str, notification_id: str, token: str, worker: str, config: Settings
            ) -> Outcome:
    """One delivery attempt under `config`; returns what happened."""
    nid, tok = uuid.UUID(notification_id), uuid.UUID(token)
    now = utcnow()
    claimed = claim_for_delivery(nid, tok, worker=worker, now=now, lease=config.sending_lease)
    if claimed is None:
        db.session.rollback()
        return explain_unclaimed(nid, tok, config, worker=worker, now=now)
    attempt = Attempt(
        request=_request_from(claimed), token=tok, config=config, sandbox=claimed.sandbox,
        quiet=None if claimed.priority == "critical" else QuietRule.from_json(claimed.quiet_hours),
        worker=worker,
        record_until=time.monotonic() + 0.8 * config.sending_lease.total_seconds(),
        service=claimed.service, recipient_ref=claimed.recipient_ref,
    )
    # A retry, or a backlog, can reach the recipient inside their quiet hours. On
    # PostgreSQL the claim has already refused such a row (explain_unclaimed defers
    # it); this is the embedded database's check.
    if attempt.quiet and in_quiet_hours(now, attempt.quiet.timezone, attempt.quiet.window):
        return _defer_for_quiet_hours(attempt, now)
    db.session.commit()
    db.session.close()  # give the connection back before the slow provider call

    # The provider is chosen once: the same one sends, is timed and reports its health.
    provider_name = "sandbox" if attempt.sandbox else channels.channel(channel).provider_name(config)
    provider = provider_for(channel, config, attempt.sandbox)
    outcome = _send_and_record(attempt, provider_name, provider)
    if provider_name != "sandbox":
        report_provider_health(channel, provider_name, provider, utcnow())
    return outcome


def _send_and_record(attempt: Attempt, provider_name: str, provider: Provider) -> Outcome:
    request = attempt.request
    try:
        with metrics.provider_call(request.channel, provider_name):
            receipt = provider.send(request)
    except TransientError as error:
        return _retry_or_fail(attempt, error.code, error.message, error.retry_after)
    except PermanentError as error:
        code, message = error.code, error.message
        failed = _commit_outcome(lambda: mark_failed(request.notification_id, error_code=code,
                                                     error_message=message, now=utcnow(),
                                                     token=attempt.token,
                                                     worker=attempt.worker),
                                 attempt.record_until)
        if code in TOKEN_GONE and attempt.recipient_ref is not None:
            forget_push_token(attempt.service, attempt.recipient_ref, request.recipient)
        return _recorded(attempt, metrics.FAILED, code, failed is not None)
    except Exception as error:  # an unexpected bug in a provider must not strand the row
        log.exception("provider raised unexpectedly for %s", request.notification_id)
        return _retry_or_fail(attempt, "provider_error", repr(error), None)

    def write_sent():
        row = mark_sent(request.notification_id, attempt.token,
                        provider_message_id=receipt.provider_message_id, worker=attempt.worker,
                        now=utcnow(), segments=receipt.segments)
        # Read before the commit expires the row (no second query for the metrics).
        return None if row is None else dict(deliver_at=row.deliver_at, created_at=row.created_at,
                                             sent_at=row.sent_at,
                                             schedule_reason=row.schedule_reason)

    sent = _commit_outcome(write_sent, attempt.record_until)
    if sent is None:
        return Outcome.of(attempt, "superseded", meant=metrics.SENT)
    metrics.delivery_sent(request.channel, **sent)
    return Outcome.of(attempt, metrics.SENT)


def _commit_outcome(write, until: float):
    """Run `write` (a status change) and commit it, trying again through a database outage.

    The provider has already acted, so the task cannot simply run again: a row
    left `sending` waits for the sweeper, which delivers it a second time.
    Gives up (raises) only when the claim's lease is about to run out anyway.
    """
    pause = 0.25
    while True:
        try:
            result = write()
            db.session.commit()
            return result
        except DATABASE_UNAVAILABLE as error:
            db.session.rollback()
            if time.monotonic() + pause > until:
                raise
            log.warning("database unavailable recording an outcome, trying again: %s", error)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _request_from(n: Notification) -> DeliveryRequest:
    return DeliveryRequest(
        notification_id=n.id, channel=n.channel, recipient=n.recipient, title=n.title,
        body=n.body, html=n.html, data=n.data, priority=n.priority, attempt=n.attempts,
        options=n.options,
    )


def _allowed_time(attempt: Attempt, due: datetime, reason: str) -> Schedule:
    """`due`, or the end of the recipient's quiet hours (spread) when it falls inside them."""
    return _outside_quiet_hours(attempt.quiet, attempt.request.notification_id, due, reason,
                                attempt.config)


def _outside_quiet_hours(rule: QuietRule | None, key: uuid.UUID, due: datetime, reason: str,
                         config: Settings) -> Schedule:
    return schedule_delivery(due, reason=reason, rule=rule, critical=False, key=key,
                             spread_interval=config.quiet_hours_spread)


def _defer_for_quiet_hours(attempt: Attempt, now: datetime) -> Outcome:
    schedule = _allowed_time(attempt, now, "deferred")
    deferred = defer(attempt.request.notification_id, attempt.token,
                     deliver_at=schedule.deliver_at, reason=schedule.reason,
                     detail=schedule.detail, horizon=attempt.config.eta_horizon,
                     worker=attempt.worker, now=now)
    db.session.commit()  # publishes it under its new token, unless it is beyond the horizon
    return _recorded(attempt, metrics.DEFERRED, None, deferred is not None,
                     next_at=schedule.deliver_at)


def _retry_or_fail(attempt: Attempt, code: str, message: str, retry_after: float | None
                   ) -> Outcome:
    config = attempt.config
    request = attempt.request
    if request.attempt >= config.max_attempts:
        failed = _commit_outcome(lambda: mark_failed(
            request.notification_id, error_code=code, now=utcnow(), token=attempt.token,
            worker=attempt.worker,
            error_message=f"gave up after {request.attempt} attempts: {message}"),
            attempt.record_until)
        return _recorded(attempt, metrics.FAILED, code, failed is not None, exhausted=True)
    delay = retry_delay(request.attempt, base=config.retry_base_delay, cap=config.retry_max_delay,
                        jitter=random.random(), retry_after=retry_after)
    planned: dict[str, datetime] = {}

    def write_retry():
        # Timed at each try: a write held up by a database outage still leaves
        # the whole delay (a provider's Retry-After) after it.
        now = planned["now"] = utcnow()
        # The next attempt also keeps out of the recipient's quiet hours.
        deliver_at = planned["at"] = _allowed_time(
            attempt, now + timedelta(seconds=delay), "retry").deliver_at
        return mark_retrying(
            request.notification_id, error_code=code, error_message=message, deliver_at=deliver_at,
            horizon=config.eta_horizon, now=now, token=attempt.token, worker=attempt.worker)

    # The commit publishes the retry under its new token, unless it is beyond the horizon.
    retried = _commit_outcome(write_retry, attempt.record_until)
    return _recorded(attempt, metrics.RETRYING, code, retried is not None, next_at=planned["at"],
                     wait=(planned["at"] - planned["now"]).total_seconds())


def explain_unclaimed(nid: uuid.UUID, token: uuid.UUID, config: Settings, *,
                      worker: str | None = None, now: datetime | None = None) -> Outcome:
    """Say why a task found nothing to do; republish one that merely came early.

    A due row the claim left alone because its recipient is inside quiet hours
    is moved to the window's end, with no attempt counted.
    """
    now = now or utcnow()
    row = db.session.get(Notification, nid)
    if row is None:
        return Outcome("stale", "missing")
    if row.dispatch_token != token:
        return Outcome("stale", "superseded", status=row.status)
    if row.status not in PENDING:
        return Outcome("stale", "finished", status=row.status)
    rule = None if row.priority == "critical" else QuietRule.from_json(row.quiet_hours)
    if row.deliver_at <= now and rule and in_quiet_hours(now, rule.timezone, rule.window):
        return _defer_unclaimed(row, rule, token, config, worker, now)
    deliver_at = row.deliver_at  # read before the commit expires the row
    republished = dispatch.republish_after_commit(row, utcnow(), config.eta_horizon)
    db.session.commit()
    # Too far ahead for the broker to hold: left to the relay.
    return Outcome("early", next_at=deliver_at, to_relay=not republished)


def _defer_unclaimed(row: Notification, rule: QuietRule, token: uuid.UUID, config: Settings,
                     worker: str | None, now: datetime) -> Outcome:
    # Read before the commit expires the row.
    channel, attempts, recipient = row.channel, row.attempts, row.recipient
    schedule = _outside_quiet_hours(rule, row.id, now, "deferred", config)
    deferred = defer_unclaimed(row.id, token, deliver_at=schedule.deliver_at,
                               reason=schedule.reason, detail=schedule.detail,
                               horizon=config.eta_horizon, worker=worker, now=now)
    db.session.commit()  # publishes it under its new token, unless it is beyond the horizon
    if deferred is None:  # cancelled or superseded in between
        return Outcome("stale", "superseded")
    metrics.delivery_recorded(channel, metrics.DEFERRED, None)
    return Outcome(metrics.DEFERRED, attempt=attempts, recipient=recipient,
                   next_at=schedule.deliver_at)


def delivery_log_fields(channel: str, notification_id: str, worker: str, outcome: Outcome) -> dict:
    """The structured fields of a delivery task's log line; the address masked.

    Only what a claim produced carries an error code as its reason: a stale
    task's reason is not one.
    """
    claimed = outcome.attempt is not None
    return fields(event="delivery", notification_id=notification_id, channel=channel,
                  attempt=outcome.attempt, worker=worker, outcome=outcome.kind,
                  reason=outcome.reason if claimed else None,
                  to=mask_recipient(channel, outcome.recipient) if claimed else None)


def _make_delivery_task(channel: str):
    @shared_task(name=topology.delivery_task_name(channel), bind=True,
                 max_retries=DATABASE_RETRIES)
    def deliver_task(self, notification_id: str, token: str) -> str:
        config = current_app.config["HERALD_SETTINGS"]  # the settings of the app it runs in
        try:
            outcome = deliver(channel, notification_id, token, self.request.hostname, config)
        except DATABASE_UNAVAILABLE as error:
            # Failing would ack the message and leave the row to the relay's
            # grace period (minutes); the same id and token, a little later,
            # instead. A claim that did commit makes the retry stale, and the
            # sweeper takes that row back after its lease.
            delay = retry_delay(self.request.retries + 1, base=1.0, cap=DATABASE_RETRY_MAX_DELAY,
                                jitter=random.random())
            log.warning("%s %s: database unavailable, trying again in %.1fs: %s",
                        channel, notification_id, delay, error,
                        extra=delivery_log_fields(channel, notification_id, self.request.hostname,
                                                  Outcome("database_unavailable")))
            raise self.retry(exc=error, countdown=delay) from error
        log.info("%s %s: %s", channel, notification_id, outcome,
                 extra=delivery_log_fields(channel, notification_id, self.request.hostname, outcome))
        return str(outcome)  # a plain str travels back to the pool's parent

    return deliver_task


DELIVERY_TASKS = {channel: _make_delivery_task(channel) for channel in topology.CHANNELS}
