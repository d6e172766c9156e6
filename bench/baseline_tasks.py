"""The bare Celery baseline: a no-op task on one queue, with Herald's delivery guarantees and nothing else."""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "bench_baseline"
NOOP_TASK = "bench.noop"

app = Celery("bench-baseline", broker=os.environ.get("BROKER_URL"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    # The settings the drain comparison holds equal: ack after the task, one
    # message at a time per process.
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
)


@app.task(name=NOOP_TASK)
def noop(*_args) -> None:
    return None


def publish(row_id: str) -> None:
    """One persistent message, returning once the broker has confirmed it."""
    app.send_task(NOOP_TASK, args=[row_id], queue=QUEUE, routing_key=QUEUE)
