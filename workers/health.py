"""What the workers learn about their providers' credentials, written down for /ready."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from common.db import db
from common.models import ProviderHealth
from workers.providers.base import Provider

log = logging.getLogger(__name__)

# channel -> the problem this process last wrote (None: credentials fine)
_reported: dict[str, str | None] = {}
# One thread writes a change; the pool's other threads see it recorded and skip.
_writing = threading.Lock()


def report_provider_health(channel: str, name: str, provider: Provider, now: datetime) -> None:
    """Record a change in the provider's credential problem; cheap when nothing changed."""
    checker = getattr(provider, "credential_problem", None)
    problem = checker() if checker is not None else None
    if channel in _reported and _reported[channel] == problem:
        return
    with _writing:
        if channel in _reported and _reported[channel] == problem:
            return
        _write(channel, name, problem, now)


def _write(channel: str, name: str, problem: str | None, now: datetime) -> None:
    try:
        db.session.merge(ProviderHealth(channel=channel, provider=name, problem=problem,
                                        updated_at=now))
        db.session.commit()
        _reported[channel] = problem
    except Exception as error:  # telemetry must never fail a delivery
        db.session.rollback()
        log.warning("could not record %s provider health: %s", channel, error)
