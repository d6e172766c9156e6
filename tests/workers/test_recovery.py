"""The relay, the sweeper and the idempotency purge, called as functions with explicit settings."""

from __future__ import annotations

from datetime import timedelta

from common.config import settings
from common.models import IdempotencyKey, utcnow
from common.recovery import purge_idempotency_keys, relay_due, sweep_expired_leases
from tests.support.broker import take_published
from tests.support.factories import events_of, fetch
from tests.support.settings import replace
from workers import delivery

CONFIG = replace(
    settings(),
    eta_horizon=timedelta(minutes=10),
    republish_grace=timedelta(minutes=5),
    max_attempts=4,
    sending_lease=timedelta(minutes=2),
    idempotency_ttl=timedelta(hours=24),
    lost_lease_fails=frozenset(),
)
MAINTENANCE = "maintenance@test-host"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def published_by_id(queue: str = "push") -> dict[str, tuple[str, object]]:
    """notification id -> (token, eta) of every task waiting in the queue."""
    published = {}
    for task in take_published(queue):
        notification_id, token = task.args
        assert notification_id not in published, f"{notification_id} published twice"
        published[notification_id] = (token, task.eta)
    return published


def unchanged(before, after) -> bool:
    columns = ("status", "dispatch_token", "enqueued_at", "deliver_at", "attempts", "updated_at")
    return all(getattr(before, c) == getattr(after, c) for c in columns)


# The relay


def test_relay_publishes_due_rows_that_were_never_enqueued(db, make_notification, queues):
    now = utcnow()
    overdue = make_notification(deliver_at=now - minutes(1), enqueued_at=None)
    retry_due = make_notification(status="retrying", attempts=1, deliver_at=now, enqueued_at=None)
    soon = make_notification(channel="email", recipient="ada@example.com",
                             deliver_at=now + minutes(9), enqueued_at=None)

    assert relay_due(CONFIG, now) == 3

    push, email = published_by_id("push"), published_by_id("email")
    for n, queue in ((overdue, push), (retry_due, push), (soon, email)):
        row = fetch(str(n.id))
        assert row.enqueued_at == now and row.status == n.status
        assert row.dispatch_token != n.dispatch_token, "a relay publish must carry a fresh token"
        token, eta = queue[str(n.id)]
        assert token == str(row.dispatch_token)
        # Due rows go out at once; a row due later is held by its ETA.
        assert eta == (n.deliver_at if n.deliver_at > now else None)
    assert set(push) == {str(overdue.id), str(retry_due.id)} and set(email) == {str(soon.id)}


def test_relay_republishes_a_publish_that_was_never_claimed_and_the_old_task_goes_stale(
        db, make_notification, queues):
    now = utcnow()
    lost = make_notification(deliver_at=now - minutes(10), enqueued_at=now - minutes(10))

    assert relay_due(CONFIG, now) == 1

    row = fetch(str(lost.id))
    assert row.enqueued_at == now and row.dispatch_token != lost.dispatch_token
    assert published_by_id() == {str(lost.id): (str(row.dispatch_token), None)}
    # Should the lost task turn up after all, it can no longer claim the row.
    outcome = delivery.deliver("push", str(lost.id), str(lost.dispatch_token), "push@late", CONFIG)
    assert (outcome.kind, outcome.reason, outcome.status) == ("stale", "superseded", "scheduled")
    assert fetch(str(lost.id)).attempts == 0


def test_relay_leaves_alone_what_was_published_within_the_grace_period(
        db, make_notification, queues):
    now = utcnow()
    just_published = make_notification(deliver_at=now - minutes(1), enqueued_at=now - minutes(1))
    # Published long ago with an ETA, but only due a minute ago: the grace runs from the due time.
    held_by_eta = make_notification(deliver_at=now - minutes(1), enqueued_at=now - minutes(9))

    assert relay_due(CONFIG, now) == 0

    for n in (just_published, held_by_eta):
        assert unchanged(n, fetch(str(n.id)))
    assert published_by_id() == {}


def test_relay_leaves_rows_beyond_the_horizon_in_the_database(db, make_notification, queues):
    now = utcnow()
    later = make_notification(deliver_at=now + CONFIG.eta_horizon + minutes(1), enqueued_at=None)
    tomorrow = make_notification(deliver_at=now + timedelta(days=1), enqueued_at=None)

    assert relay_due(CONFIG, now) == 0

    for n in (later, tomorrow):
        row = fetch(str(n.id))
        assert unchanged(n, row) and row.enqueued_at is None
    assert published_by_id() == {}


