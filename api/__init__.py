"""Herald's HTTP API: a thin Flask layer over `common`."""

from __future__ import annotations

from flask import Flask
from flask_migrate import Migrate

from api import docs, openapi_document
from api.notifications import batch_views as batch
from api.body_limit import refuse_oversized_body
from api.browser import views as browser
from api.errors import register_error_handlers
from api.health import views as health
from api.inbox import token_views as inbox_tokens
from api.inbox import views as inbox
from api.keys import commands as keys
from api.metrics import views as metrics
from api.notifications import views as notifications
from api.rate_limits import init_rate_limits
from api.receipts import views as receipts
from api.recipients import views as recipients
from api.reminders import views as reminders
from api.templates import views as templates
from api.service_settings import views as service_settings
from api.webhooks import views as webhooks
from common import maintenance_runs  # noqa: F401  (its table, for `flask db` and the metadata)
from common.celery_app import celery_init_app
from common.config import PROJECT_ROOT, Settings, settings as current_settings
from common.db import create_base_app, db


def create_app(config: Settings | None = None) -> Flask:
    config = config or current_settings()
    app = create_base_app(config, name="herald-api")
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json.sort_keys = False
    Migrate(app, db, directory=str(PROJECT_ROOT / "migrations"))
    register_error_handlers(app)
    app.before_request(refuse_oversized_body)
    init_rate_limits(app, config)
    celery_init_app(app)  # publishing uses the Celery app built from these settings
    for blueprint in (health.bp, metrics.bp, notifications.bp, recipients.bp, reminders.bp,
                      receipts.bp, service_settings.bp, keys.bp, openapi_document.bp, docs.bp,
                      batch.bp, templates.bp, webhooks.bp, inbox_tokens.bp, inbox.bp, browser.bp):
        app.register_blueprint(blueprint)
    return app
