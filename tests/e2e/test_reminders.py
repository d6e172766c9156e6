"""Reminders with a real push pool and RabbitMQ: sent at their times, moved with the event, cancelled.

The issue's acceptance: a booking with 24 h / 2 h / 1 h reminders is moved by a
day and the reminders move; then it is cancelled and none is sent. A day cannot
be waited for, so the same story is also played with reminders seconds ahead,
whose tasks are already in the broker when the event moves.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from common.db import db
from common.models import Notification, utcnow
from tests.support.broker import queue_counts, queue_depth
from tests.support.factories import events_of, fetch, push_body
from tests.support.waiting import wait_until

ON_TIME = timedelta(seconds=1)  # the acceptance bound for a scheduled delivery
DAY = timedelta(days=1)


def create(client, auth, event_at: datetime, remind_before: list[str], **notification) -> dict:
    body = {"event_at": event_at.isoformat(), "remind_before": remind_before,
            "notification": push_body(**notification)}
    response = client.post("/v1/reminders", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post(client, auth, path: str, **body) -> dict:
    response = client.post(path, json=body or None, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def members(group_id: str) -> list[Notification]:
    db.session.rollback()  # see the workers' commits
    return list(db.session.execute(
        select(Notification).where(Notification.group_id == uuid.UUID(group_id))
        .order_by(Notification.reminder_offset)).scalars())


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - utcnow()).total_seconds()))


def held_by_the_worker() -> bool:
    """Published tasks are no longer ready: the pool took them and holds them until their ETA."""
    return queue_depth("push").messages == 0


def test_reminders_seconds_apart_are_each_delivered_at_their_time(client, auth, push_pool, outbox):
    event = utcnow() + timedelta(seconds=6)

    created = create(client, auth, event, ["4s", "2s"])

    assert [r["remind_before"] for r in created["reminders"]] == ["4s", "2s"]
    ids = [r["id"] for r in created["reminders"]]
    assert all(fetch(n).enqueued_at is not None for n in ids)  # within the horizon: published
    rows = wait_until(lambda: (rs := members(created["group_id"])) and
                      all(r.status == "sent" for r in rs) and rs,
                      timeout=20, message="the reminders were not both sent")
    assert outbox.counts("push") == {n: 1 for n in ids}
    print()
    for row in rows:
        send_at = event + timedelta(seconds=row.reminder_offset)
        claimed = next(e.at for e in events_of(str(row.id)) if e.status == "sending")
        lateness = row.sent_at - send_at
        print(f"[reminder {-row.reminder_offset}s before] due {send_at.isoformat()}: claimed "
              f"+{(claimed - send_at).total_seconds():.3f}s, sent_at +{lateness.total_seconds():.3f}s")
        assert row.send_at == row.deliver_at == send_at
        assert send_at <= claimed <= row.sent_at, "delivered before its time"
        assert lateness < ON_TIME


def test_a_booking_moved_by_a_day_moves_its_reminders_then_cancelled_sends_none(
        client, auth, push_pool, outbox):
    event = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    created = create(client, auth, event, ["24h", "2h", "1h"], reference="booking-d")
    group_id = created["group_id"]
    before = {r.id: (r.deliver_at, r.dispatch_token) for r in members(group_id)}
    assert len(before) == 3
    assert all(r.enqueued_at is None for r in members(group_id))  # days ahead: left to the relay

    moved = post(client, auth, f"/v1/reminders/{group_id}/reschedule",
                 event_at=(event + DAY).isoformat())

    assert [r["status"] for r in moved["reminders"]] == ["scheduled"] * 3
    shifts = []
    for row in members(group_id):
        old_deliver_at, old_token = before[row.id]
        shifts.append((row.deliver_at - old_deliver_at).total_seconds())
        assert row.dispatch_token != old_token
        assert row.deliver_at == event + DAY + timedelta(seconds=row.reminder_offset)
    print(f"\n[d] 24h/2h/1h reminders moved by {shifts} s")
    assert shifts == [86400.0] * 3

    cancelled = post(client, auth, f"/v1/reminders/{group_id}/cancel")

    assert cancelled["cancelled"] == 3
    assert {r.status for r in members(group_id)} == {"cancelled"}
    assert outbox.counts("push") == {}


def test_reminders_already_in_the_broker_go_stale_when_the_event_moves_and_none_is_sent(
        client, auth, push_pool, outbox):
    event = utcnow() + timedelta(seconds=6)
    created = create(client, auth, event, ["4s", "2s"])
    group_id = created["group_id"]
    ids = [r["id"] for r in created["reminders"]]
    first_times = {n: fetch(n).deliver_at for n in ids}
    assert all(fetch(n).enqueued_at is not None for n in ids)
    wait_until(held_by_the_worker, timeout=3, message="the pool did not take the tasks")

    post(client, auth, f"/v1/reminders/{group_id}/reschedule", event_at=(event + DAY).isoformat())

    for row in members(group_id):
        assert row.deliver_at - first_times[str(row.id)] == DAY
        assert (row.status, row.enqueued_at) == ("scheduled", None)  # a day ahead: the relay's
    # Past the first times: the tasks the pool held run, find a newer token, and stop.
    sleep_until(max(first_times.values()) + timedelta(seconds=1))
    stale = [f"push {n}: stale: superseded (scheduled)" for n in ids]
    wait_until(lambda: all(line in push_pool.log() for line in stale), timeout=10,
               message="the superseded tasks did not run")
    assert outbox.counts("push") == {}
    assert {r.status for r in members(group_id)} == {"scheduled"}

    cancelled = post(client, auth, f"/v1/reminders/{group_id}/cancel")

    assert [r["status"] for r in cancelled["reminders"]] == ["cancelled", "cancelled"]
    assert outbox.counts("push") == {}
    for n in ids:
        row = fetch(n)
        assert (row.status, row.attempts, row.sent_at) == ("cancelled", 0, None)
        assert [e.status for e in events_of(n)] == ["scheduled", "scheduled", "cancelled"]
    wait_until(lambda: (c := queue_counts("push")).ready == c.unacked == 0, timeout=15,
               interval=0.2, message="the stale tasks were not acked")
    print(f"\n[moved] {len(stale)} tasks published for "
          f"{', '.join(t.time().isoformat('milliseconds') for t in sorted(first_times.values()))}"
          f" ran stale after a one-day move; outbox empty; all cancelled")


def test_reminders_cancelled_before_their_time_are_never_sent(client, auth, push_pool, outbox):
    event = utcnow() + timedelta(seconds=5)
    created = create(client, auth, event, ["3s", "1s"])
    ids = [r["id"] for r in created["reminders"]]
    wait_until(held_by_the_worker, timeout=2, message="the pool did not take the tasks")

    cancelled = post(client, auth, f"/v1/reminders/{created['group_id']}/cancel")

    assert cancelled["cancelled"] == 2
    assert utcnow() < min(fetch(n).deliver_at for n in ids)  # cancelled in time, as meant
    sleep_until(event)  # past both reminder times
    stale = [f"push {n}: stale: already cancelled" for n in ids]
    wait_until(lambda: all(line in push_pool.log() for line in stale), timeout=10,
               message="the cancelled tasks did not run")
    assert outbox.counts("push") == {}
    assert {fetch(n).status for n in ids} == {"cancelled"}
    print(f"\n[cancelled] 2 reminders due at +2s/+4s: {len(stale)} stale runs, outbox empty")
