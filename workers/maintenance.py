"""Periodic jobs on the maintenance queue, scheduled by Celery beat; each runs once per period."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from common import topology
from common.maintenance_runs import claim_period
from common.models import utcnow
from common.recovery import purge_idempotency_keys, relay_due, sweep_expired_leases
from common.webhooks.relay import relay_messages

log = logging.getLogger(__name__)


@shared_task(name=topology.RELAY_TASK, bind=True)
def relay(self) -> int | None:
    config, now = current_app.config["HERALD_SETTINGS"], utcnow()
    if not claim_period("relay", config.relay_interval, now, worker=self.request.hostname):
        log.info("relay: this period's run has started elsewhere (a second beat?); skipped")
        return None
    published = relay_due(config, now) + relay_messages(config, now)
    log.info("relay: ran, %d published", published)
    return published


@shared_task(name=topology.SWEEP_TASK, bind=True)
def sweep(self) -> int | None:
    config, now = current_app.config["HERALD_SETTINGS"], utcnow()
    if not claim_period("sweep", config.sweep_interval, now, worker=self.request.hostname):
        log.info("sweep: this period's run has started elsewhere (a second beat?); skipped")
        return None
    recovered = sweep_expired_leases(config, now, worker=self.request.hostname)
    purge_idempotency_keys(config, now)
    log.info("sweep: ran, %d recovered", recovered)
    return recovered
