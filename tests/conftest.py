"""Test setup: a private PostgreSQL database, RabbitMQ vhost, Redis key prefix and var/ per run.

Herald reads its settings once from the environment, so this module points
the environment at the private resources before anything imports `common`.
Tests that need PostgreSQL, RabbitMQ or Redis ask for the `database`,
`broker` or `redis` fixture: without the service they are skipped, except
under CI=true, where a missing service is a failure.

At the end of the run every log the run wrote (the processes' files, and the
in-process API's and workers' records in VAR_DIR/logs/pytest.log) is searched
for addresses, keys, tokens and secrets (tests/support/log_scan.py); any
finding fails the run.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.support import log_scan, processes, services

RUN_ID = uuid.uuid4().hex[:10]
VAR_DIR = tempfile.mkdtemp(prefix=f"herald-test-{RUN_ID}-")
DATABASE_NAME = f"herald_test_{RUN_ID}"
VHOST = f"herald_test_{RUN_ID}"

os.environ.update(
    HERALD_VAR_DIR=VAR_DIR,
    DATABASE_URL=services.database_url(DATABASE_NAME),
    BROKER_URL=services.broker_url(VHOST),
    PUBLISH_TIMEOUT_SECONDS="2",
    # The suite's own traffic is not a caller's: budgets it never meets, in
    # memory. tests/api/test_rate_limits.py sets its own, in Redis.
    RATE_LIMIT_WRITES="100000/second",
    RATE_LIMIT_READS="100000/second",
    RATE_LIMIT_KEY_PREFIX=f"herald-test-{RUN_ID}",
    # Callbacks go to local receivers on loopback; production's refusal has its own tests.
    WEBHOOK_ALLOW_PRIVATE_URLS="true",
)

from common.config import settings  # noqa: E402  (after the environment is set)

IN_PROCESS_LOG = Path(VAR_DIR) / "logs" / "pytest.log"


IN_PROCESS_LOG.parent.mkdir(parents=True, exist_ok=True)
_in_process_handler = logging.FileHandler(IN_PROCESS_LOG, encoding="utf-8")
_in_process_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """The in-process API's and workers' records go to a file the scan reads (again after a
    migration's logging setup replaced the root handlers)."""
    root = logging.getLogger()
    if _in_process_handler not in root.handlers:
        root.addHandler(_in_process_handler)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))

log_scan.remember_stored_values()


def _require(service: str, problem: str | None) -> None:
    if problem is None:
        return
    if services.in_ci():
        pytest.fail(f"{service} is required under CI=true: {problem}", pytrace=False)
    pytest.skip(f"{service} not available: {problem}")


@pytest.fixture(scope="session")
def database():
    """A migrated PostgreSQL database for this run, dropped at the end."""
    _require("PostgreSQL", services.postgres_problem())
    services.create_database(DATABASE_NAME)
    services.migrate(os.environ["DATABASE_URL"])
    yield os.environ["DATABASE_URL"]
    services.drop_database(DATABASE_NAME)


@pytest.fixture(scope="session")
def broker():
    """A RabbitMQ vhost for this run, deleted at the end."""
    _require("RabbitMQ", services.rabbitmq_problem())
    services.create_vhost(VHOST)
    yield os.environ["BROKER_URL"]
    services.delete_vhost(VHOST)


@pytest.fixture(scope="session")
def redis():
    """The shared Redis's URL; this run's keys (they hold RATE_LIMIT_KEY_PREFIX) go at the end."""
    _require("Redis", services.redis_problem())
    yield services.redis_url()
    services.delete_redis_keys(os.environ["RATE_LIMIT_KEY_PREFIX"])


@pytest.fixture(scope="session")
def app(database, broker):
    from api import create_app

    return create_app(settings())


@pytest.fixture
def db(app):
    """An app context on a database emptied after the test."""
    from common.db import db as handle

    with app.app_context():
        yield handle
        handle.session.rollback()
        services.truncate_all(handle)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def api_key(db):
    from api.keys.service import create_api_key

    _key, secret = create_api_key("test-service")
    return secret


@pytest.fixture
def auth(api_key):
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def outbox():
    from tests.support.outbox import Outbox

    box = Outbox(settings().outbox_dir)
    box.clear()
    return box


# --- the log scan ------------------------------------------------------------------------------

def pytest_sessionfinish(session, exitstatus):
    _in_process_handler.flush()
    files = {*processes.LOG_FILES, *Path(VAR_DIR).rglob("*.log")}
    findings, read, lines = log_scan.scan(files, log_scan.stored_values | log_scan.configured_secrets())
    session.config.stash[_SCAN] = (findings, read, lines)
    if findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_SCAN = pytest.StashKey[tuple]()


def pytest_terminal_summary(terminalreporter, config):
    if _SCAN not in config.stash:
        return
    findings, read, lines = config.stash[_SCAN]
    terminalreporter.write_sep("-", f"log scan: {read} log files, {lines} lines, "
                                    f"{len(findings)} addresses, keys, tokens or secrets found")
    for finding in findings[:50]:
        terminalreporter.write_line(str(finding))
