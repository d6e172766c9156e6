"""The worker side of the Celery app: a database context around every task."""

from __future__ import annotations

from celery import Task
from celery.signals import (after_setup_logger, after_setup_task_logger, worker_init,
                            worker_process_init, worker_process_shutdown)
from celery.utils.log import get_multiprocessing_logger

from common import logs
from common.celery_app import celery_app
from common.config import settings
from common.db import create_base_app, db
from workers import providers

app = celery_app()
flask_app = create_base_app(name="herald-worker")


class DatabaseTask(Task):
    """Runs each task inside its own app context, so its session ends with it."""

    def __call__(self, *args, **kwargs):
        with flask_app.app_context():
            return super().__call__(*args, **kwargs)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs):
    # Pool children must not share the parent's database sockets.
    with flask_app.app_context():
        db.engine.dispose(close=False)


@worker_init.connect
def _check_provider_settings(**_kwargs):
    # Bad vendor settings (an unreadable key file, say) stop the worker here,
    # loudly, instead of failing deliveries one by one.
    providers.check_configuration(settings())


@worker_process_shutdown.connect
def _close_providers(**_kwargs):
    providers.close_all()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_format(logger=None, **_kwargs):
    # LOG_FORMAT=json: where Celery writes (stderr, --logfile) stays, each line becomes JSON.
    if settings().log_format == "json":
        logs.use_json(logger, get_multiprocessing_logger())


# Register the tasks.
from workers import delivery, maintenance  # noqa: E402,F401
