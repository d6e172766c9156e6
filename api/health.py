"""Liveness (/health) and readiness (/ready: the database and the broker answer)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from common.celery_app import celery_app
from common.db import db

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    return jsonify(status="ok")


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:
        db.session.rollback()
        return f"unreachable: {type(error).__name__}"


def _check_broker() -> str:
    try:
        with celery_app().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=current_app.config["HERALD_SETTINGS"].publish_timeout)
        return "ok"
    except Exception as error:
        return f"unreachable: {type(error).__name__}"


@bp.get("/ready")
def ready():
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(result == "ok" for result in checks.values())
    return jsonify(status="ready" if healthy else "unavailable", checks=checks), 200 if healthy else 503
