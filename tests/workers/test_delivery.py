"""The delivery task's body, `workers.delivery.deliver`, called as a function on real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select, text

from common.lifecycle import claim_for_delivery
from common.models import Notification, utcnow
from tests.support.broker import take_published
from tests.support.factories import events_of, fetch
from tests.support.waiting import wait_until
from workers import delivery
from workers.providers.base import Receipt

WORKER = "push@test-host"


def settings():
    """The settings of the app the test runs in, as a task gets them."""
    return current_app.config["HERALD_SETTINGS"]


def deliver(notification: Notification, token: uuid.UUID | None = None, worker: str = WORKER
            ) -> delivery.Outcome:
    token = notification.dispatch_token if token is None else token
    return delivery.deliver(notification.channel, str(notification.id), str(token), worker,
                            settings())


def test_a_due_row_is_claimed_sent_and_each_step_names_the_worker(db, make_notification, outbox):
    n = make_notification()

    assert deliver(n).kind == "sent"

    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.lease_expires_at) == ("sent", 1, None)
    assert row.provider_message_id == f"sandbox-{n.id}-1"
    assert row.sent_at is not None
    events = events_of(str(n.id))
    assert [(e.status, e.attempt, e.worker) for e in events] == [
        ("sending", 1, WORKER), ("sent", 1, WORKER)]
    assert outbox.counts("push") == {str(n.id): 1}


def test_the_claim_is_committed_with_a_lease_before_the_provider_is_called(
        db, make_notification, monkeypatch):
    n = make_notification()
    seen = {}

    class WatchingProvider:
        """Looks at the row from another connection while the "provider call" is under way."""

        def send(self, request):
            seen["connections held by the task"] = db.engine.pool.checkedout()
            with db.engine.connect() as connection:
                seen["row"] = connection.execute(
                    select(Notification.status, Notification.attempts, Notification.lease_expires_at)
                    .where(Notification.id == n.id)
                ).one()
            seen["attempt"] = request.attempt
            return Receipt(provider_message_id="watched-1")

    monkeypatch.setattr(delivery, "provider_for", lambda channel, config, sandbox=False: WatchingProvider())
    before = utcnow()
    assert deliver(n).kind == "sent"
    after = utcnow()

    assert seen["connections held by the task"] == 0
    status, attempts, lease_expires_at = seen["row"]
    assert (status, attempts, seen["attempt"]) == ("sending", 1, 1)
    lease = settings().sending_lease
    assert before + lease <= lease_expires_at <= after + lease
    assert fetch(str(n.id)).provider_message_id == "watched-1"


def test_a_task_with_a_stale_token_does_nothing(db, make_notification, outbox):
    n = make_notification()

    outcome = deliver(n, token=uuid.uuid4())

    assert (outcome.kind, outcome.reason, outcome.status) == ("stale", "superseded", "scheduled")
    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.dispatch_token) == ("scheduled", 0, n.dispatch_token)
    assert events_of(str(n.id)) == []
    assert outbox.counts("push") == {}


@pytest.mark.parametrize("status", ["cancelled", "sending", "sent", "delivered", "failed"])
def test_a_task_for_a_row_that_is_not_pending_does_nothing(db, make_notification, outbox, status):
    n = make_notification(status=status, attempts=1 if status != "cancelled" else 0)

    outcome = deliver(n)

    assert (outcome.kind, outcome.reason, outcome.status) == ("stale", "finished", status)
    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.updated_at) == (status, n.attempts, n.updated_at)
    assert events_of(str(n.id)) == []
    assert outbox.counts("push") == {}


def test_a_row_not_yet_due_is_not_claimed_and_its_task_waits_for_its_time(
        db, make_notification, outbox, queues):
    deliver_at = utcnow() + timedelta(seconds=60)
    n = make_notification(deliver_at=deliver_at)

    outcome = deliver(n)

    assert (outcome.kind, outcome.next_at, outcome.to_relay) == ("early", deliver_at, False)
    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.lease_expires_at) == ("scheduled", 0, None)
    assert events_of(str(n.id)) == []
    assert outbox.counts("push") == {}
    # The same token again, due at the row's time, so the next arrival can claim it.
    [task] = take_published("push")
    assert (task.task, task.args, task.eta) == (
        "herald.deliver.push", [str(n.id), str(n.dispatch_token)], deliver_at)


def test_an_early_task_for_a_row_beyond_the_horizon_goes_back_to_the_relay(
        db, make_notification, outbox, queues):
    # The broker never holds a long ETA: the relay publishes the row when it comes due.
    n = make_notification(deliver_at=utcnow() + timedelta(hours=2))

    outcome = deliver(n)

    assert (outcome.kind, outcome.next_at, outcome.to_relay) == ("early", n.deliver_at, True)
    row = fetch(str(n.id))
    assert (row.status, row.enqueued_at, row.dispatch_token) == ("scheduled", None, n.dispatch_token)
    assert take_published("push") == []


def test_a_second_claim_with_the_same_token_waits_for_the_first_and_loses(app, db, make_notification):
    n = make_notification()
    lease = settings().sending_lease
    first = claim_for_delivery(n.id, n.dispatch_token, worker="push@first", now=utcnow(), lease=lease)
    assert first is not None  # not committed yet: the row stays locked
    result = {}

    def second_claim():
        with app.app_context():
            claimed = claim_for_delivery(n.id, n.dispatch_token, worker="push@second",
                                         now=utcnow(), lease=lease)
            result["second won"] = claimed is not None
            db.session.commit()

    contender = threading.Thread(target=second_claim)
    contender.start()
    try:
        wait_until(lambda: _sessions_waiting_on_a_lock(db) == 1, timeout=10,
                   message="the second claim never waited for the first one's lock")
    finally:
        db.session.commit()
        contender.join(10)

    assert result == {"second won": False}
    row = fetch(str(n.id))
    assert (row.status, row.attempts) == ("sending", 1)
    assert [(e.status, e.worker) for e in events_of(str(n.id))] == [("sending", "push@first")]


def _sessions_waiting_on_a_lock(db) -> int:
    with db.engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar_one()


def test_two_tasks_racing_with_the_same_token_deliver_once(app, db, make_notification, outbox):
    rows = [make_notification() for _ in range(10)]
    outcomes: dict[uuid.UUID, list[delivery.Outcome]] = {n.id: [] for n in rows}

    def run(n: Notification, barrier: threading.Barrier, worker: str) -> None:
        with app.app_context():
            barrier.wait(5)
            outcomes[n.id].append(delivery.deliver("push", str(n.id), str(n.dispatch_token), worker,
                                                   settings()))

    for n in rows:
        barrier = threading.Barrier(2)
        racers = [threading.Thread(target=run, args=(n, barrier, f"push@racer{i}")) for i in (1, 2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(30)

    for n in rows:
        won, lost = sorted(outcomes[n.id], key=lambda outcome: outcome.kind != "sent")
        assert won.kind == "sent" and (lost.kind, lost.reason) == ("stale", "finished"), outcomes[n.id]
        assert fetch(str(n.id)).attempts == 1
        assert [e.status for e in events_of(str(n.id))] == ["sending", "sent"]
    assert outbox.counts("push") == {str(n.id): 1 for n in rows}


def test_a_transient_failure_schedules_the_next_attempt_under_a_fresh_token(
        db, make_notification, outbox, queues):
    n = make_notification(recipient="herald-fail-transient-1")
    base = settings().retry_base_delay

    before = utcnow()
    outcome = deliver(n)
    after = utcnow()

    assert (outcome.kind, outcome.reason) == ("retrying", "sandbox_unavailable")
    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.error_code) == ("retrying", 1, "sandbox_unavailable")
    assert row.dispatch_token != n.dispatch_token
    assert row.lease_expires_at is None and row.enqueued_at is not None
    # First retry: half the base delay fixed, up to the other half random.
    assert before + timedelta(seconds=base / 2) <= row.deliver_at <= after + timedelta(seconds=base)
    [task] = take_published("push")
    assert (task.args, task.eta) == ([str(n.id), str(row.dispatch_token)], row.deliver_at)
    assert [(e.status, e.error_code) for e in events_of(str(n.id))] == [
        ("sending", None), ("retrying", "sandbox_unavailable")]
    assert outbox.counts("push") == {}
    # The task that failed is now stale: only the new token may claim the row.
    stale = deliver(n, token=n.dispatch_token)
    assert (stale.kind, stale.reason, stale.status) == ("stale", "superseded", "retrying")


def test_a_transient_failure_on_the_last_attempt_fails_for_good(db, make_notification, queues):
    last = settings().max_attempts
    n = make_notification(recipient="herald-fail-transient-99", status="retrying", attempts=last - 1)

    outcome = deliver(n)
    assert (outcome.kind, outcome.reason, outcome.exhausted) == ("failed", "sandbox_unavailable", True)

    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.error_code) == ("failed", last, "sandbox_unavailable")
    assert row.error_message.startswith(f"gave up after {last} attempts")
    assert take_published("push") == []


def test_a_permanent_failure_fails_at_once(db, make_notification, outbox, queues):
    n = make_notification(recipient="herald-fail-permanent")

    outcome = deliver(n)
    assert (outcome.kind, outcome.reason, outcome.exhausted) == ("failed", "sandbox_rejected", False)

    row = fetch(str(n.id))
    assert (row.status, row.attempts, row.error_code) == ("failed", 1, "sandbox_rejected")
    assert [e.status for e in events_of(str(n.id))] == ["sending", "failed"]
    assert outbox.counts("push") == {}
    assert take_published("push") == []
