"""The `realtime` process: inbox streams (Server-Sent Events) under gunicorn's gevent workers.

Each open stream is a greenlet; psycopg2 is made to yield to the others while
it waits on PostgreSQL (psycogreen), so one slow query holds up no stream.
"""

from __future__ import annotations

from flask import Flask

from api.errors import register_error_handlers
from api.health import views as health
from api.inbox import stream_views
from common.celery_app import celery_init_app
from common.config import Settings, settings as current_settings
from common.db import create_base_app


def _cooperative_postgresql() -> None:
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def create_realtime_app(config: Settings | None = None) -> Flask:
    _cooperative_postgresql()
    config = config or current_settings()
    app = create_base_app(config, name="herald-realtime")
    app.json.sort_keys = False
    register_error_handlers(app)
    celery_init_app(app)  # /ready asks the broker through it
    for blueprint in (health.bp, stream_views.bp):
        app.register_blueprint(blueprint)
    return app
