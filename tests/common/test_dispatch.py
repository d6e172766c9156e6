"""The after-commit door (common/dispatch/): a token's task goes to the broker once its transaction
has committed, never before, never after a rollback, and not at all beyond the ETA horizon.

Real PostgreSQL and RabbitMQ; tokens are issued through `common.lifecycle`, as the API and the
workers issue them, and what reached the broker is read back from the run's queue.
"""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from common import dispatch, lifecycle
from common.dispatch import broker
from common.celery_app import create_celery
from common.confirms import ConfirmedPipe
from common.config import settings
from common.models import Notification, utcnow
from tests.support.broker import purge, take_published
from tests.support.factories import fetch
from tests.support.settings import replace

HORIZON = settings().eta_horizon


@pytest.fixture
def queue(broker):
    """The run's push queue, emptied before and after: nothing consumes it here."""
    purge("push")
    yield "push"
    purge("push")


@pytest.fixture
def pending(db):
    """Insert a committed scheduled push notification, due in a day and so not enqueued.

    Returns a detached snapshot of the row as inserted; read it again with `fetch`.
    """
    from api.keys.service import create_api_key

    key, _secret = create_api_key("test-service")

    def make() -> Notification:
        now = utcnow()
        row = Notification(
            id=uuid.uuid4(), service=key.service, api_key_id=key.id, channel="push",
            recipient="device-token-1", title="Hi", body="Hello", priority="normal",
            deliver_at=now + timedelta(days=1), schedule_reason="send_at", status="scheduled",
            attempts=0, dispatch_token=uuid.uuid4(), enqueued_at=None,
            created_at=now, updated_at=now,
        )
        db.session.add(row)
        db.session.commit()
        db.session.refresh(row)
        db.session.expunge(row)
        return row

    return make


def tasks_in(queue: str) -> list[tuple[list, object]]:
    """(args, eta) of every task waiting in the queue, taking them."""
    return [(task.args, task.eta) for task in take_published(queue)]


def reschedule(row: Notification, deliver_at, now):
    return lifecycle.reschedule(row.id, send_at=deliver_at, deliver_at=deliver_at,
                                reason="send_at", detail={}, quiet_hours=None, timezone=None,
                                horizon=HORIZON, now=now, note="rescheduled by the test")


