"""Fault-test fixtures: real processes started per test and always stopped, and cut paths.

Each test starts exactly the processes it needs through the `fleet` fixture, so
a test that kills or starves a process cannot leak it into the next one. The
shared PostgreSQL and RabbitMQ are never stopped: a test that needs one to
"fail" routes processes through a `TcpProxy` and takes the proxy down.
"""

from __future__ import annotations

import pytest

from tests.fault.harness import Fleet
from tests.support import services
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def log_dir(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


@pytest.fixture
def fleet(app, log_dir):
    started = Fleet(log_dir)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def broker_proxy(broker):
    """A proxy in front of the shared RabbitMQ, closed after the test."""
    with TcpProxy(services.RABBIT_HOST, services.RABBIT_PORT) as proxy:
        yield proxy


@pytest.fixture
def database_proxy(database):
    """A proxy in front of the shared PostgreSQL, closed after the test."""
    with TcpProxy(services.PG_HOST, services.PG_PORT) as proxy:
        yield proxy
