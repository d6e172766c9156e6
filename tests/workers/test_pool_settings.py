"""The channel pools' shape comes from the settings: the threads pool, and connection pools sized to it."""

from __future__ import annotations

import importlib

import pytest

from common.config import settings

# The module, not the Celery app the package exports under the same name.
worker_app = importlib.import_module("workers.app")


def test_the_worker_app_runs_threads_at_the_configured_concurrency():
    config = settings()
    assert worker_app.app.conf.worker_pool == config.worker_pool == "threads"
    assert worker_app.app.conf.worker_concurrency == config.worker_concurrency


def test_the_database_pool_has_a_connection_for_every_thread(database):
    options = worker_app.flask_app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] >= settings().worker_concurrency


def test_more_threads_than_the_pools_were_sized_for_refuse_to_start():
    limit = settings().worker_concurrency
    worker_app._check_concurrency(limit)  # as many as the setting: fine
    with pytest.raises(ValueError, match="WORKER_CONCURRENCY"):
        worker_app._check_concurrency(limit + 1)
