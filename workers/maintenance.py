"""Periodic jobs on the maintenance queue, scheduled by Celery beat."""

from __future__ import annotations

from common import topology
from common.config import settings
from common.models import utcnow
from common.recovery import purge_idempotency_keys, relay_due, sweep_expired_leases
from workers.app import DatabaseTask, app


@app.task(name=topology.RELAY_TASK, base=DatabaseTask)
def relay() -> int:
    return relay_due(settings(), utcnow())


@app.task(name=topology.SWEEP_TASK, base=DatabaseTask, bind=True)
def sweep(self) -> int:
    now = utcnow()
    recovered = sweep_expired_leases(settings(), now, worker=self.request.hostname)
    purge_idempotency_keys(settings(), now)
    return recovered
