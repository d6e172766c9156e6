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
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from common import topology
from common.config import settings
from common.db import db
from common.lifecycle import claim_for_delivery, mark_failed, mark_retrying, mark_sent
from common.models import Notification, utcnow
from common.dispatch import Publication, leave_for_relay, publish_all
from common.scheduling import retry_delay, within_horizon
from common.statuses import PENDING
from workers.app import DatabaseTask, app
from workers.health import report_provider_health
from workers.providers import provider_for
from workers.providers.base import DeliveryRequest, PermanentError, TransientError

log = logging.getLogger(__name__)

# PostgreSQL unreachable (restarting, failing over, a network blip). Nothing is
# wrong with the notification, so neither the task nor the outcome is given up
# at once: see `deliver_task` and `_commit_outcome`.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Task retries ride out a short outage; a longer one is the relay's (it
# republishes what was published but never claimed, after its grace period).
DATABASE_RETRIES = 10
DATABASE_RETRY_MAX_DELAY = 30.0


def deliver(channel: str, notification_id: str, token: str, worker: str) -> str:
    """One delivery attempt; returns what happened, for the task's log line."""
    config = settings()
    nid, tok = uuid.UUID(notification_id), uuid.UUID(token)
    claimed = claim_for_delivery(nid, tok, worker=worker, now=utcnow(), lease=config.sending_lease)
    if claimed is None:
        db.session.rollback()
        return explain_unclaimed(nid, tok)
    request, sandbox = _request_from(claimed), claimed.sandbox
    db.session.commit()
    db.session.close()  # give the connection back before the slow provider call
    # Recording the outcome may wait out a database outage, but not past the lease.
    record_until = time.monotonic() + 0.8 * config.sending_lease.total_seconds()

    outcome = _send_and_record(request, tok, sandbox, worker, record_until)
    vendor = config.provider_of(channel)
    if not sandbox and vendor != "sandbox":
        report_provider_health(channel, vendor, provider_for(channel, config), utcnow())
    return outcome


def _send_and_record(request: DeliveryRequest, tok: uuid.UUID, sandbox: bool, worker: str,
                     record_until: float) -> str:
    nid = request.notification_id
    try:
        receipt = provider_for(request.channel, settings(), sandbox).send(request)
    except TransientError as error:
        return _retry_or_fail(request, tok, error.code, error.message, error.retry_after, worker,
                              record_until)
    except PermanentError as error:
        code, message = error.code, error.message
        _commit_outcome(lambda: mark_failed(nid, error_code=code, error_message=message,
                                            now=utcnow(), where=(Notification.dispatch_token == tok,),
                                            worker=worker), record_until)
        return f"failed: {code}"
    except Exception as error:  # an unexpected bug in a provider must not strand the row
        log.exception("provider raised unexpectedly for %s", nid)
        return _retry_or_fail(request, tok, "provider_error", repr(error), None, worker, record_until)

    sent = _commit_outcome(
        lambda: mark_sent(nid, tok, provider_message_id=receipt.provider_message_id, worker=worker,
                          now=utcnow(), segments=receipt.segments) is not None, record_until)
    return "sent" if sent else "sent, but another claim had taken the row over"


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


def _retry_or_fail(request: DeliveryRequest, token: uuid.UUID, code: str, message: str,
                   retry_after: float | None, worker: str, record_until: float) -> str:
    config = settings()
    now = utcnow()
    own_claim = (Notification.dispatch_token == token,)
    if request.attempt >= config.max_attempts:
        _commit_outcome(lambda: mark_failed(
            request.notification_id, error_code=code, now=utcnow(), where=own_claim, worker=worker,
            error_message=f"gave up after {request.attempt} attempts: {message}"), record_until)
        return f"failed: {code} (attempts exhausted)"
    delay = retry_delay(request.attempt, base=config.retry_base_delay, cap=config.retry_max_delay,
                        jitter=random.random(), retry_after=retry_after)
    deliver_at = now + timedelta(seconds=delay)
    enqueue = within_horizon(deliver_at, now, config.eta_horizon)

    def write_retrying():
        retried = mark_retrying(request.notification_id, error_code=code, error_message=message,
                                deliver_at=deliver_at, enqueue=enqueue, now=now, where=own_claim,
                                worker=worker)
        return retried.dispatch_token if retried is not None else None

    new_token = _commit_outcome(write_retrying, record_until)
    if new_token is not None and enqueue:
        publish_all([Publication(request.notification_id, request.channel, new_token, deliver_at)], now)
    return f"retrying in {delay:.1f}s: {code}"


def explain_unclaimed(nid: uuid.UUID, token: uuid.UUID) -> str:
    """Say why a task found nothing to do; republish one that merely came early."""
    row = db.session.get(Notification, nid)
    if row is None:
        return "stale: no such notification"
    if row.dispatch_token != token:
        return f"stale: superseded ({row.status})"
    if row.status not in PENDING:
        return f"stale: already {row.status}"
    publication = Publication(row.id, row.channel, token, row.deliver_at)
    now = utcnow()
    if not within_horizon(row.deliver_at, now, settings().eta_horizon):
        leave_for_relay([publication])  # too far ahead for the broker to hold
        return f"early: left to the relay for {row.deliver_at.isoformat()}"
    publish_all([publication], now)
    return f"early: republished for {row.deliver_at.isoformat()}"


def _make_delivery_task(channel: str):
    @app.task(name=topology.delivery_task_name(channel), base=DatabaseTask, bind=True,
              max_retries=DATABASE_RETRIES)
    def deliver_task(self, notification_id: str, token: str) -> str:
        try:
            outcome = deliver(channel, notification_id, token, self.request.hostname)
        except DATABASE_UNAVAILABLE as error:
            # Failing would ack the message and leave the row to the relay's
            # grace period (minutes); the same id and token, a little later,
            # instead. A claim that did commit makes the retry stale, and the
            # sweeper takes that row back after its lease.
            delay = retry_delay(self.request.retries + 1, base=1.0, cap=DATABASE_RETRY_MAX_DELAY,
                                jitter=random.random())
            log.warning("%s %s: database unavailable, trying again in %.1fs: %s",
                        channel, notification_id, delay, error)
            raise self.retry(exc=error, countdown=delay) from error
        log.info("%s %s: %s", channel, notification_id, outcome)
        return outcome

    return deliver_task


DELIVERY_TASKS = {channel: _make_delivery_task(channel) for channel in topology.CHANNELS}
