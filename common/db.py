"""The one Flask-SQLAlchemy handle, and the Flask app that carries it for any process."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase

from common.config import Settings
from common.redaction import redact_every_log_record


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def _engine_options(url: str, connections: int | None) -> dict:
    # Bound values are addresses, tokens and caller text: an error message must not repeat them.
    hidden = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # Several processes share the embedded database: wait for the lock
        # instead of failing at once.
        return {**hidden, "connect_args": {"timeout": 30}}
    # A silent database must fail a request or a readiness check in seconds, not hang it.
    options = {**hidden, "pool_pre_ping": True, "pool_size": 5, "max_overflow": 10,
               "connect_args": {"connect_timeout": 5}}
    if connections:
        # A worker pool: each thread holds a connection around a provider call's
        # claim and outcome, one each, so none waits for another's. No ping per
        # checkout (a round trip, twice per delivery): a connection that died
        # fails its statement, SQLAlchemy then drops the whole pool, and the
        # delivery code tries again (workers/delivery.py, DATABASE_UNAVAILABLE).
        options.update(pool_size=max(5, connections), pool_pre_ping=False)
    return options


# SQLSTATE 25006: a write reached a node that is (again) a read-only standby.
_READ_ONLY_TRANSACTION = "25006"


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says there is no writable database right now (a failover, a restart).

    SQLAlchemy has then dropped the broken connection (and its pool), so the
    next attempt connects afresh, to whichever node of DATABASE_URL accepts writes.
    """
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and (
        error.connection_invalidated
        or getattr(error.orig, "pgcode", None) == _READ_ONLY_TRANSACTION)


def _tune_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def create_base_app(config: Settings, name: str = "herald", connections: int | None = None) -> Flask:
    """A Flask app bound to the database and to `config`: the API builds on it, workers use it.

    `connections`: how many threads of this process may use the database at once.
    """
    # Every process that touches the database builds this app first: from here
    # on, no log line it writes carries an address, a key or a row's values.
    redact_every_log_record()
    app = Flask(name)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(config.database_url, connections),
        HERALD_SETTINGS=config,
    )
    if config.database_url.startswith("sqlite"):
        path = config.database_url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    if config.database_url.startswith("sqlite"):
        with app.app_context():
            _tune_sqlite(db.engine)
    return app
