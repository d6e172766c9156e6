"""Liveness (/health) and readiness (/ready: the database and the broker answer; providers)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select, text

from api.responses import iso
from common.celery_app import celery_app
from common.db import db
from common.models import ProviderHealth
from common.topology import CHANNELS

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
            timeout = current_app.config["HERALD_SETTINGS"].publish_timeout
            connection.ensure_connection(max_retries=1, timeout=timeout)
        return "ok"
    except Exception as error:
        return f"unreachable: {type(error).__name__}"


def _providers(config, database_ok: bool) -> dict:
    """Per channel: the provider in use and the last credential problem a worker met."""
    health = {}
    if database_ok:
        try:
            health = {row.channel: row for row in db.session.execute(select(ProviderHealth)).scalars()}
        except Exception:
            db.session.rollback()
    report = {}
    for channel in CHANNELS:
        row = health.get(channel)
        name = config.provider_of(channel)
        known = row is not None and row.provider == name
        report[channel] = {
            "provider": name,
            "problem": row.problem if known else None,
            "reported_at": iso(row.updated_at) if known else None,
        }
    return report


@bp.get("/ready")
def ready():
    config = current_app.config["HERALD_SETTINGS"]
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(result == "ok" for result in checks.values())
    providers = _providers(config, checks["database"] == "ok")
    # A credential problem does not make the API unready (it still accepts and
    # stores notifications), but it must be loud: the status says so.
    degraded = any(p["problem"] for p in providers.values())
    status = "unavailable" if not healthy else "degraded" if degraded else "ready"
    return jsonify(status=status, checks=checks, providers=providers), 200 if healthy else 503
