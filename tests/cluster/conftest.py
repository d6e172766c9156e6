"""Herald on a private RabbitMQ cluster and a PostgreSQL primary with a standby: `make test-cluster`.

Slow (each fixture starts servers of its own), so these tests run only when
HERALD_CLUSTER=1 is set, as `make test-cluster` does; plain `make test`
skips them at collection. Under CI=true a missing RabbitMQ or PostgreSQL
binary is a failure, not a skip.
"""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest

from tests.support import services

ENABLED = os.environ.get("HERALD_CLUSTER", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="a cluster test: make test-cluster (HERALD_CLUSTER=1) runs it")
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


def require_binaries(what: str, problem: str | None) -> None:
    if problem is None:
        return
    if services.in_ci():
        pytest.fail(f"{what} is required under CI=true: {problem}", pytrace=False)
    pytest.skip(f"{what} not installed: {problem}")


@pytest.fixture
def log_dir(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


@pytest.fixture
def fleet(database, log_dir):
    """The Herald processes one test runs, all stopped at its end."""
    from tests.fault.harness import Fleet

    started = Fleet(log_dir)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory, database):
    """Three clustered RabbitMQ nodes of the installed server with a vhost for this module."""
    from tests.support.rabbit_cluster import RabbitCluster, rabbitmq_binaries_problem

    require_binaries("RabbitMQ", rabbitmq_binaries_problem())
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbit"), uuid.uuid4().hex[:6])
    try:
        cluster.start()
        cluster.add_vhost("herald")
        yield cluster
    finally:
        cluster.stop()
        cluster.remove()


@pytest.fixture(scope="module")
def cluster_settings(rabbit):
    """The run's settings pointed at every node of the cluster, with quorum queues."""
    from common.config import settings
    from tests.support.settings import replace

    return replace(settings(), broker_url=rabbit.broker_url("herald"), quorum_queues=True)


@pytest.fixture(scope="module")
def cluster_env(cluster_settings):
    """The same, for the worker and beat processes."""
    from tests.fault.harness import FAST_RECOVERY

    return {**FAST_RECOVERY, "BROKER_URL": cluster_settings.broker_url, "QUORUM_QUEUES": "true"}


@pytest.fixture(scope="module")
def cluster_app(cluster_settings):
    """An in-process Herald app publishing to the cluster (the relay, run by the test itself)."""
    from api import create_app
    from common.dispatch import broker

    broker._PIPE.close()  # a confirm channel opened on another broker must not be reused
    yield create_app(cluster_settings)
    broker._PIPE.close()


@pytest.fixture
def cluster_db(cluster_app):
    """An app context on the cluster app; the database emptied after the test."""
    from common.db import db as handle

    with cluster_app.app_context():
        yield handle
        handle.session.rollback()
        services.truncate_all(handle)


@pytest.fixture(params=["synchronous", "asynchronous"])
def standby(request, database):
    """A PostgreSQL primary with a streaming standby (synchronous, then asynchronous), migrated."""
    from tests.support.pg_standby import PrimaryAndStandby, postgres_binaries_problem

    require_binaries("PostgreSQL", postgres_binaries_problem())
    # Not under pytest's temporary folders: the `postgres` account must reach it.
    nodes = PrimaryAndStandby(tempfile.mkdtemp(prefix="herald-pg-"),
                              synchronous=request.param == "synchronous")
    try:
        nodes.start()
        nodes.create_database("herald")
        services.migrate(nodes.url("herald"))
        yield nodes
    finally:
        nodes.stop()
        nodes.remove()


@pytest.fixture
def standby_app(standby):
    from api import create_app
    from common.config import settings
    from tests.support.settings import replace

    return create_app(replace(settings(), database_url=standby.url("herald")))
