"""The shared PostgreSQL, RabbitMQ and Redis servers: reachability and private namespaces."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import psycopg2
from sqlalchemy import text

PG_HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_POSTGRES_PORT", "5432"))
PG_USER = os.environ.get("TEST_POSTGRES_USER", "postgres")
RABBIT_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("TEST_RABBITMQ_PORT", "5672"))
REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def database_url(name: str, host: str = PG_HOST, port: int = PG_PORT) -> str:
    return f"postgresql+psycopg2://{PG_USER}@{host}:{port}/{name}"


def broker_url(vhost: str, host: str = RABBIT_HOST, port: int = RABBIT_PORT) -> str:
    return f"amqp://guest:guest@{host}:{port}/{vhost}"


def _port_problem(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return None
    except OSError as error:
        return f"nothing answers on {host}:{port} ({error})"


def postgres_problem() -> str | None:
    return _port_problem(PG_HOST, PG_PORT)


def rabbitmq_problem() -> str | None:
    if problem := _port_problem(RABBIT_HOST, RABBIT_PORT):
        return problem
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is needed to create a private vhost"
    return None


def _admin_run(*statements: str) -> None:
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database(name: str) -> None:
    _admin_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    _admin_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str) -> None:
    """Run the Alembic migrations, as `flask db upgrade` does."""
    from flask_migrate import upgrade

    from api import create_app
    from common.config import settings
    from tests.support.settings import replace

    app = create_app(replace(settings(), database_url=url))
    with app.app_context():
        upgrade()


def truncate_all(db) -> None:
    tables = ", ".join(table.name for table in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
    db.session.commit()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost(vhost: str) -> None:
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def delete_vhost(vhost: str) -> None:
    _rabbitmqctl("delete_vhost", vhost)


def redis_url(host: str = REDIS_HOST, port: int = REDIS_PORT) -> str:
    return f"redis://{host}:{port}/0"


def redis_problem() -> str | None:
    if problem := _port_problem(REDIS_HOST, REDIS_PORT):
        return problem
    import redis

    try:
        redis.Redis.from_url(redis_url(), socket_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} does not answer PING ({error})"
    return None


def delete_redis_keys(marker: str) -> int:
    """Delete the keys whose name holds `marker` (a run's own prefix); never the others'."""
    import redis

    client = redis.Redis.from_url(redis_url())
    try:
        names = list(client.scan_iter(match=f"*{marker}*", count=1000))
        return client.delete(*names) if names else 0
    finally:
        client.close()
