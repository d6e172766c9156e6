"""The webhook messages' relay: publishes what the broker does not hold, as the notifications' relay does.

A message is published again when its retry has come within the ETA horizon
(it waited in the database), when its publish failed, when it was published
long ago and never claimed (a lost message), or when its claim's lease ran
out (the worker died mid-POST). Rows are locked with SKIP LOCKED, so relays
can run side by side.
"""

from __future__ import annotations

import logging
from datetime import datetime
from time import monotonic

from sqlalchemy import and_, func, or_, select, update

from common import dispatch, topology
from common.config import Settings
from common.db import db
from common.recovery import fresh_token
from common.webhooks import metrics
from common.webhooks.models import PENDING, WebhookMessage

log = logging.getLogger(__name__)
M = WebhookMessage


def relay_messages(config: Settings, now: datetime) -> int:
    """Publish due messages chunk after chunk until none is left or the run's time is up."""
    deadline = monotonic() + config.relay_run_seconds
    published = 0
    while True:
        taken, confirmed = _relay_chunk(config, now)
        published += confirmed
        if taken < config.relay_batch or confirmed < taken or monotonic() >= deadline:
            break
    _measure_oldest_pending(now)
    return published


def _due(config: Settings, now: datetime):
    grace_edge = now - config.republish_grace
    unleased = or_(M.lease_expires_at.is_(None), M.lease_expires_at < now)
    return and_(M.status == PENDING, unleased, or_(
        and_(M.enqueued_at.is_(None), M.next_attempt_at <= now + config.eta_horizon),
        and_(M.enqueued_at < grace_edge, M.next_attempt_at < grace_edge),
        M.lease_expires_at < now,
    ))


def _relay_chunk(config: Settings, now: datetime) -> tuple[int, int]:
    ids = db.session.execute(select(M.id).where(_due(config, now)).order_by(M.next_attempt_at)
                             .limit(config.relay_batch).with_for_update(skip_locked=True)
                             ).scalars().all()
    if not ids:
        db.session.rollback()
        return 0, 0
    rows = db.session.execute(
        update(M).where(M.id.in_(ids))
        .values(dispatch_token=fresh_token(), enqueued_at=now, lease_expires_at=None)
        .returning(M.id, M.dispatch_token, M.next_attempt_at)
        .execution_options(synchronize_session=False)).all()
    batch = dispatch.register(db.session, [
        dispatch.publication(r.id, topology.WEBHOOKS_QUEUE, r.dispatch_token, r.next_attempt_at, now)
        for r in rows])
    db.session.commit()  # publishes them
    log.info("relay published %d of %d due webhook messages", batch.published or 0, len(rows))
    return len(rows), batch.published or 0


def _measure_oldest_pending(now: datetime) -> None:
    oldest = db.session.scalar(select(func.min(M.created_at)).where(M.status == PENDING))
    db.session.rollback()
    metrics.oldest_pending(0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0))
