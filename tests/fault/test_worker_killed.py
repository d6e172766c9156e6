"""A push pool's main process killed with SIGKILL mid-run: nothing is lost, few repeat.

With acks_late every message the dead worker held goes back to the queue when
RabbitMQ sees its connection close. A message whose row was already claimed
(`sending`) is stale to the next worker; the sweeper takes such rows back once
their lease runs out and publishes them again. Only a notification caught
between the provider call and the `sent` commit can be delivered twice.
"""

from __future__ import annotations

import signal
import time

from sqlalchemy import func, select

from common.db import db
from common.models import NotificationEvent
from tests.fault.harness import (
    FAST_RECOVERY, Stopwatch, living_members, post_notifications, report, wait_for_sent,
)
from tests.support.factories import push_body, status_counts

TOTAL = 1000
# The push pool as it runs in production: threads, many deliveries in flight
# when the kill lands.
CONCURRENCY = 50
KILL_AFTER_SENT = 150
POOL_ENV = {**FAST_RECOVERY, "WORKER_CONCURRENCY": str(CONCURRENCY)}


def lease_expired_recoveries() -> int:
    db.session.rollback()
    return db.session.execute(
        select(func.count()).select_from(NotificationEvent)
        .where(NotificationEvent.error_code == "lease_expired", NotificationEvent.status == "retrying")
    ).scalar_one()


def ids_recovered_by_sweeper() -> set[str]:
    db.session.rollback()
    return {str(nid) for nid in db.session.execute(
        select(NotificationEvent.notification_id).where(NotificationEvent.error_code == "lease_expired")
    ).scalars()}


def test_sigkill_of_the_push_pool_loses_nothing(client, auth, outbox, fleet, log_dir):
    fleet.worker("maintenance", concurrency=1, env=FAST_RECOVERY)
    fleet.beat(env=FAST_RECOVERY)
    # Everything is queued before the pool starts, so the kill lands mid-drain.
    posting = Stopwatch()
    ids = post_notifications(client, auth, (push_body(f"device-{i}") for i in range(TOTAL)))
    posted_in = posting()

    push = fleet.worker("push", concurrency=CONCURRENCY, env=POOL_ENV)
    wait_for_sent(KILL_AFTER_SENT, timeout=60, interval=0.02)
    push.signal_main(signal.SIGKILL)
    at_kill = status_counts()
    # Celery sets PR_SET_PDEATHSIG=SIGKILL in each pool child, so the kernel
    # kills the children with their parent; without it they would run on as
    # orphans until their current task ended, with nobody to take results or
    # send acks. Give the kernel a moment, count survivors, then make sure.
    time.sleep(0.5)
    orphans = living_members(push.pid)
    push.kill_group()
    push.process.wait()

    restart = Stopwatch()
    fleet.worker("push", concurrency=CONCURRENCY, env=POOL_ENV, log_dir=log_dir / "restarted")
    wait_for_sent(TOTAL, timeout=100)
    restart_to_all_sent = restart()

    counts = status_counts()
    assert counts == {"sent": TOTAL}, f"rows not sent: {counts}"
    delivered = outbox.counts("push")
    assert set(delivered) == set(ids), "an id is missing from the outbox (or a stranger is in it)"
    duplicated = {nid: n for nid, n in delivered.items() if n > 1}
    recovered = ids_recovered_by_sweeper()
    report("SIGKILL of the push pool", posted_in_s=posted_in, sent_at_kill=at_kill.get("sent", 0),
           sending_at_kill=at_kill.get("sending", 0), orphans_after_500ms=len(orphans),
           restart_to_all_sent_s=restart_to_all_sent, duplicates=len(duplicated),
           extra_deliveries=sum(duplicated.values()) - len(duplicated),
           recovered_by_sweeper=lease_expired_recoveries())
    assert at_kill.get("sent", 0) < TOTAL, "the kill came after the drain, not mid-run"
    # The kernel took the pool's children with it: none ran on as an orphan.
    assert orphans == [], f"pool children outlived the killed main process: {orphans}"
    # Only a delivery the kill caught inside a claim can repeat, and the pool
    # held at most CONCURRENCY claims when it died.
    assert set(duplicated) <= recovered, "a duplicate that the sweeper did not cause"
    assert len(duplicated) <= CONCURRENCY + 1, f"too many duplicates: {duplicated}"
    assert len(recovered) <= CONCURRENCY + 1, f"the sweeper took back too much: {len(recovered)}"
