"""The queue topology and task names: the contract between the API and the workers.

One durable topic exchange, one durable queue per channel bound by the channel's
routing key, and a maintenance queue for the relay and the sweeper. Topic, not
direct, because Celery's native delayed delivery for quorum queues needs it.
Inbox events go to their own topic exchange, `inbox`, each under a key made
from a hash of its service and recipient, so caller text never becomes routing
syntax; each stream replica binds its own queue for the recipients connected to it.
"""

from __future__ import annotations

import hashlib

from kombu import Exchange, Queue

from common import channels

EXCHANGE_NAME = "notifications"
CHANNELS = channels.names()
MAINTENANCE_QUEUE = "maintenance"
# Every queue a pool consumes: one per channel, then the maintenance queue.
QUEUES = (*(c.queue for c in channels.all_channels()), MAINTENANCE_QUEUE)

INBOX_EXCHANGE_NAME = "inbox"
RELAY_TASK = "herald.maintenance.relay"
SWEEP_TASK = "herald.maintenance.sweep"


def delivery_task_name(channel: str) -> str:
    return f"herald.deliver.{channel}"


def exchange() -> Exchange:
    return Exchange(EXCHANGE_NAME, type="topic", durable=True)


def task_queues(quorum: bool = False) -> tuple[Queue, ...]:
    arguments = {"x-queue-type": "quorum"} if quorum else None
    bindings = [(c.queue, c.routing_key) for c in channels.all_channels()]
    bindings.append((MAINTENANCE_QUEUE, MAINTENANCE_QUEUE))
    return tuple(
        Queue(name, exchange(), routing_key=key, durable=True, queue_arguments=arguments)
        for name, key in bindings
    )


def task_routes() -> dict[str, dict[str, str]]:
    """Task name -> queue: every publish lands on its own channel's queue."""
    routes = {delivery_task_name(c.name): {"queue": c.queue, "routing_key": c.routing_key}
              for c in channels.all_channels()}
    for task in (RELAY_TASK, SWEEP_TASK):
        routes[task] = {"queue": MAINTENANCE_QUEUE, "routing_key": MAINTENANCE_QUEUE}
    return routes


def inbox_exchange() -> Exchange:
    # Transient: an event only says "look now"; the database holds the items.
    return Exchange(INBOX_EXCHANGE_NAME, type="topic", durable=False, delivery_mode="transient")


def inbox_routing_key(service: str, recipient: str) -> str:
    """The key of a recipient's inbox events: hex, whatever the caller's ids contain."""
    # The service's length first: no two (service, recipient) pairs spell the same text.
    digest = hashlib.sha256(f"{len(service)}:{service}:{recipient}".encode()).hexdigest()
    return f"inbox.{digest[:40]}"
