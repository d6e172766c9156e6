"""The worker side of the Celery app: built from the settings, its task modules listed in `include`."""

from __future__ import annotations

import logging

from celery.signals import (after_setup_logger, after_setup_task_logger, worker_init,
                            worker_process_init, worker_process_shutdown, worker_shutdown)
from celery.utils.log import get_multiprocessing_logger

from common import logs
from common.celery_app import celery_init_app
from common.config import Settings, settings as settings_from_environment
from common.db import create_base_app, db
from workers import providers

# Task modules, loaded by name when the worker starts: none of them imports this one.
TASK_MODULES = ("workers.delivery", "workers.maintenance", "workers.webhooks")

_settings = settings_from_environment()
flask_app = create_base_app(_settings, name="herald-worker", connections=_settings.worker_concurrency)
app = celery_init_app(flask_app, include=TASK_MODULES)
# Task events leave from the event loop's thread only (see workers/events.py).
app.events_cls = "workers.events:WorkerEvents"
app.conf.worker_consumer = "workers.delayed_delivery:Consumer"
app.set_default()  # the app @shared_task binds to, in this process
config: Settings = flask_app.config["HERALD_SETTINGS"]


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs):
    # Pool children must not share the parent's database sockets.
    with flask_app.app_context():
        db.engine.dispose(close=False)


@worker_init.connect
def _check_provider_settings(sender=None, **_kwargs):
    # Bad vendor settings (an unreadable key file, say) stop the worker here,
    # loudly, instead of failing deliveries one by one.
    providers.check_configuration(config)
    _check_concurrency(getattr(sender, "concurrency", None))


def _check_concurrency(concurrency) -> None:
    # The database and HTTP connection pools were sized from the setting:
    # more threads than that would queue for connections inside a delivery.
    if isinstance(concurrency, int) and concurrency > config.worker_concurrency:
        raise ValueError(f"--concurrency {concurrency} is more than WORKER_CONCURRENCY="
                         f"{config.worker_concurrency}, which sizes the connection pools: "
                         "set WORKER_CONCURRENCY instead")


@worker_init.connect
def _declare_every_queue(**_kwargs):
    # Celery's native delayed delivery (quorum queues) binds every queue of the
    # topology to its delay exchanges when a worker starts, and gives up on all
    # of them if one is missing: a push pool must not depend on an email pool
    # having started first.
    if config.quorum_queues:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=30)
            for queue in app.amqp.queues.values():
                queue(connection.default_channel).declare()


@worker_process_shutdown.connect  # a prefork child
@worker_shutdown.connect  # the threads pool's one process
def _close_providers(**_kwargs):
    providers.close_all()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_format(logger=None, **_kwargs):
    # LOG_FORMAT=json: where Celery writes (stderr, --logfile) stays, each line becomes JSON.
    if config.log_format == "json":
        logs.use_json(logger, get_multiprocessing_logger())
    # A delivery's own line says what became of it; Celery's "received" and
    # "succeeded" lines for every task would triple the logging on the hot path.
    # Its warnings and errors (a task that raised) still come through.
    for name in CELERY_PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


CELERY_PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")
