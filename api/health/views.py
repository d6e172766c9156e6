"""Liveness (/health) and readiness (/ready: the database, the broker and its queues, the providers).

Both answer without an API key, so they show only fixed codes and figures
(see `api.health.service`).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from api.health.serialize import Health, Readiness
from api.health.service import readiness
from api.openapi import Answer, documented
from api.response_model import body

bp = Blueprint("health", __name__)


@bp.get("/health")
@documented(summary="Liveness: the process answers", tag="operations",
            answers={200: Answer("Alive.", Health)})
def health():
    return jsonify(body(Health(status="ok")))


@bp.get("/ready")
@documented(summary="Readiness: the database, the broker and its queues, the providers",
            tag="operations",
            answers={200: Answer("Ready, or degraded (a provider reported a credential problem).",
                                 Readiness),
                     503: Answer("The database or the broker is down: `down` names which.",
                                 Readiness)})
def ready():
    report, down = readiness(current_app.config["HERALD_SETTINGS"])
    return jsonify(body(Readiness(**report))), 503 if down else 200
