"""A webhook message's attempts in the database: the claim before a POST, the outcome after it.

As with a delivery, the task carries the message id and a token, and only the
task holding the current token may claim the row; the claim holds it for a
lease (a worker killed mid-POST leaves it to the relay once that runs out).
An outcome is written only while the claim is still the row's.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from common import dispatch, topology
from common.config import Settings
from common.db import db
from common.webhooks.models import (DELIVERED, DISABLED, FAILED, PENDING, WebhookAttempt,
                                    WebhookEndpoint, WebhookMessage)


@dataclass(frozen=True)
class Claimed:
    """What an attempt needs, read before the database connection is given back."""

    message_id: uuid.UUID
    token: uuid.UUID
    endpoint_id: uuid.UUID
    attempt: int
    payload: str
    url: str
    endpoint_enabled: bool
    secrets: list[str]


@dataclass(frozen=True)
class Answer:
    """What one POST got: a status code, or the error that stopped it (`timeout`, ...)."""

    status_code: int | None
    latency_ms: int
    excerpt: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def outcome(self) -> str:
        """The metrics' label: success, http_<code class>, or the error."""
        if self.status_code is None:
            return self.error or "error"
        return "success" if self.succeeded else f"http_{self.status_code // 100}xx"


def claim(message_id: uuid.UUID, token: uuid.UUID, *, now: datetime,
          lease: timedelta) -> Claimed | None:
    """Take a pending message for one attempt (counted) if `token` is current and unleased."""
    row = db.session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == message_id, WebhookMessage.dispatch_token == token,
               WebhookMessage.status == PENDING,
               or_(WebhookMessage.lease_expires_at.is_(None), WebhookMessage.lease_expires_at < now))
        .values(attempts=WebhookMessage.attempts + 1, lease_expires_at=now + lease)
        .returning(WebhookMessage.endpoint_id, WebhookMessage.attempts, WebhookMessage.payload)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    endpoint = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.id == row.endpoint_id)).scalar_one()
    return Claimed(message_id, token, row.endpoint_id, row.attempts, row.payload, endpoint.url,
                   endpoint.status != DISABLED, signing_secrets(endpoint, now))


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the one it replaced while the rotation's overlap lasts."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def next_wait(attempt: int, schedule: tuple[float, ...]) -> float | None:
    """Seconds until the attempt after `attempt` (1-based), with jitter; None after the last."""
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * random.uniform(0.8, 1.2)


def record(claimed: Claimed, answer: Answer, *, now: datetime, config: Settings) -> str | None:
    """Write the attempt and the message's new state; returns that state (None: claim lost).

    The caller commits, which publishes a retry due within the horizon; a later
    one waits in the database for the relay.
    """
    wait = None if answer.succeeded or not claimed.endpoint_enabled else next_wait(
        claimed.attempt, config.webhook_retry_schedule)
    next_at = None if wait is None else now + timedelta(seconds=wait)
    if answer.succeeded:
        values = dict(status=DELIVERED, delivered_at=now, next_attempt_at=None)
    elif next_at is None:
        values = dict(status=FAILED, next_attempt_at=None)
    else:
        values = dict(next_attempt_at=next_at, dispatch_token=uuid.uuid4(),
                      enqueued_at=dispatch.enqueue_time(next_at, now, config.eta_horizon))
    written = db.session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == claimed.message_id,
               WebhookMessage.dispatch_token == claimed.token, WebhookMessage.status == PENDING)
        .values(lease_expires_at=None, **values)
        .returning(WebhookMessage.status, WebhookMessage.dispatch_token,
                   WebhookMessage.enqueued_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    attempt = WebhookAttempt(message_id=claimed.message_id, at=now, status_code=answer.status_code,
                             latency_ms=answer.latency_ms, response_excerpt=answer.excerpt,
                             error=answer.error, next_attempt_at=next_at)
    if written is None:
        # The claim was lost (its lease ran out) or the endpoint deleted: log the POST if the
        # message is still there, change nothing else.
        if db.session.get(WebhookMessage, claimed.message_id) is not None:
            attempt.next_attempt_at = None
            db.session.add(attempt)
        return None
    db.session.add(attempt)
    if written.status == PENDING and written.enqueued_at is not None:
        dispatch.register(db.session, [dispatch.publication(
            claimed.message_id, topology.WEBHOOKS_QUEUE, written.dispatch_token, next_at, now)])
    if claimed.endpoint_enabled:
        _note_endpoint_health(claimed.endpoint_id, answer.succeeded, now, config)
    return written.status


def _note_endpoint_health(endpoint_id: uuid.UUID, succeeded: bool, now: datetime,
                          config: Settings) -> None:
    """A success ends the failing streak; a streak as long as the limit disables the endpoint.

    Conditional UPDATEs: a healthy endpoint's successes write nothing.
    """
    endpoints = WebhookEndpoint.__table__
    if succeeded:
        db.session.execute(update(endpoints).where(endpoints.c.id == endpoint_id,
                                                   endpoints.c.failing_since.is_not(None))
                           .values(failing_since=None))
        return
    since = db.session.execute(
        update(endpoints).where(endpoints.c.id == endpoint_id)
        .values(failing_since=func.coalesce(endpoints.c.failing_since, now))
        .returning(endpoints.c.failing_since)).scalar_one_or_none()
    if since is not None and now - since >= config.webhook_disable_after:
        reason = (f"disabled: every attempt failed from {since:%Y-%m-%dT%H:%M:%SZ} "
                  f"to {now:%Y-%m-%dT%H:%M:%SZ}")
        db.session.execute(update(endpoints).where(endpoints.c.id == endpoint_id,
                                                   endpoints.c.status != DISABLED)
                           .values(status=DISABLED, disabled_reason=reason, updated_at=now))
