"""The only place that publishes: a delivery task, by name, on its channel's queue, after a commit.

A task carries just the notification id and the dispatch token; the worker
re-reads the row. Whatever issues a token registers the publication on the
session (`publish_after_commit`); it goes to the broker once the transaction
has committed and the connection is back in the pool, and is forgotten if the
transaction rolls back. A failed publish loses nothing: the row is handed back
to the relay, which publishes it again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.utils.nodenames import anon_nodename
from sqlalchemy import event, tuple_, update
from sqlalchemy.orm import Session, scoped_session

from common import topology
from common.celery_app import celery_app
from common.confirms import ConfirmedPipe, PartlyPublished
from common.db import db
from common.models import Notification
from common.scheduling import within_horizon
from common.statuses import PENDING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """One delivery task as it goes to the broker."""

    notification_id: uuid.UUID
    channel: str
    token: uuid.UUID
    eta: datetime | None  # None: due already


def publication(notification_id: uuid.UUID, channel: str, token: uuid.UUID,
                deliver_at: datetime, now: datetime) -> Publication:
    """The task for a delivery due at `deliver_at`; the broker holds it until then."""
    return Publication(notification_id, channel, token, deliver_at if deliver_at > now else None)


def enqueue_time(deliver_at: datetime, now: datetime, horizon: timedelta) -> datetime | None:
    """What a row's `enqueued_at` says: `now` if the commit publishes it, None if the relay will.

    Only what is due within the ETA horizon goes to the broker; anything later
    stays in the database until the relay finds it due.
    """
    return now if within_horizon(deliver_at, now, horizon) else None


def publish_after_commit(notification: Notification, now: datetime) -> None:
    """Publish the row's task after the commit, if the row (as just written) says it is enqueued."""
    if notification.enqueued_at is not None:
        register(db.session, [_task_of(notification, now)])


def republish_after_commit(notification: Notification, now: datetime, horizon: timedelta) -> bool:
    """Publish a task that came early again, under its own token, or leave it to the relay.

    Returns whether it is republished (it is within the horizon).
    """
    if enqueue_time(notification.deliver_at, now, horizon) is None:
        # Too far ahead for the broker to hold: the relay publishes it when it comes due.
        db.session.execute(_hand_back([(notification.id, notification.dispatch_token)]))
        return False
    register(db.session, [_task_of(notification, now)])
    return True


def _task_of(notification: Notification, now: datetime) -> Publication:
    # Read now: the commit expires the row, and after it no SQL may run to reload it.
    return publication(notification.id, notification.channel, notification.dispatch_token,
                       notification.deliver_at, now)


# --- after the commit ---------------------------------------------------------------------------

@dataclass
class Batch:
    """Publications registered together; `published` counts those the broker confirmed.

    None until the transaction has committed; it stays None if it rolled back.
    """

    publications: list[Publication]
    published: int | None = None
    _transaction: object = field(default=None, repr=False)


_PENDING = "herald_dispatch_pending"  # session.info: batches of transactions still open
_COMMITTED = "herald_dispatch_committed"  # session.info: batches to publish once it has ended


def register(session, publications: list[Publication]) -> Batch:
    """Publish these after the session's transaction commits; forget them if it rolls back.

    Inside a savepoint they live or die with it, then with the transaction around it.
    """
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still ends it, and forgets these
    batch = Batch(list(publications),
                  _transaction=session.get_nested_transaction() or session.get_transaction())
    session.info.setdefault(_PENDING, []).append(batch)
    return batch


@event.listens_for(Session, "after_commit")
def _committed(session):
    transaction = session.get_nested_transaction() or session.get_transaction()
    pending = session.info.get(_PENDING, [])
    ours = [batch for batch in pending if batch._transaction is transaction]
    if transaction.nested:  # a savepoint: the transaction around it decides
        for batch in ours:
            batch._transaction = transaction.parent
        return
    session.info[_PENDING] = [batch for batch in pending if batch._transaction is not transaction]
    session.info.setdefault(_COMMITTED, []).extend(ours)


@event.listens_for(Session, "after_transaction_end")
def _ended(session, transaction):
    if _PENDING in session.info:  # what this transaction still holds was rolled back
        session.info[_PENDING] = [batch for batch in session.info[_PENDING]
                                  if batch._transaction is not transaction]
    if transaction.parent is not None:
        return
    session.info.pop(_PENDING, None)
    # The transaction is over and its connection back in the pool: no lock is held
    # while the broker answers.
    batches = session.info.pop(_COMMITTED, [])
    if batches:
        try:
            _publish(session, batches)
        except Exception:  # the rows are committed: the relay publishes them if this failed
            log.exception("publishing after the commit failed")


def _publish(session, batches: list[Batch]) -> None:
    """Publish committed rows; what fails is handed back to the relay.

    A batch of many (a batch create, a relay run) goes out back to back and is
    confirmed together (`_send_together`); a single one is confirmed on its own.

    After one failure on a channel the rest of that channel is not tried this
    time: its queue (or the whole broker) is unavailable, and each attempt can
    wait out a connection timeout.
    """
    failed_channels: set[str] = set()
    unpublished = []
    for batch in batches:
        if len(batch.publications) > 1 and _confirms_on():
            outcome = _send_together(batch.publications)
            batch.published = sum(outcome)
            unpublished.extend(p for p, confirmed in zip(batch.publications, outcome) if not confirmed)
            continue
        batch.published = 0
        for p in batch.publications:
            if p.channel not in failed_channels and _try_publish(p):
                batch.published += 1
                continue
            failed_channels.add(p.channel)
            unpublished.append(p)
    if unpublished:
        _leave_for_relay(session, unpublished)


