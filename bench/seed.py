"""Notifications written straight into the database (and published) for the phases that time workers."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import text

from common.db import db
from common.dispatch import Publication, publish_all

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
               recipient: str = "bench-device-token", enqueued: bool) -> list[Publication]:
    """`count` push notifications due now, in one statement and one commit (the caller's app context)."""
    now = datetime.now(timezone.utc)
    rows = db.session.execute(_INSERT, {"channel": channel, "recipient": recipient, "now": now,
                                        "enqueued": enqueued, "count": count,
                                        "api_key_id": api_key_id}).all()
    db.session.commit()
    return [Publication(row.id, row.channel, row.dispatch_token, row.deliver_at) for row in rows]


def queue_due(count: int, api_key_id: uuid.UUID) -> int:
    """Insert `count` due notifications and publish each, as the API does after its commit."""
    publications = insert_due(count, api_key_id, enqueued=True)
    published = publish_all(publications, datetime.now(timezone.utc))
    if published != count:
        raise RuntimeError(f"only {published} of {count} bench tasks were published")
    return published
