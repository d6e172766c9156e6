"""The database catching up with the broker: the relay and the sweeper.

The relay publishes what has come within the ETA horizon and what was
published but never claimed (a lost publish). The sweeper takes back claims
whose lease ran out (a worker died inside a delivery). Both lock their rows
with SKIP LOCKED, so any number of maintenance workers can run them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, tuple_, update

from common.config import Settings
from common.db import db
from common.dispatch import try_publish_delivery
from common.lifecycle import mark_failed, mark_retrying
from common.models import IdempotencyKey, Notification
from common.statuses import PENDING, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    notification_id: uuid.UUID
    channel: str
    token: uuid.UUID
    deliver_at: datetime


def publish_all(publications: list[Publication], now: datetime) -> int:
    """Publish after the commit; what fails is left for the next relay run.

    After one failure on a channel the rest of that channel is not tried this
    time: its queue (or the whole broker) is unavailable, and each attempt can
    wait out a connection timeout.
    """
    failed_channels: set[str] = set()
    unpublished = []
    for p in publications:
        if p.channel not in failed_channels and try_publish_delivery(
            p.notification_id, p.channel, p.token, p.deliver_at, now
        ):
            continue
        failed_channels.add(p.channel)
        unpublished.append(p)
    if unpublished:
        leave_for_relay(unpublished)
    return len(publications) - len(unpublished)


def leave_for_relay(publications: list[Publication]) -> None:
    """Mark rows whose publish failed as not enqueued, so the next relay run takes them.

    Left marked, they would wait out the republish grace (minutes). Only rows
    still pending under the token that failed: a newer enqueue is not undone.
    """
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
    publications = [Publication(r.id, r.channel, uuid.uuid4(), r.deliver_at) for r in rows]
    db.session.execute(
        update(Notification).execution_options(synchronize_session=False),
        [{"id": p.notification_id, "dispatch_token": p.token, "enqueued_at": now} for p in publications],
    )
    db.session.commit()
    published = publish_all(publications, now)
    log.info("relay published %d of %d due notifications", published, len(publications))
    return published


def sweep_expired_leases(config: Settings, now: datetime, worker: str | None = None) -> int:
    expired = db.session.execute(
        select(Notification.id, Notification.channel, Notification.attempts)
        .where(Notification.status == Status.SENDING, Notification.lease_expires_at < now)
        .limit(config.relay_batch)
        .with_for_update(skip_locked=True)
    ).all()
    publications = []
    for row in expired:
        message = "the worker holding this delivery stopped answering before its lease ran out"
        lease_guard = (Notification.lease_expires_at < now,)
        gives_up = row.attempts >= config.max_attempts or config.fail_on_lost_lease(row.channel)
        if gives_up:
            mark_failed(row.id, error_code="lease_expired", error_message=message, now=now,
                        where=lease_guard, worker=worker)
            continue
        retried = mark_retrying(row.id, error_code="lease_expired", error_message=message,
                                deliver_at=now, enqueue=True, now=now, where=lease_guard,
                                worker=worker)
        if retried is not None:
            publications.append(Publication(retried.id, retried.channel, retried.dispatch_token, now))
    db.session.commit()
    publish_all(publications, now)
    if expired:
        log.warning("sweeper recovered %d deliveries with expired leases", len(expired))
    return len(expired)


def purge_idempotency_keys(config: Settings, now: datetime) -> int:
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - config.idempotency_ttl)
    )
    db.session.commit()
    return result.rowcount
