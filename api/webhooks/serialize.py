"""How webhook endpoints and their messages look in answers."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from api.response_model import ResponseModel, Timestamp, body, iso
from api.webhooks.schema import EventType
from common.webhooks import signing
from common.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage


class WebhookView(ResponseModel):
    id: uuid.UUID
    url: str
    event_types: list[EventType]
    description: str | None
    status: Literal["enabled", "disabled"]
    # Why it is disabled (five days of failures); None while enabled.
    disabled_reason: str | None
    failing_since: Timestamp | None
    created_at: Timestamp | None


class CreatedWebhook(WebhookView):
    secret: str  # shown once, here


class WebhookList(ResponseModel):
    data: list[WebhookView]


class RotatedSecret(ResponseModel):
    id: uuid.UUID
    secret: str
    previous_secret_expires_at: Timestamp | None


class AttemptView(ResponseModel):
    at: Timestamp | None
    status_code: int | None
    latency_ms: int
    response: str | None  # the first bytes of the answer
    error: str | None
    next_attempt_at: Timestamp | None


class MessageView(ResponseModel):
    id: uuid.UUID
    webhook_id: str  # the webhook-id header: the same on every attempt
    event_type: EventType
    notification_id: uuid.UUID
    sequence: int
    status: Literal["pending", "delivered", "failed"]
    payload: dict[str, Any]
    created_at: Timestamp | None
    delivered_at: Timestamp | None
    next_attempt_at: Timestamp | None
    attempts: list[AttemptView]


class MessageList(ResponseModel):
    data: list[MessageView]
    next_cursor: str | None  # pass it back as `cursor` for the next page; None: the last page


class MessageSummary(ResponseModel):
    id: uuid.UUID
    webhook_id: str
    status: Literal["pending", "delivered", "failed"]
    next_attempt_at: Timestamp | None


class Recovered(ResponseModel):
    replayed: int
    more: bool  # more failed messages than one request replays: ask again


def _view(endpoint: WebhookEndpoint) -> dict:
    return dict(id=endpoint.id, url=endpoint.url, event_types=list(endpoint.event_types),
                description=endpoint.description, status=endpoint.status,
                disabled_reason=endpoint.disabled_reason, failing_since=iso(endpoint.failing_since),
                created_at=iso(endpoint.created_at))


def webhook_body(endpoint: WebhookEndpoint) -> dict:
    return body(WebhookView(**_view(endpoint)))


def created_body(endpoint: WebhookEndpoint) -> dict:
    return body(CreatedWebhook(**_view(endpoint), secret=endpoint.secret))


def list_body(endpoints: list[WebhookEndpoint]) -> dict:
    return body(WebhookList(data=[WebhookView(**_view(e)) for e in endpoints]))


def rotated_body(endpoint: WebhookEndpoint) -> dict:
    return body(RotatedSecret(id=endpoint.id, secret=endpoint.secret,
                              previous_secret_expires_at=iso(endpoint.previous_secret_expires_at)))


def _attempt(attempt: WebhookAttempt) -> AttemptView:
    return AttemptView(at=iso(attempt.at), status_code=attempt.status_code,
                       latency_ms=attempt.latency_ms, response=attempt.response_excerpt,
                       error=attempt.error, next_attempt_at=iso(attempt.next_attempt_at))


def messages_body(messages: list[tuple[WebhookMessage, list[WebhookAttempt]]],
                  next_cursor: str | None) -> dict:
    return body(MessageList(data=[MessageView(
        id=m.id, webhook_id=signing.webhook_id(m.id), event_type=m.event_type,
        notification_id=m.notification_id, sequence=m.sequence, status=m.status,
        payload=json.loads(m.payload), created_at=iso(m.created_at),
        delivered_at=iso(m.delivered_at), next_attempt_at=iso(m.next_attempt_at),
        attempts=[_attempt(a) for a in attempts]) for m, attempts in messages],
        next_cursor=next_cursor))


def message_summary(message: WebhookMessage) -> dict:
    return body(MessageSummary(id=message.id, webhook_id=signing.webhook_id(message.id),
                               status=message.status,
                               next_attempt_at=iso(message.next_attempt_at)))


def recovered_body(replayed: int, more: bool) -> dict:
    return body(Recovered(replayed=replayed, more=more))