def _send(p: Publication, producer=None) -> None:
    """Publish one delivery task; raises if the broker did not confirm it.

    With `producer` (a confirm pipe's, whose channel has declared the queues),
    it is sent without waiting, retrying or declaring: the pipe collects the confirm.
    """
    options = {"producer": producer, "retry": False, "declare": []} if producer is not None else {}
    celery_app().send_task(
        topology.delivery_task_name(p.channel),
        args=[str(p.notification_id), str(p.token)],
        queue=p.channel,
        routing_key=p.channel,
        eta=p.eta,
        **options,
    )


def _send_lean(p: Publication, producer) -> None:
    """The task message `_send` makes, without its task-sent event: half the messages of a batch.

    Flower still sees each task when a worker receives it; a relay backlog
    goes out twice as fast. An ETA on quorum queues goes through `_send`
    (Celery's send_task routes it by native delayed delivery).
    """
    app = celery_app()
    if p.eta is not None and _quorum(app, p.channel):
        _send(p, producer)
        return
    name = topology.delivery_task_name(p.channel)
    args = [str(p.notification_id), str(p.token)]
    message = app.amqp.create_task_message(
        str(uuid.uuid4()), name, args, {}, eta=p.eta, create_sent_event=False,
        argsrepr=repr(args), kwargsrepr="{}", origin=_ORIGIN)
    app.amqp.send_task_message(producer, name, message, queue=p.channel, routing_key=p.channel,
                               retry=False, declare=[])


def _quorum(app, queue: str) -> bool:
    return (app.amqp.queues[queue].queue_arguments or {}).get("x-queue-type") == "quorum"


_ORIGIN = anon_nodename()  # what Celery names the publisher: host and process, worked out once


def _confirms_on() -> bool:
    """Whether the broker confirms publishes (RabbitMQ; not the embedded file transport)."""
    return bool(celery_app().conf.broker_transport_options.get("confirm_publish"))


# Many publications of one commit (a batch) go out back to back, confirmed together.
_PIPE = ConfirmedPipe(lambda: celery_app().connection_for_write(
    transport_options={"confirm_publish": False}))


def _pipe_producer(channel):
    """A producer on the pipe's channel, the queues declared on it once (as workers declare them)."""
    app = celery_app()
    for queue in app.amqp.queues.values():
        queue(channel).declare()
    return app.amqp.Producer(channel, auto_declare=False)


def _send_together(publications: list[Publication]) -> list[bool]:
    """Publish them all, then wait once for the confirms; returns which the broker confirmed."""
    try:
        return _PIPE.publish_all(publications, _send_lean, _pipe_producer,
                                 timeout=celery_app().conf.broker_connection_timeout)
    except PartlyPublished as failure:
        log.warning("publishing %d tasks together failed, leaving the unconfirmed to the relay: %s",
                    len(publications), failure)
        return failure.outcome


def _try_publish(p: Publication) -> bool:
    """Publish, or log and report False: the row is committed, the relay will retry."""
    try:
        _send(p)
        return True
    except Exception as exc:  # any broker failure: the database row is the truth
        log.warning("publish of %s failed, leaving it to the relay: %s", p.notification_id, exc)
        return False


def _leave_for_relay(session, publications: list[Publication]) -> None:
    """Mark rows as not enqueued, so the next relay run publishes them.

    Left marked, they would wait out the republish grace (minutes), which also
    covers the case where this write itself fails. Its own short transaction,
    after the one that registered them has ended.
    """
    try:
        session.execute(_hand_back([(p.notification_id, p.token) for p in publications]))
        session.commit()
    except Exception as exc:
        session.rollback()
        log.warning("could not hand %d rows back to the relay: %s", len(publications), exc)


def publish_inbox_event(event: dict) -> bool:
    """Tell the streams to look at one inbox now: after the commit, confirmed, best effort (the
    rows are the truth). None on the embedded broker, whose streams read the database instead."""
    app, exchange = celery_app(), topology.inbox_exchange()
    if app.conf.broker_url.startswith("filesystem"):
        return False  # nothing listens: the event would pile up as an undeliverable file
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(event, exchange=exchange, serializer="json", declare=[exchange],
                             routing_key=topology.inbox_routing_key(event["service"],
                                                                    event["recipient"]),
                             retry=False, timeout=app.conf.broker_connection_timeout)
        return True
    except Exception as exc:  # the broker is down: the streams catch up from the database
        log.warning("publishing an inbox event failed: %s", exc)
        return False


def _hand_back(ids_and_tokens: list[tuple[uuid.UUID, uuid.UUID]]):
    """Not enqueued any more: only rows still pending under that token (a newer enqueue stays)."""
    return (
        update(Notification)
        .where(tuple_(Notification.id, Notification.dispatch_token).in_(ids_and_tokens),
               Notification.status.in_(list(PENDING)))
        .values(enqueued_at=None)
        .execution_options(synchronize_session=False)
    )
