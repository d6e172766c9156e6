"""The queue topology and task names: the contract between the API and the workers.

One durable topic exchange, one durable queue per channel bound by the channel's
routing key, and a maintenance queue for the relay and the sweeper. Topic, not
direct, because Celery's native delayed delivery for quorum queues needs it.
"""

from __future__ import annotations

from kombu import Exchange, Queue

EXCHANGE_NAME = "notifications"
CHANNELS = ("push", "email", "sms")
MAINTENANCE_QUEUE = "maintenance"

RELAY_TASK = "herald.maintenance.relay"
SWEEP_TASK = "herald.maintenance.sweep"


def delivery_task_name(channel: str) -> str:
    return f"herald.deliver.{channel}"


def exchange() -> Exchange:
    return Exchange(EXCHANGE_NAME, type="topic", durable=True)


def task_queues(quorum: bool = False) -> tuple[Queue, ...]:
    arguments = {"x-queue-type": "quorum"} if quorum else None
    names = (*CHANNELS, MAINTENANCE_QUEUE)
    return tuple(
        Queue(name, exchange(), routing_key=name, durable=True, queue_arguments=arguments)
        for name in names
    )


def task_routes() -> dict[str, dict[str, str]]:
    """Task name -> queue: every publish lands on its own channel's queue."""
    routes = {delivery_task_name(c): {"queue": c, "routing_key": c} for c in CHANNELS}
    for task in (RELAY_TASK, SWEEP_TASK):
        routes[task] = {"queue": MAINTENANCE_QUEUE, "routing_key": MAINTENANCE_QUEUE}
    return routes
