"""The one Celery app: its reliability settings, topology and periodic jobs.

The API uses it only to publish (by task name); the workers list their task
modules in `include`. Nothing here imports the workers. Flask's pattern: the
Celery app is built from the Flask app's settings and kept in its extensions.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery, Task
from flask import Flask, current_app

from common import topology
from common.config import Settings


def _transport_options(config: Settings) -> dict:
    if config.embedded_broker:
        folder = str(config.broker_dir / "queues")
        config.broker_dir.joinpath("queues").mkdir(parents=True, exist_ok=True)
        config.broker_dir.joinpath("control").mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": folder,
            "data_folder_out": folder,
            "control_folder": str(config.broker_dir / "control"),
            "polling_interval": 0.1,
        }
    return {"confirm_publish": True, "confirm_timeout": config.publish_timeout}


def create_celery(config: Settings, include: Sequence[str] = (), task_cls: type | str | None = None
                  ) -> Celery:
    app = Celery("herald", broker=config.broker_url, set_as_current=False, include=list(include),
                 task_cls=task_cls)
    app.conf.update(
        task_queues=topology.task_queues(config.quorum_queues),
        task_routes=topology.task_routes(),
        task_create_missing_queues=False,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        enable_utc=True,
        timezone="UTC",
        # A message is acked only when its task has finished, one at a time,
        # and goes back to the queue if the worker process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Channel pools: many provider calls in flight per process (workers/events.py
        # keeps the threads off the broker connection the event loop reads).
        worker_pool=config.worker_pool,
        worker_concurrency=config.worker_concurrency,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_time_limit=config.provider_timeout * 3 + 30,
        task_soft_time_limit=config.provider_timeout * 3 + 20,
        broker_transport_options=_transport_options(config),
        broker_connection_timeout=config.publish_timeout,
        broker_connection_retry_on_startup=True,
        # Publishing runs inside API requests: fail fast, the relay catches up.
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        # A worker's remote-control queue (Flower's inspect) is exclusive by default:
        # after its RabbitMQ node shuts down, the worker reconnects to another node
        # while the cluster still holds the old one, and dies on RESOURCE_LOCKED.
        # Auto-deleted and shared, it is simply taken over.
        control_queue_exclusive=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule={
            "relay": {
                "task": topology.RELAY_TASK,
                "schedule": config.relay_interval,
                "options": {"expires": config.relay_interval * 5},
            },
            "sweep": {
                "task": topology.SWEEP_TASK,
                "schedule": config.sweep_interval,
                "options": {"expires": config.sweep_interval * 5},
            },
        },
        beat_schedule_filename=str(config.broker_dir.parent / "celerybeat-schedule"),
    )
    return app


def celery_init_app(flask_app: Flask, include: Sequence[str] = ()) -> Celery:
    """Build the Celery app from `flask_app`'s settings and keep it in its extensions.

    Every task runs inside the Flask app's context, so it reads the settings
    (and the database session) of the app it runs in.
    """

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with flask_app.app_context():
                return super().__call__(*args, **kwargs)

    app = create_celery(flask_app.config["HERALD_SETTINGS"], include, FlaskTask)
    flask_app.extensions["celery"] = app
    return app


def celery_app() -> Celery:
    """The Celery app of the Flask app this code runs in."""
    return current_app.extensions["celery"]
