"""Notifications written straight into the database (and published) for the phases that time workers."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import text

from common.db import db
from common import dispatch

# Due now, outside quiet hours by priority: the rows the API would have written
# for PUSH_REQUEST, with `enqueued_at` set only when the caller publishes them.
_INSERT = text("""
    INSERT INTO notifications (id, service, api_key_id, channel, recipient, title, body, priority,
                               deliver_at, schedule_reason, status, attempts, dispatch_token,
                               enqueued_at, sandbox, created_at, updated_at)
    SELECT gen_random_uuid(), k.service, k.id, :channel, :recipient, 'Bench', 'Hello from the benchmark',
           'critical', :now, 'immediate', 'scheduled', 0, gen_random_uuid(),
           CASE WHEN :enqueued THEN CAST(:now AS timestamptz) END, false, :now, :now
    FROM api_keys k, generate_series(1, :count)
    WHERE k.id = :api_key_id
    RETURNING id, channel, dispatch_token, deliver_at
""")


def insert_due(count: int, api_key_id: uuid.UUID, *, channel: str = "push",
               recipient: str = "bench-device-token", enqueued: bool) -> int:
    """`count` push notifications due now, in one statement and one commit (the caller's app context).

    Enqueued ones are published after the commit by common.dispatch, as the
    API's are; the others wait for the relay.
    """
    now = datetime.now(timezone.utc)
    rows = db.session.execute(_INSERT, {"channel": channel, "recipient": recipient, "now": now,
                                        "enqueued": enqueued, "count": count,
                                        "api_key_id": api_key_id}).all()
    batch = None
    if enqueued:
        batch = dispatch.register(db.session, [
            dispatch.publication(row.id, row.channel, row.dispatch_token, row.deliver_at, now) for row in rows])
    db.session.commit()
    if batch is not None and batch.published != count:
        raise RuntimeError(f"only {batch.published} of {count} bench tasks were published")
    return len(rows)


def queue_due(count: int, api_key_id: uuid.UUID) -> int:
    """Insert `count` due notifications and publish each after the commit, as the API does."""
    return insert_due(count, api_key_id, enqueued=True)