def free_port() -> int:
    """A port nothing listens on (the OS picked it, and it is closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Abort(Exception):
    pass


def test_a_token_is_published_when_its_transaction_commits_and_not_before(db, pending, queue):
    row = pending()
    hurried = lifecycle.hurry(row.id, now=utcnow())
    token = hurried.dispatch_token
    db.session.flush()
    assert tasks_in(queue) == []

    db.session.commit()

    assert tasks_in(queue) == [([str(row.id), str(token)], None)]
    db.session.commit()
    assert tasks_in(queue) == []  # once


def test_every_token_of_one_commit_is_published(db, pending, queue):
    rows = [pending() for _ in range(3)]
    now = utcnow()
    tokens = {str(row.id): str(lifecycle.hurry(row.id, now=now).dispatch_token) for row in rows}

    db.session.commit()

    assert {args[0]: args[1] for args, _eta in tasks_in(queue)} == tokens


def test_a_rollback_publishes_nothing(db, pending, queue):
    row = pending()
    lifecycle.hurry(row.id, now=utcnow())

    db.session.rollback()
    db.session.commit()  # a later commit does not send what was rolled back

    assert tasks_in(queue) == []
    assert fetch(str(row.id)).dispatch_token == row.dispatch_token


def test_a_rolled_back_savepoint_takes_its_publications_with_it(db, pending, queue):
    kept, dropped = pending(), pending()
    now = utcnow()
    kept_token = lifecycle.hurry(kept.id, now=now).dispatch_token
    with pytest.raises(Abort):
        with db.session.begin_nested():
            lifecycle.hurry(dropped.id, now=now)
            raise Abort

    db.session.commit()

    assert tasks_in(queue) == [([str(kept.id), str(kept_token)], None)]
    assert fetch(str(dropped.id)).enqueued_at is None


def test_a_released_savepoint_publishes_with_the_transaction_around_it(db, pending, queue):
    row = pending()
    with db.session.begin_nested():
        token = lifecycle.hurry(row.id, now=utcnow()).dispatch_token
    assert tasks_in(queue) == []

    db.session.commit()

    assert tasks_in(queue) == [([str(row.id), str(token)], None)]


def test_beyond_the_horizon_the_row_is_left_to_the_relay_and_says_so(db, pending, queue):
    near, far = pending(), pending()
    now = utcnow()
    soon, later = now + HORIZON - timedelta(minutes=1), now + HORIZON + timedelta(minutes=1)
    near_token = reschedule(near, soon, now).dispatch_token
    reschedule(far, later, now)

    db.session.commit()

    assert tasks_in(queue) == [([str(near.id), str(near_token)], soon)]
    assert fetch(str(near.id)).enqueued_at == now
    assert fetch(str(far.id)).enqueued_at is None


def test_the_broker_gets_the_task_once_the_row_is_committed_and_unlocked(
        db, pending, queue, monkeypatch):
    """What a worker does on receipt (claim the row by its token) works the moment the task exists."""
    row = pending()
    real_send = broker.send_lean
    seen = []

    def watching(p, producer, **options):
        with db.engine.connect() as other:  # as a worker would: another connection
            token = other.execute(
                select(Notification.dispatch_token)
                .where(Notification.id == p.notification_id)
                .with_for_update(nowait=True)  # fails at once if the row is still locked
            ).scalar_one()
            other.rollback()
        seen.append((str(token), db.session().in_transaction()))
        return real_send(p, producer, **options)

    monkeypatch.setattr(broker, "send_lean", watching)
    hurried = lifecycle.hurry(row.id, now=utcnow())
    token = str(hurried.dispatch_token)

    db.session.commit()

    assert seen == [(token, False)]
    assert tasks_in(queue) == [([str(row.id), token], None)]


def test_a_publish_the_broker_refuses_hands_the_row_back_to_the_relay(db, pending, monkeypatch):
    refused, other = pending(), pending()
    unreachable = create_celery(replace(settings(),
                                        broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//"))
    monkeypatch.setattr(broker, "celery_app", lambda: unreachable)
    monkeypatch.setattr(broker, "_PIPE", ConfirmedPipe(lambda: unreachable.connection_for_write(
        transport_options={"confirm_publish": False})))
    now = utcnow()
    hurried = lifecycle.hurry(refused.id, now=now)
    token = hurried.dispatch_token
    batch = dispatch.register(db.session, [dispatch.publication(other.id, "push", uuid.uuid4(),
                                                                now, now)])

    db.session.commit()  # the commit stands: the rows are the truth

    row = fetch(str(refused.id))
    assert (row.dispatch_token, row.deliver_at, row.enqueued_at) == (token, now, None)
    assert batch.published == 0


def test_a_batch_counts_what_the_broker_confirmed_and_nothing_when_rolled_back(db, pending, queue):
    row = pending()
    now = utcnow()
    committed = dispatch.register(db.session, [dispatch.publication(row.id, "push", uuid.uuid4(),
                                                                    now, now)])
    assert committed.published is None
    db.session.commit()
    rolled_back = dispatch.register(db.session, [dispatch.publication(row.id, "push", uuid.uuid4(),
                                                                      now, now)])
    db.session.rollback()

    assert (committed.published, rolled_back.published) == (1, None)
    assert len(tasks_in(queue)) == 1


def pipe_counting_publishes(monkeypatch) -> ConfirmedPipe:
    """A fresh pipe of the run's broker in place of the process's, to count what goes through it."""
    pipe = ConfirmedPipe(lambda: broker.celery_app().connection_for_write(
        transport_options={"confirm_publish": False}))
    monkeypatch.setattr(broker, "_PIPE", pipe)
    return pipe


def test_a_single_task_and_its_sent_event_are_confirmed_together_outside_a_task(
        db, pending, queue, monkeypatch):
    pipe = pipe_counting_publishes(monkeypatch)
    row = pending()
    token = lifecycle.hurry(row.id, now=utcnow()).dispatch_token

    db.session.commit()

    assert pipe.published == 2  # the task, then Celery's task-sent event for Flower
    assert tasks_in(queue) == [([str(row.id), str(token)], None)]


def test_inside_a_task_a_single_task_goes_through_celerys_own_producers(
        db, pending, queue, monkeypatch):
    pipe = pipe_counting_publishes(monkeypatch)
    row = pending()
    monkeypatch.setattr(broker, "current_task", object())  # as a worker thread running a task
    token = lifecycle.hurry(row.id, now=utcnow()).dispatch_token

    db.session.commit()

    assert pipe._connection is None  # never opened: a pool's threads do not queue on it
    assert tasks_in(queue) == [([str(row.id), str(token)], None)]
