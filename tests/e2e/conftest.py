"""Real worker pools, one per channel queue, against the run's PostgreSQL and RabbitMQ."""

from __future__ import annotations

import pytest

from tests.support.broker import purge
from tests.support.processes import start_worker, stop_all


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def pools(app, log_dir):
    """push@, email@ and sms@ pools, each consuming only its own queue."""
    started = {}
    try:
        for channel in ("push", "email", "sms"):
            started[channel] = start_worker(channel, log_dir, concurrency=2)
        yield started
    finally:
        stop_all(started.values())


@pytest.fixture(scope="module")
def push_pool(app, log_dir):
    """A push@ pool alone, on a push queue emptied of tasks whose rows earlier modules dropped."""
    purge("push")
    worker = start_worker("push", log_dir, concurrency=2)
    yield worker
    worker.stop()
