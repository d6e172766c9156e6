"""Rows falling due together: beat's relay promotes them in chunks, published in bulk, and a
real push pool delivers every notification exactly once.

Real processes: beat, a maintenance worker relaying with small chunks, a push pool on the sandbox.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from common.models import Notification, utcnow
from tests.e2e.test_scheduling import create
from tests.support.broker import purge
from tests.support.factories import fetch
from tests.support.processes import start_beat, start_worker, stop_all
from tests.support.waiting import wait_until

BACKLOG = 120
CHUNK = 25  # so the backlog takes several chunks
RELAY_ENV = {"RELAY_INTERVAL_SECONDS": "0.5", "RELAY_BATCH": str(CHUNK)}
CHUNK_LINE = re.compile(r"relay published (\d+) of (\d+) due notifications")


@pytest.fixture
def start_relaying(app, log_dir):
    """Start a push pool, a maintenance worker relaying in small chunks, and beat; stopped after."""
    started = []

    def start():
        purge("push", "maintenance")
        started.append(start_worker("push", log_dir, concurrency=2))
        started.append(start_worker("maintenance", log_dir, concurrency=1, env=RELAY_ENV))
        started.append(start_beat(log_dir, env=RELAY_ENV))
        return started[1]

    yield start
    stop_all(started)


def test_rows_falling_due_together_are_relayed_in_chunks_and_each_delivered_once(
        client, auth, db, start_relaying, outbox):
    # Critical, so quiet hours never move them, whatever the time of day; due tomorrow, so
    # the API leaves them to the relay; then all due at once, as after a quiet-hours window.
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    ids = [create(client, auth, to=f"device-{i}", priority="critical", send_at=tomorrow)["id"]
           for i in range(BACKLOG)]
    now = utcnow()
    db.session.execute(update(Notification).where(Notification.id.in_([uuid.UUID(i) for i in ids]))
                       .values(deliver_at=now))
    db.session.commit()
    api_tokens = {nid: fetch(nid).dispatch_token for nid in ids}
    assert all(fetch(nid).enqueued_at is None for nid in ids)

    maintenance = start_relaying()
    wait_until(lambda: len(outbox.counts("push")) >= BACKLOG, timeout=60,
               message=f"not all {BACKLOG} relayed notifications were delivered")

    assert outbox.counts("push") == {nid: 1 for nid in ids}
    for nid in ids:
        row = fetch(nid)
        assert row.status == "sent" and row.dispatch_token != api_tokens[nid]
    chunks = [(int(published), int(rows)) for published, rows in CHUNK_LINE.findall(maintenance.log())]
    assert sum(published for published, _rows in chunks) == BACKLOG
    assert len(chunks) >= BACKLOG // CHUNK and all(rows <= CHUNK for _published, rows in chunks)
