"""The Alembic revisions build exactly the schema the models describe, on PostgreSQL and SQLite."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from common.config import settings
from common.db import db
from tests.support.settings import replace


def schema_differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrated_postgresql_schema_matches_the_models(app, database):
    # The `database` fixture has run `flask db upgrade` on this run's database.
    with app.app_context():
        assert schema_differences(db.engine) == []


def test_migrations_run_on_sqlite(tmp_path):
    from flask_migrate import upgrade

    from api import create_app

    app = create_app(replace(settings(), database_url=f"sqlite:///{tmp_path / 'herald.db'}"))
    with app.app_context():
        upgrade()

        tables = set(inspect(db.engine).get_table_names())
        assert {"api_keys", "notifications", "notification_events", "idempotency_keys"} <= tables
        assert schema_differences(db.engine) == []
        db.engine.dispose()
