"""Publishing many tasks of one commit together (common/confirms.py through common/dispatch/).

Real PostgreSQL and RabbitMQ: each task reaches the queue once, the batch counts what the broker
confirmed, a broken or unreachable broker leaves the rows to the relay, and a connection that died
between batches is replaced.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from common import dispatch
from common.dispatch import broker
from common.celery_app import create_celery
from common.confirms import ConfirmedPipe
from common.config import settings
from common.models import utcnow
from tests.common.test_dispatch import free_port, pending, queue, tasks_in  # noqa: F401 (fixtures)
from tests.support.factories import fetch
from tests.support.settings import replace


def hurry_all(db, rows, now):
    """Due now under fresh tokens, registered as one batch (as a batch create registers them)."""
    from common.models import Notification

    publications = []
    for row in rows:
        token = uuid.uuid4()
        db.session.get(Notification, row.id).dispatch_token = token
        db.session.get(Notification, row.id).enqueued_at = now
        publications.append(dispatch.publication(row.id, "push", token, now, now))
    return dispatch.register(db.session, publications), publications


def test_a_batch_of_tasks_reaches_the_queue_once_each_and_counts_as_confirmed(db, pending, queue):
    rows = [pending() for _ in range(50)]
    batch, publications = hurry_all(db, rows, utcnow())

    db.session.commit()

    assert batch.published == 50
    assert sorted(args for args, _eta in tasks_in(queue)) == sorted(
        [str(p.notification_id), str(p.token)] for p in publications)


def test_an_unreachable_broker_leaves_the_whole_batch_to_the_relay(db, pending, monkeypatch):
    unreachable = create_celery(replace(settings(),
                                        broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//"))
    monkeypatch.setattr(broker, "celery_app", lambda: unreachable)
    monkeypatch.setattr(broker, "_PIPE", ConfirmedPipe(lambda: unreachable.connection_for_write(
        transport_options={"confirm_publish": False})))
    rows = [pending() for _ in range(5)]
    batch, _publications = hurry_all(db, rows, utcnow())

    db.session.commit()  # the commit stands: the rows are the truth

    assert batch.published == 0
    assert [fetch(str(row.id)).enqueued_at for row in rows] == [None] * 5


def test_a_connection_that_died_between_batches_is_replaced(db, pending, queue, monkeypatch):
    pipe = ConfirmedPipe(lambda: broker.celery_app().connection_for_write(
        transport_options={"confirm_publish": False}))
    monkeypatch.setattr(broker, "_PIPE", pipe)
    first, _ = hurry_all(db, [pending(), pending()], utcnow())
    db.session.commit()
    pipe._connection.connection.transport.sock.shutdown(socket.SHUT_RDWR)  # as a broker restart would
    second, publications = hurry_all(db, [pending(), pending()], utcnow())

    db.session.commit()

    assert (first.published, second.published) == (2, 2)
    published = [args for args, _eta in tasks_in(queue)]
    assert all([str(p.notification_id), str(p.token)] in published for p in publications)


@pytest.mark.parametrize("acks, nacks, expected", [
    ([(3, True)], [], [True, True, True, None]),
    ([(1, False), (3, False)], [], [True, None, True, None]),
    ([(1, False)], [(3, True)], [True, False, False, None]),
    ([(2, True)], [(4, False)], [True, True, None, False]),
])
def test_acks_and_nacks_answer_for_the_tags_they_cover(acks, nacks, expected):
    pipe = ConfirmedPipe(connect=None)
    pipe.acked_upto, pipe.acked, pipe.nacked = 0, set(), set()
    for tag, multiple in acks:
        pipe._on_ack(tag, multiple)
    for tag, multiple in nacks:
        pipe._on_nack(tag, multiple)

    assert [pipe._confirmed(tag) for tag in (1, 2, 3, 4)] == expected
