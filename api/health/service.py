"""Readiness: whether the database and the broker answer, each queue's depth, each channel's provider.

Only fixed codes and figures come out: check results name an error class, a
provider problem is a code. Whatever a worker wrote about a provider (a user
name, a host, a project) stays in the database and in that worker's log.
"""

from __future__ import annotations

from sqlalchemy import select, text

from api.response_model import iso
from common import channels
from common.celery_app import celery_app
from common.db import db
from common.metrics import QueueDepth, probe_queues
from common.models import ProviderHealth
from common.topology import CHANNELS, QUEUES

UNKNOWN = "unknown"
# Seconds the broker may take to connect and to answer each request. Probes
# have short timeouts of their own (Kubernetes: 1 s by default), and a broker
# slower than this is as good as down for them.
BROKER_CHECK_TIMEOUT = 2.0
# What /ready says of any credential problem a worker reported; its log has the details.
CREDENTIALS_REJECTED = "credentials_rejected"


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


def readiness(config) -> tuple[dict, bool]:
    """(The readiness report, whether the database or the broker is down)."""
    broker, queues = _inspect_broker(min(config.publish_timeout, BROKER_CHECK_TIMEOUT))
    checks = {"database": _check_database(), "broker": broker}
    down = [name for name, result in checks.items() if result != "ok"]
    providers = _providers(config, checks["database"] == "ok")
    # A credential problem does not make the API unready (it still accepts and
    # stores notifications), but it must be loud: the status says so. Queue
    # figures are for scaling and alerts; a backlog does not make the API unready.
    degraded = any(p["problem"] for p in providers.values())
    status = "unavailable" if down else "degraded" if degraded else "ready"
    report = {"status": status, "checks": checks, "down": down, "queues": queues,
              "providers": providers}
    return report, bool(down)
