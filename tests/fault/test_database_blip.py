"""PostgreSQL unreachable from the workers for a few seconds mid-run: every notification still goes out.

The workers reach PostgreSQL through a proxy (the API, here the in-process
test client, does not: it is not the point). The proxy drops every
connection and refuses new ones for ~3 s while a pool is draining. A task
that meets the outage before its provider call is retried by Celery with the
same id and token; one that meets it after the call keeps trying to record the
outcome. Neither may fail and be acked, which would leave its row to the
relay's republish grace (minutes).
"""

from __future__ import annotations

import os
import time
from collections import Counter

from sqlalchemy import select

from common.db import db
from common.models import NotificationEvent
from tests.fault.harness import (
    FAST_RECOVERY, Stopwatch, post_notifications, report, via_proxy, wait_for_sent,
)
from tests.support.factories import push_body, status_counts

TOTAL = 200
BLIP_AFTER_SENT = 50
BLIP_SECONDS = 3


def error_codes_seen() -> dict[str, int]:
    """Error codes in the events: a blip should leave none (no retry, no lease lost)."""
    db.session.rollback()
    return dict(Counter(db.session.execute(
        select(NotificationEvent.error_code).where(NotificationEvent.error_code.is_not(None))
    ).scalars()))


def test_a_database_blip_under_the_workers_loses_nothing(client, auth, outbox, database_proxy, fleet):
    env = {**FAST_RECOVERY, "DATABASE_URL": via_proxy(os.environ["DATABASE_URL"], database_proxy)}
    fleet.worker("maintenance", concurrency=1, env=env)
    fleet.beat(env=env)
    ids = post_notifications(client, auth, (push_body(f"device-{i}") for i in range(TOTAL)))
    push = fleet.worker("push", concurrency=2, env=env)

    wait_for_sent(BLIP_AFTER_SENT, timeout=60, interval=0.02)
    database_proxy.down()
    at_blip = status_counts()
    time.sleep(BLIP_SECONDS)
    database_proxy.up()
    after_blip = Stopwatch()

    wait_for_sent(TOTAL, timeout=90)
    recovered_in = after_blip()

    assert status_counts() == {"sent": TOTAL}
    delivered = outbox.counts("push")
    assert set(delivered) == set(ids)
    duplicated = {nid: n for nid, n in delivered.items() if n > 1}
    log = push.log()
    task_retries = log.count("database unavailable, trying again in")
    outcome_waits = log.count("database unavailable recording an outcome")
    failed_tasks = log.count("raised unexpected")
    report("database blip", sent_at_blip=at_blip.get("sent", 0), blip_s=BLIP_SECONDS,
           after_blip_to_all_sent_s=recovered_in, task_retries=task_retries,
           outcome_writes_retried=outcome_waits, failed_tasks=failed_tasks,
           duplicates=len(duplicated), error_codes=error_codes_seen(),
           proxy_refused_connections=database_proxy.refused)
    # The pool met the outage either at a claim (a task retry) or while recording
    # an outcome (a write retry); which one depends on where its processes were.
    assert task_retries + outcome_waits > 0, "the blip missed the pool: nothing was tested"
    assert failed_tasks == 0, "a task met the outage and was failed (and acked)"
    assert at_blip.get("sent", 0) < TOTAL, "the blip came after the run, not mid-run"
    # Only a claim whose commit was cut in flight can reach the sweeper (and repeat).
    assert len(duplicated) <= 2, f"too many duplicates: {duplicated}"
    # The outage itself is never recorded as a delivery error: no retry, no failure. The
    # sweeper's lease recovery is the one code allowed, for those cut claims alone.
    codes = error_codes_seen()
    assert set(codes) <= {"lease_expired"} and sum(codes.values()) <= 2, codes