def test_relay_never_touches_rows_that_are_sending_or_finished(db, make_notification, queues):
    now = utcnow()
    long_ago = now - minutes(60)
    rows = [
        make_notification(status=status, attempts=1, deliver_at=long_ago, enqueued_at=enqueued)
        for status in ("sending", "sent", "delivered", "failed", "cancelled")
        for enqueued in (None, long_ago)
    ]

    assert relay_due(CONFIG, now) == 0

    for n in rows:
        assert unchanged(n, fetch(str(n.id))), n.status
    assert published_by_id() == {}


# The sweeper


def test_sweeper_puts_an_expired_claim_back_to_retrying_under_a_fresh_token(
        db, make_notification, queues):
    now = utcnow()
    stuck = make_notification(status="sending", attempts=1, deliver_at=now - minutes(5),
                              enqueued_at=now - minutes(5), lease_expires_at=now - timedelta(seconds=1))

    assert sweep_expired_leases(CONFIG, now, worker=MAINTENANCE) == 1

    row = fetch(str(stuck.id))
    assert (row.status, row.attempts, row.error_code) == ("retrying", 1, "lease_expired")
    assert row.dispatch_token != stuck.dispatch_token
    assert (row.deliver_at, row.enqueued_at, row.lease_expires_at) == (now, now, None)
    [event] = events_of(str(stuck.id))
    assert (event.status, event.worker, event.error_code) == ("retrying", MAINTENANCE, "lease_expired")
    assert published_by_id() == {str(stuck.id): (str(row.dispatch_token), None)}


def test_sweeper_leaves_claims_whose_lease_is_still_running(db, make_notification, queues):
    now = utcnow()
    busy = make_notification(status="sending", attempts=1, lease_expires_at=now + timedelta(seconds=30))

    assert sweep_expired_leases(CONFIG, now, worker=MAINTENANCE) == 0

    assert unchanged(busy, fetch(str(busy.id)))
    assert events_of(str(busy.id)) == []
    assert published_by_id() == {}


def test_sweeper_fails_an_expired_claim_that_used_the_last_attempt(db, make_notification, queues):
    now = utcnow()
    last = make_notification(status="sending", attempts=CONFIG.max_attempts,
                             lease_expires_at=now - timedelta(seconds=1))

    assert sweep_expired_leases(CONFIG, now, worker=MAINTENANCE) == 1

    row = fetch(str(last.id))
    assert (row.status, row.error_code, row.lease_expires_at) == ("failed", "lease_expired", None)
    assert row.dispatch_token == last.dispatch_token
    assert [e.status for e in events_of(str(last.id))] == ["failed"]
    assert published_by_id() == {}


def test_sweeper_fails_expired_claims_of_channels_that_must_not_repeat(
        db, make_notification, queues):
    now = utcnow()
    config = replace(CONFIG, lost_lease_fails=frozenset({"sms"}))
    expired = now - timedelta(seconds=1)
    sms = make_notification(channel="sms", recipient="+447700900123", status="sending", attempts=1,
                            lease_expires_at=expired)
    push = make_notification(status="sending", attempts=1, lease_expires_at=expired)

    assert sweep_expired_leases(config, now, worker=MAINTENANCE) == 2

    assert (fetch(str(sms.id)).status, fetch(str(sms.id)).error_code) == ("failed", "lease_expired")
    assert fetch(str(push.id)).status == "retrying"
    assert published_by_id("sms") == {}
    assert set(published_by_id("push")) == {str(push.id)}


# Idempotency keys


def test_purge_deletes_only_idempotency_keys_older_than_their_ttl(db, make_notification):
    now = utcnow()
    n = make_notification()
    for key, age in (("expired", timedelta(hours=25)), ("live", timedelta(hours=23)),
                     ("fresh", timedelta(0))):
        db.session.add(IdempotencyKey(service=n.service, key=key, request_hash="0" * 64,
                                      notification_id=n.id, response={}, created_at=now - age))
    db.session.commit()

    assert purge_idempotency_keys(CONFIG, now) == 1

    db.session.rollback()
    assert sorted(k.key for k in db.session.query(IdempotencyKey)) == ["fresh", "live"]
    assert fetch(str(n.id)) is not None
