"""Looking into the run's RabbitMQ vhost: queue depths, the tasks waiting in a queue, purging."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime

from kombu import Connection

from common import topology
from common.config import settings


def _connection() -> Connection:
    return Connection(os.environ["BROKER_URL"], connect_timeout=5)


def _declared(channel, name: str):
    """The topology's queue `name` bound to `channel`, declared as the workers declare it."""
    queue = next(q for q in topology.task_queues(settings().quorum_queues) if q.name == name)
    bound = queue(channel)
    bound.declare()
    return bound


@dataclass(frozen=True)
class Depth:
    messages: int  # ready to deliver (messages held unacked by a consumer are not counted)
    consumers: int


def queue_depth(name: str) -> Depth:
    """Ready messages and consumers of a queue, from a passive queue_declare."""
    with _connection() as connection:
        channel = connection.default_channel
        _declared(channel, name)  # a no-op when it exists; a passive declare of a missing queue fails
        ok = channel.queue_declare(queue=name, passive=True)
        return Depth(messages=ok.message_count, consumers=ok.consumer_count)


@dataclass(frozen=True)
class QueueCounts:
    ready: int
    unacked: int  # delivered to a consumer (e.g. a worker holding an ETA task) and not yet acked
    consumers: int


def queue_counts(name: str) -> QueueCounts:
    """Ready and unacknowledged messages of a queue, as the broker itself counts them.

    A passive declare cannot see messages a worker holds unacked; rabbitmqctl can.
    """
    vhost = _connection().virtual_host
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers",
         "name", "messages_ready", "messages_unacknowledged", "consumers"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    for line in output.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            return QueueCounts(*(int(f) for f in fields[1:4]))
    return QueueCounts(0, 0, 0)


@dataclass(frozen=True)
class PublishedTask:
    task: str
    args: list
    eta: datetime | None


def take_published(name: str) -> list[PublishedTask]:
    """Remove and return every ready task message in a queue (nobody must be consuming it)."""
    taken = []
    with _connection() as connection:
        queue = _declared(connection.default_channel, name)
        while (message := queue.get(no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            eta = message.headers.get("eta")
            taken.append(PublishedTask(message.headers["task"], args,
                                       datetime.fromisoformat(eta) if eta else None))
    return taken


def purge(*names: str) -> None:
    """Drop the ready messages of these queues (leftovers of tests that have finished)."""
    with _connection() as connection:
        channel = connection.default_channel
        for name in names:
            _declared(channel, name).purge()
