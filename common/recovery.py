"""The database catching up with the broker: the relay and the sweeper.

The relay publishes what has come within the ETA horizon and what was
published but never claimed (a lost publish). The sweeper takes back claims
whose lease ran out (a worker died inside a delivery). Both lock their rows
with SKIP LOCKED, so any number of maintenance workers can run them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from time import monotonic

from sqlalchemy import Uuid, delete, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from common import dispatch, metrics
from common.config import Settings
from common.db import db
from common.lifecycle import mark_failed, mark_retrying
from common.models import IdempotencyKey, Notification
from common.statuses import PENDING, Status

log = logging.getLogger(__name__)


class fresh_token(FunctionElement):
    """A new random dispatch token for each row an UPDATE touches, made by the database."""

    type = Uuid()
    inherit_cache = True


@compiles(fresh_token, "postgresql")
def _fresh_token_postgresql(element, compiler, **kw):
    return "gen_random_uuid()"


@compiles(fresh_token, "sqlite")
def _fresh_token_sqlite(element, compiler, **kw):
    return "lower(hex(randomblob(16)))"  # how a UUID column is stored there: 32 hex digits


@dataclass(frozen=True)
class Chunk:
    """One relay transaction: how many rows it took, and how many the broker confirmed."""

    rows: int
    published: int


def relay_due(config: Settings, now: datetime) -> int:
    """Publish what is due, chunk after chunk, until nothing is or the run's time is up.

    Lost publishes first (one pass: they are few, and overdue the longest),
    then rows never enqueued. A chunk whose publish failed ends the run: its
    rows are back in the database for the next one.
    """
    deadline = monotonic() + config.relay_run_seconds
    published = 0
    for due in (_lost_publishes, _never_enqueued):
        while True:
            chunk = relay_chunk(config, now, due)
            published += chunk.published
            if chunk.published < chunk.rows:
                return published
            if chunk.rows < config.relay_batch:
                break  # this kind is drained (or locked by another relay)
            if monotonic() >= deadline:
                log.info("relay run used its %.1f s: the next run goes on", config.relay_run_seconds)
                return published
    return published


def _never_enqueued(config: Settings, now: datetime):
    # Served by ix_notifications_unenqueued_due: far-future rows are never read.
    return (Notification.enqueued_at.is_(None),
            Notification.deliver_at <= now + config.eta_horizon)


def _lost_publishes(config: Settings, now: datetime):
    grace_edge = now - config.republish_grace
    return (Notification.enqueued_at < grace_edge, Notification.deliver_at < grace_edge)


def promotion_query(config: Settings, now: datetime, due):
    """The ids of the next chunk of due rows, oldest first, locked; rows other relays hold are skipped."""
    return (
        select(Notification.id)
        .where(Notification.status.in_(list(PENDING)), *due(config, now))
        .order_by(Notification.deliver_at)
        .limit(config.relay_batch)
        .with_for_update(skip_locked=True)
    )


def relay_chunk(config: Settings, now: datetime, due=_never_enqueued) -> Chunk:
    """Lock up to `relay_batch` due rows, give them fresh tokens, commit, then publish them.

    SKIP LOCKED lets relays run side by side: each takes rows the others do
    not hold, and a row it has stamped no longer matches once committed. The
    transaction is two statements long; the broker is asked after the commit.
    """
    ids = db.session.execute(promotion_query(config, now, due)).scalars().all()
    if not ids:
        db.session.rollback()
        return Chunk(0, 0)
    rows = db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(dispatch_token=fresh_token(), enqueued_at=now)
        .returning(Notification.id, Notification.channel, Notification.deliver_at,
                   Notification.dispatch_token)
        .execution_options(synchronize_session=False)
    ).all()
    publications = [dispatch.publication(r.id, r.channel, r.dispatch_token, r.deliver_at, now)
                    for r in rows]
    batch = dispatch.register(db.session, publications)
    db.session.commit()  # publishes them; what the broker refuses is handed back for the next run
    published = batch.published or 0
    metrics.relay_published(published)
    log.info("relay published %d of %d due notifications", published, len(publications))
    return Chunk(len(publications), published)


def sweep_expired_leases(config: Settings, now: datetime, worker: str | None = None) -> int:
    """Take back expired claims, chunk after chunk, until none are left or the run's time is up."""
    deadline = monotonic() + config.relay_run_seconds
    recovered = 0
    while True:
        taken, found = _sweep_chunk(config, now, worker)
        recovered += taken
        if found < config.relay_batch or monotonic() >= deadline:
            return recovered


def _sweep_chunk(config: Settings, now: datetime, worker: str | None) -> tuple[int, int]:
    """One transaction: (claims taken back, claims found)."""
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
    return recovered, len(expired)


def purge_idempotency_keys(config: Settings, now: datetime) -> int:
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - config.idempotency_ttl)
    )
    db.session.commit()
    return result.rowcount
