"""Liveness (/health) and readiness (/ready: the database, the broker and its queues, the providers).

Both answer without an API key, so they show only fixed codes and figures:
check results name an error class, a provider problem is a code. Whatever a
worker wrote about a provider (a user name, a host, a project) stays in the
database and in that worker's log.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select, text

from api.openapi import Answer, documented
from api.responses import ResponseModel, Timestamp, body, iso
from common import channels
from common.celery_app import celery_app
from common.db import db
from common.metrics import QueueDepth, probe_queues
from common.models import ProviderHealth
from common.topology import CHANNELS, QUEUES

bp = Blueprint("health", __name__)

UNKNOWN = "unknown"
# Seconds the broker may take to connect and to answer each request. Probes
# have short timeouts of their own (Kubernetes: 1 s by default), and a broker
# slower than this is as good as down for them.
BROKER_CHECK_TIMEOUT = 2.0
# What /ready says of any credential problem a worker reported; its log has the details.
CREDENTIALS_REJECTED = "credentials_rejected"


class Health(ResponseModel):
    status: Literal["ok"]


class QueueState(ResponseModel):
    messages: int | Literal["unknown"]
    consumers: int | Literal["unknown"]
    problem: str | None = None  # "not declared": no pool has started, nothing was published


class ProviderState(ResponseModel):
    provider: str
    problem: str | None  # the last credential problem a worker met, if any
    reported_at: Timestamp | None


class Readiness(ResponseModel):
    status: Literal["ready", "degraded", "unavailable"]
    # "ok", or "unreachable: <error class>"
    checks: dict[Literal["database", "broker"], str]
    down: list[Literal["database", "broker"]]
    queues: dict[str, QueueState]
    providers: dict[str, ProviderState]


@bp.get("/health")
@documented(summary="Liveness: the process answers", tag="operations",
            answers={200: Answer("Alive.", Health)})
def health():
    return jsonify(body(Health(status="ok")))


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:
        db.session.rollback()
        return f"unreachable: {type(error).__name__}"


def _unknown_queues() -> dict:
    return {name: {"messages": UNKNOWN, "consumers": UNKNOWN} for name in QUEUES}


def _shown(depth: QueueDepth | None) -> dict:
    if depth is None:  # nothing has declared it yet: no pool has started, nothing was published
        return {"messages": UNKNOWN, "consumers": UNKNOWN, "problem": "not declared"}
    # Server-less transports (the embedded filesystem://) do not know who consumes.
    return {"messages": depth.messages,
            "consumers": UNKNOWN if depth.consumers is None else depth.consumers}


def _inspect_broker(timeout: float) -> tuple[str, dict]:
    """Whether the broker answers, and each queue's depth, over one short-lived connection."""
    try:
        depths = probe_queues(celery_app(), QUEUES, timeout)
    except Exception as error:  # refused, reset, timed out, refused login: the broker is not usable
        return f"unreachable: {type(error).__name__}", _unknown_queues()
    return "ok", {name: _shown(depths[name]) for name in QUEUES}


def _providers(config, database_ok: bool) -> dict:
    """Per channel: the provider in use and whether a worker last met a credential problem."""
    health = {}
    if database_ok:
        try:
            health = {row.channel: row for row in db.session.execute(select(ProviderHealth)).scalars()}
        except Exception:
            db.session.rollback()
    report = {}
    for channel in CHANNELS:
        row = health.get(channel)
        name = channels.channel(channel).provider_name(config)
        known = row is not None and row.provider == name
        report[channel] = {
            "provider": name,
            "problem": CREDENTIALS_REJECTED if known and row.problem else None,
            "reported_at": iso(row.updated_at) if known else None,
        }
    return report


@bp.get("/ready")
@documented(summary="Readiness: the database, the broker and its queues, the providers",
            tag="operations",
            answers={200: Answer("Ready, or degraded (a provider reported a credential problem).",
                                 Readiness),
                     503: Answer("The database or the broker is down: `down` names which.",
                                 Readiness)})
def ready():
    config = current_app.config["HERALD_SETTINGS"]
    broker, queues = _inspect_broker(min(config.publish_timeout, BROKER_CHECK_TIMEOUT))
    checks = {"database": _check_database(), "broker": broker}
    down = [name for name, result in checks.items() if result != "ok"]
    providers = _providers(config, checks["database"] == "ok")
    # A credential problem does not make the API unready (it still accepts and
    # stores notifications), but it must be loud: the status says so. Queue
    # figures are for scaling and alerts; a backlog does not make the API unready.
    degraded = any(p["problem"] for p in providers.values())
    status = "unavailable" if down else "degraded" if degraded else "ready"
    readiness = Readiness(status=status, checks=checks, down=down, queues=queues,
                          providers=providers)
    return jsonify(body(readiness)), 503 if down else 200
