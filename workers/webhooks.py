"""The webhooks pool's task: claim a message, POST it signed, record the attempt.

The task carries the message id and its token; the row is the truth. The
address is vetted again at every attempt, and the POST goes to that address.
"""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from flask import current_app

from common import topology
from common.config import Settings
from common.db import db
from common.models import utcnow
from common.webhooks import attempts, metrics, signing
from common.webhooks.addresses import Refused, resolve
from workers.webhook_sender import post

log = logging.getLogger(__name__)


def send_message(message_id: uuid.UUID, token: uuid.UUID, config: Settings) -> str:
    """One attempt at one message; returns its state afterwards (`stale`: not ours to send)."""
    claimed = attempts.claim(message_id, token, now=utcnow(), lease=config.webhook_lease)
    if claimed is None:
        db.session.rollback()
        return "stale"
    db.session.commit()
    db.session.close()  # no connection held while the receiver answers
    answer = _attempt(claimed, config)
    state = attempts.record(claimed, answer, now=utcnow(), config=config)
    db.session.commit()  # publishes a retry due soon
    metrics.attempt_recorded(answer.outcome)
    if not answer.succeeded:
        log.info("webhook message %s attempt %d: %s", message_id, claimed.attempt, answer.outcome)
    return state or "superseded"


def _attempt(claimed: attempts.Claimed, config: Settings) -> attempts.Answer:
    if not claimed.endpoint_enabled:
        return attempts.Answer(None, 0, error="endpoint_disabled")
    try:
        target = resolve(claimed.url, allow_private=config.webhook_allow_private)
    except Refused:
        return attempts.Answer(None, 0, error="address_refused")
    msg_id = signing.webhook_id(claimed.message_id)
    headers = signing.headers(claimed.secrets, msg_id, utcnow(), claimed.payload)
    return post(target, claimed.payload, headers, timeout=config.webhook_timeout)


@shared_task(name=topology.WEBHOOK_TASK)
def deliver_webhook(message_id: str, token: str) -> str:
    return send_message(uuid.UUID(message_id), uuid.UUID(token),
                        current_app.config["HERALD_SETTINGS"])
