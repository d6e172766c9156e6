"""The relay at scale: a run drains chunk after chunk, each its own short transaction,
stops at its time budget or at a failed publish, and relays running side by side share the rows.

Real PostgreSQL and RabbitMQ, with small chunks so that a handful of rows makes several.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from common import dispatch, recovery
from common.dispatch import broker
from common.celery_app import create_celery
from common.confirms import ConfirmedPipe
from common.config import settings
from common.models import utcnow
from common.recovery import Chunk, relay_due, sweep_expired_leases
from tests.common.test_dispatch import free_port
from tests.support.factories import fetch
from tests.support.settings import replace
from tests.workers.test_recovery import CONFIG, MAINTENANCE, minutes, published_by_id

CHUNK = 3


@pytest.fixture
def chunks(monkeypatch):
    """Every chunk the relay runs in this test, in order, as (kind of due rows, Chunk)."""
    seen: list[tuple[str, Chunk]] = []
    real = recovery.relay_chunk

    def recording(config, now, due=recovery._never_enqueued):
        chunk = real(config, now, due)
        seen.append((due.__name__.strip("_"), chunk))
        return chunk

    monkeypatch.setattr(recovery, "relay_chunk", recording)
    return seen


def due_rows(make_notification, count: int, now):
    """`count` rows never enqueued, due a minute apart, the oldest first."""
    return [make_notification(deliver_at=now - minutes(count - i), enqueued_at=None)
            for i in range(count)]


def test_one_run_drains_every_due_row_in_chunks_each_its_own_transaction(
        db, make_notification, queues, chunks):
    now = utcnow()
    rows = due_rows(make_notification, 8, now)

    assert relay_due(replace(CONFIG, relay_batch=CHUNK), now) == 8

    # Lost publishes first (none), then never-enqueued rows oldest first, at most CHUNK at a time.
    assert chunks == [("lost_publishes", Chunk(0, 0)), ("never_enqueued", Chunk(3, 3)),
                      ("never_enqueued", Chunk(3, 3)), ("never_enqueued", Chunk(2, 2))]
    published = published_by_id()
    assert set(published) == {str(n.id) for n in rows}
    for n in rows:
        assert published[str(n.id)][0] == str(fetch(str(n.id)).dispatch_token)


def test_a_chunk_takes_the_oldest_due_rows_first(db, make_notification, queues):
    now = utcnow()
    rows = due_rows(make_notification, 5, now)

    assert recovery.relay_chunk(replace(CONFIG, relay_batch=CHUNK), now) == Chunk(3, 3)

    assert set(published_by_id()) == {str(n.id) for n in rows[:3]}
    assert all(fetch(str(n.id)).enqueued_at is None for n in rows[3:])


def test_a_run_stops_taking_chunks_when_its_time_is_used(db, make_notification, queues, chunks):
    now = utcnow()
    rows = due_rows(make_notification, 8, now)

    # No time at all: the run still finishes the chunk it has started, then stops.
    assert relay_due(replace(CONFIG, relay_batch=CHUNK, relay_run_seconds=0), now) == 3

    assert chunks[-1] == ("never_enqueued", Chunk(3, 3)) and len(chunks) == 2
    assert all(fetch(str(n.id)).enqueued_at is None for n in rows[3:])
    assert relay_due(replace(CONFIG, relay_batch=CHUNK), now) == 5  # the next run goes on


def test_a_chunk_the_broker_refuses_ends_the_run_and_its_rows_wait_for_the_next(
        db, make_notification, queues, chunks, monkeypatch):
    now = utcnow()
    rows = due_rows(make_notification, 7, now)
    unreachable = create_celery(replace(settings(),
                                        broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//"))
    monkeypatch.setattr(broker, "celery_app", lambda: unreachable)
    monkeypatch.setattr(broker, "_PIPE", ConfirmedPipe(lambda: unreachable.connection_for_write(
        transport_options={"confirm_publish": False})))

    assert relay_due(replace(CONFIG, relay_batch=CHUNK), now) == 0

    # One chunk tried, not the same rows again and again until the time is up.
    assert chunks == [("lost_publishes", Chunk(0, 0)), ("never_enqueued", Chunk(3, 0))]
    assert all(fetch(str(n.id)).enqueued_at is None for n in rows)

    monkeypatch.undo()
    assert relay_due(replace(CONFIG, relay_batch=CHUNK), utcnow()) == 7
    published = published_by_id()
    assert published == {str(n.id): (str(fetch(str(n.id)).dispatch_token), None) for n in rows}


def test_a_relay_skips_the_rows_another_relay_holds_and_each_publishes_its_own(
        app, db, make_notification, queues, monkeypatch):
    now = utcnow()
    rows = due_rows(make_notification, 5 * CHUNK, now)
    config = replace(CONFIG, relay_batch=CHUNK)
    holding, release = threading.Event(), threading.Event()
    real_register = dispatch.register

    def register_then_hold(session, publications):
        batch = real_register(session, publications)
        if threading.current_thread().name == "first-relay" and not holding.is_set():
            holding.set()  # its first chunk is locked and stamped, not yet committed
            assert release.wait(timeout=30)
        return batch

    monkeypatch.setattr(dispatch, "register", register_then_hold)
    results = {}

    def first_relay():
        with app.app_context():
            results["first"] = relay_due(config, now)

    first = threading.Thread(target=first_relay, name="first-relay")
    first.start()
    try:
        assert holding.wait(timeout=30)
        second = relay_due(config, now)  # runs while the first holds its chunk
        taken_by_second = published_by_id()
    finally:
        release.set()
        first.join(timeout=30)

    assert (results["first"], second) == (CHUNK, 4 * CHUNK)
    assert set(taken_by_second) == {str(n.id) for n in rows[CHUNK:]}
    taken_by_first = published_by_id()
    assert set(taken_by_first) == {str(n.id) for n in rows[:CHUNK]}
    for n in rows:
        token, _eta = (taken_by_first | taken_by_second)[str(n.id)]
        assert token == str(fetch(str(n.id)).dispatch_token)


def test_relays_running_side_by_side_publish_every_row_exactly_once(
        app, db, make_notification, queues):
    now = utcnow()
    rows = due_rows(make_notification, 60, now)
    config = replace(CONFIG, relay_batch=CHUNK)
    counts: list[int] = []
    start = threading.Barrier(3)

    def relay():
        with app.app_context():
            start.wait(timeout=30)
            counts.append(relay_due(config, now))

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == len(rows) and len(counts) == 3
    published = published_by_id()  # fails on a row published twice
    assert published == {str(n.id): (str(fetch(str(n.id)).dispatch_token), None) for n in rows}


def test_the_sweeper_takes_back_every_expired_claim_in_chunks(db, make_notification, queues):
    now = utcnow()
    stuck = [make_notification(status="sending", attempts=1, enqueued_at=now - minutes(5),
                               lease_expires_at=now - timedelta(seconds=1)) for _ in range(7)]

    assert sweep_expired_leases(replace(CONFIG, relay_batch=CHUNK), now, worker=MAINTENANCE) == 7

    assert {fetch(str(n.id)).status for n in stuck} == {"retrying"}
    assert set(published_by_id()) == {str(n.id) for n in stuck}


def test_the_promotion_query_can_read_only_the_unenqueued_index(db, make_notification):
    """Far-future and already-published rows are not on its way: the partial index excludes
    the published ones, and its due-time bound stops the scan at the horizon."""
    now = utcnow()
    query = recovery.promotion_query(CONFIG, now, recovery._never_enqueued)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
    db.session.rollback()

    assert "ix_notifications_unenqueued_due" in plan
    assert "Index Cond: (deliver_at <=" in plan
