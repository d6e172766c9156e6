"""The database catching up with the broker: the relay and the sweeper.

The relay publishes what has come within the ETA horizon and what was
published but never claimed (a lost publish). The sweeper takes back claims
whose lease ran out (a worker died inside a delivery). Both lock their rows
with SKIP LOCKED, so any number of maintenance workers can run them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update

from common import dispatch, metrics
from common.config import Settings
from common.db import db
from common.lifecycle import mark_failed, mark_retrying
from common.models import IdempotencyKey, Notification
from common.statuses import PENDING, Status

log = logging.getLogger(__name__)


def relay_due(config: Settings, now: datetime) -> int:
    grace_edge = now - config.republish_grace
    rows = db.session.execute(
        select(Notification.id, Notification.channel, Notification.deliver_at)
        .where(
            Notification.status.in_(list(PENDING)),
            Notification.deliver_at <= now + config.eta_horizon,
            or_(
                Notification.enqueued_at.is_(None),
                and_(Notification.enqueued_at < grace_edge, Notification.deliver_at < grace_edge),
            ),
        )
        .order_by(Notification.deliver_at)
        .limit(config.relay_batch)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        db.session.rollback()
        return 0
    publications = [dispatch.publication(r.id, r.channel, uuid.uuid4(), r.deliver_at, now)
                    for r in rows]
    db.session.execute(
        update(Notification).execution_options(synchronize_session=False),
        [{"id": p.notification_id, "dispatch_token": p.token, "enqueued_at": now} for p in publications],
    )
    batch = dispatch.register(db.session, publications)
    db.session.commit()  # publishes them; what the broker refuses is handed back for the next run
    published = batch.published or 0
    metrics.relay_published(published)
    log.info("relay published %d of %d due notifications", published, len(publications))
    return published


def sweep_expired_leases(config: Settings, now: datetime, worker: str | None = None) -> int:
    expired = db.session.execute(
        select(Notification.id, Notification.channel, Notification.attempts)
        .where(Notification.status == Status.SENDING, Notification.lease_expires_at < now)
        .limit(config.relay_batch)
        .with_for_update(skip_locked=True)
    ).all()
    retried_channels, failed = [], 0
    message = "the worker holding this delivery stopped answering before its lease ran out"
    lease_guard = (Notification.lease_expires_at < now,)
    for row in expired:
        gives_up = row.attempts >= config.max_attempts or config.fail_on_lost_lease(row.channel)
        if gives_up:
            failed += mark_failed(row.id, error_code="lease_expired", error_message=message,
                                  now=now, where=lease_guard, worker=worker) is not None
            continue
        # Due now, so within the horizon: published when this commits.
        retried = mark_retrying(row.id, error_code="lease_expired", error_message=message,
                                deliver_at=now, horizon=config.eta_horizon, now=now,
                                where=lease_guard, worker=worker)
        if retried is not None:
            retried_channels.append(retried.channel)
    db.session.commit()
    metrics.sweeper_recovered(retried_channels, failed)
    recovered = len(retried_channels) + failed
    if recovered:
        log.warning("sweeper took back %d deliveries with expired leases (%d failed)",
                    recovered, failed)
    return recovered


def purge_idempotency_keys(config: Settings, now: datetime) -> int:
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - config.idempotency_ttl)
    )
    db.session.commit()
    return result.rowcount
