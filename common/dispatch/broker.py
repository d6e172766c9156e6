"""The broker side of dispatch: a task message built and sent, one or many confirmed together.

Only `common.dispatch` calls it, after a commit; it knows Celery's message
format, the confirm pipe and quorum queues' delayed delivery, not the rows.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from celery import current_task
from celery.utils.nodenames import anon_nodename

from common import topology
from common.celery_app import celery_app
from common.confirms import ConfirmedPipe, PartlyPublished
from common.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """One delivery task (or callback: channel is the webhooks queue) as it goes to the broker."""

    notification_id: uuid.UUID  # a callback's: its webhook message id
    channel: str
    token: uuid.UUID
    eta: datetime | None  # None: due already


def _send(p: Publication, producer=None) -> None:
    """Publish one delivery task; raises if the broker did not confirm it.

    With `producer` (a confirm pipe's, whose channel has declared the queues),
    it is sent without waiting, retrying or declaring: the pipe collects the confirm.
    """
    options = {"producer": producer, "retry": False, "declare": []} if producer is not None else {}
    app = celery_app()
    when = {"eta": p.eta}
    if p.eta is not None and _quorum(app, p.channel):
        when = {"countdown": _whole_seconds_until(p.eta)}
    app.send_task(
        topology.task_for_queue(p.channel),
        args=[str(p.notification_id), str(p.token)],
        queue=p.channel,
        routing_key=p.channel,
        **when,
        **options,
    )


def _whole_seconds_until(eta: datetime) -> int:
    """Native delayed delivery counts whole seconds, dropping the fraction (a task 1.7 s ahead
    would come 0.7 s early, one 0.5 s ahead is refused): round up, at least one."""
    return max(1, math.ceil((eta - utcnow()).total_seconds()))


def send_lean(p: Publication, producer, sent_event: bool = False) -> None:
    """The task message `_send` makes, built directly (less of Celery's routing around it).

    Without its task-sent event a batch is half the messages: Flower still sees
    each task when a worker receives it. An ETA on quorum queues goes through
    `_send` (Celery's send_task routes it by native delayed delivery).
    """
    app = celery_app()
    if p.eta is not None and _quorum(app, p.channel):
        _send(p, producer)
        return
    name = topology.task_for_queue(p.channel)
    args = [str(p.notification_id), str(p.token)]
    message = app.amqp.create_task_message(
        str(uuid.uuid4()), name, args, {}, eta=p.eta, create_sent_event=sent_event,
        argsrepr=repr(args), kwargsrepr="{}", origin=_ORIGIN)
    app.amqp.send_task_message(producer, name, message, queue=p.channel, routing_key=p.channel,
                               retry=False, declare=[])


def _send_single(p: Publication, producer) -> None:
    """One task as `send_task` would send it, with the task-sent event the settings ask for."""
    send_lean(p, producer, sent_event=celery_app().conf.task_send_sent_event)


def _quorum(app, queue: str) -> bool:
    return (app.amqp.queues[queue].queue_arguments or {}).get("x-queue-type") == "quorum"


_ORIGIN = anon_nodename()  # what Celery names the publisher: host and process, worked out once


def confirms_on() -> bool:
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


def send_together(publications: list[Publication], send) -> list[bool]:
    """Publish them all, then wait once for the confirms; returns which the broker confirmed."""
    try:
        return _PIPE.publish_all(publications, send, _pipe_producer,
                                 timeout=celery_app().conf.broker_connection_timeout)
    except PartlyPublished as failure:
        log.warning("publishing %d tasks together failed, leaving the unconfirmed to the relay: %s",
                    len(publications), failure)
        return failure.outcome


def publish_one(p: Publication) -> bool:
    """A single task with Celery's task-sent event (Flower shows it as sent); outside a
    task the two go through the pipe, confirmed in one wait instead of two."""
    if confirms_on() and not current_task:  # not a worker thread running a task
        return send_together([p], _send_single)[0]
    return _try_publish(p)


def _try_publish(p: Publication) -> bool:
    """Publish, or log and report False: the row is committed, the relay will retry."""
    try:
        _send(p)
        return True
    except Exception as exc:  # any broker failure: the database row is the truth
        log.warning("publish of %s failed, leaving it to the relay: %s", p.notification_id, exc)
        return False
