"""Periodic jobs on the maintenance queue, scheduled by Celery beat."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from common import topology
from common.models import utcnow
from common.recovery import purge_idempotency_keys, relay_due, sweep_expired_leases
from common.webhooks.relay import relay_messages


@shared_task(name=topology.RELAY_TASK)
def relay() -> int:
    config, now = current_app.config["HERALD_SETTINGS"], utcnow()
    return relay_due(config, now) + relay_messages(config, now)


@shared_task(name=topology.SWEEP_TASK, bind=True)
def sweep(self) -> int:
    config, now = current_app.config["HERALD_SETTINGS"], utcnow()
    recovered = sweep_expired_leases(config, now, worker=self.request.hostname)
    purge_idempotency_keys(config, now)
    return recovered
