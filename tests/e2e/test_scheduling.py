"""Scheduled delivery with real processes: on time, not before; cancelled; held back by the horizon.

The tests run in file order: the first one needs the push queue without a
consumer, so no push pool is started before it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from common.config import settings
from common.models import utcnow
from tests.support.broker import purge, queue_counts, queue_depth
from tests.support.factories import events_of, fetch, push_body
from tests.support.processes import start_beat, start_worker, stop_all
from tests.support.settings import replace
from tests.support.waiting import wait_until

# The acceptance bound for a scheduled delivery: sent within a second of its time.
ON_TIME = timedelta(seconds=1)


def create(client, auth, **fields) -> dict:
    response = client.post("/v1/notifications", json=push_body(**fields), headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def seconds_from_now(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - utcnow()).total_seconds()))


def test_a_notification_due_in_two_hours_is_not_published(client, auth, broker):
    purge("push")
    assert queue_depth("push").consumers == 0, "this check needs the push queue without consumers"

    later = create(client, auth, send_at=seconds_from_now(2 * 3600).isoformat())

    assert queue_depth("push").messages == 0
    row = fetch(later["id"])
    assert (row.status, row.enqueued_at) == ("scheduled", None)

    # The same measurement does see a publish: one due now lands in the queue.
    create(client, auth)
    assert queue_depth("push").messages == 1
    purge("push")


def test_a_scheduled_notification_is_sent_on_time_and_not_before(client, auth, push_pool, outbox):
    send_at = seconds_from_now(5)
    created = create(client, auth, send_at=send_at.isoformat())
    nid = created["id"]
    assert created["schedule_reason"] == "send_at"
    assert fetch(nid).enqueued_at is not None  # within the horizon: the broker holds it

    sleep_until(send_at - timedelta(seconds=0.3))
    looked_at = utcnow()
    assert (fetch(nid).status, outbox.counts("push")) == ("scheduled", {})
    assert looked_at < send_at  # (the look above was in time to mean something)

    row = wait_until(lambda: (r := fetch(nid)).status == "sent" and r, timeout=15,
                     message="not sent within 15 s")
    assert row.send_at == send_at
    [line] = outbox.deliveries("push")
    claimed = next(e.at for e in events_of(nid) if e.status == "sending")
    written = datetime.fromisoformat(line["at"])
    assert send_at <= claimed <= written <= row.sent_at, "delivered before its send_at"
    lateness = row.sent_at - send_at
    print(f"\n[c] send_at {send_at.isoformat()}: claimed +{(claimed - send_at).total_seconds():.3f}s,"
          f" outbox +{(written - send_at).total_seconds():.3f}s,"
          f" sent_at +{lateness.total_seconds():.3f}s")
    assert lateness < ON_TIME


def test_a_notification_cancelled_before_it_is_due_is_never_delivered(
        client, auth, push_pool, outbox):
    due = seconds_from_now(4)
    nid = create(client, auth, send_at=due.isoformat())["id"]
    assert fetch(nid).enqueued_at is not None
    # Published and no longer ready: the worker holds it, unacked, until its ETA.
    wait_until(lambda: queue_depth("push").messages == 0, timeout=3,
               message="the worker did not take the task")

    response = client.post(f"/v1/notifications/{nid}/cancel", headers=auth)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "cancelled"
    assert utcnow() < due  # cancelled before it was due, as the test means

    # The task still runs at its ETA, finds the row cancelled and stops.
    stale = f"push {nid}: stale: already cancelled"
    wait_until(lambda: stale in push_pool.log(), timeout=20, message="the stale task never ran")
    sleep_until(due + timedelta(seconds=1))
    assert outbox.counts("push") == {}
    row = fetch(nid)
    assert (row.status, row.attempts, row.sent_at) == ("cancelled", 0, None)
    assert [e.status for e in events_of(nid)] == ["scheduled", "cancelled"]
    # ... and was acked: the queue has nothing ready and nothing held by a consumer.
    wait_until(lambda: (c := queue_counts("push")).ready == c.unacked == 0, timeout=15,
               interval=0.2, message="the stale task was not acked")


def test_cancelling_a_sent_notification_is_a_conflict(client, auth, push_pool, outbox):
    nid = create(client, auth)["id"]
    wait_until(lambda: fetch(nid).status == "sent", timeout=15)

    response = client.post(f"/v1/notifications/{nid}/cancel", headers=auth)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert fetch(nid).status == "sent"
    assert outbox.counts("push") == {nid: 1}


# Held back by the horizon, published by the relay.

SHORT_HORIZON = timedelta(seconds=3)
RELAY_ENV = {"ETA_HORIZON_SECONDS": "3", "RELAY_INTERVAL_SECONDS": "0.5"}


@pytest.fixture
def relay(app, log_dir):
    """A maintenance worker and beat, relaying every half second with a 3-second horizon."""
    started = []
    try:
        started.append(start_worker("maintenance", log_dir, concurrency=1, env=RELAY_ENV))
        started.append(start_beat(log_dir, env=RELAY_ENV))
        yield started
    finally:
        stop_all(started)



@pytest.fixture(scope="module")
def short_horizon_client(app):
    from api import create_app

    return create_app(replace(settings(), eta_horizon=SHORT_HORIZON)).test_client()


def test_the_relay_publishes_a_notification_when_it_comes_within_the_horizon(
        short_horizon_client, auth, push_pool, relay, outbox):
    send_at = seconds_from_now(6)
    nid = create(short_horizon_client, auth, send_at=send_at.isoformat())["id"]
    created = fetch(nid)
    assert created.enqueued_at is None, "beyond the horizon, the API must not publish it"
    api_token = created.dispatch_token

    row = wait_until(lambda: (r := fetch(nid)).status == "sent" and r, timeout=20,
                     message="not sent within 14 s of its send_at")

    assert row.dispatch_token != api_token  # the relay's publish, not the API's
    assert row.enqueued_at >= row.deliver_at - SHORT_HORIZON, "published before it was within the horizon"
    claimed = next(e.at for e in events_of(nid) if e.status == "sending")
    assert send_at <= claimed <= row.sent_at, "delivered before its send_at"
    assert outbox.counts("push") == {nid: 1}
    lateness = row.sent_at - send_at
    print(f"\n[e] relay published {(row.deliver_at - row.enqueued_at).total_seconds():.3f}s"
          f" before due; claimed +{(claimed - send_at).total_seconds():.3f}s,"
          f" sent_at +{lateness.total_seconds():.3f}s")
    assert lateness < ON_TIME
