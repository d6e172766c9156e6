"""The worker side of the Celery app: built from the settings, its task modules listed in `include`."""

from __future__ import annotations

from celery.signals import (after_setup_logger, after_setup_task_logger, worker_init,
                            worker_process_init, worker_process_shutdown)
from celery.utils.log import get_multiprocessing_logger

from common import logs
from common.celery_app import celery_init_app
from common.config import Settings, settings as settings_from_environment
from common.db import create_base_app, db
from workers import providers

# Task modules, loaded by name when the worker starts: none of them imports this one.
TASK_MODULES = ("workers.delivery", "workers.maintenance")

flask_app = create_base_app(settings_from_environment(), name="herald-worker")
app = celery_init_app(flask_app, include=TASK_MODULES)
app.set_default()  # the app @shared_task binds to, in this process
config: Settings = flask_app.config["HERALD_SETTINGS"]


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs):
    # Pool children must not share the parent's database sockets.
    with flask_app.app_context():
        db.engine.dispose(close=False)


@worker_init.connect
def _check_provider_settings(**_kwargs):
    # Bad vendor settings (an unreadable key file, say) stop the worker here,
    # loudly, instead of failing deliveries one by one.
    providers.check_configuration(config)


@worker_process_shutdown.connect
def _close_providers(**_kwargs):
    providers.close_all()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_format(logger=None, **_kwargs):
    # LOG_FORMAT=json: where Celery writes (stderr, --logfile) stays, each line becomes JSON.
    if config.log_format == "json":
        logs.use_json(logger, get_multiprocessing_logger())
