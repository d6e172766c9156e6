"""What the API does with webhook endpoints: create, list, delete, rotate, and replay messages.

Every endpoint belongs to one service and is seen by that service only. A
change to a service's endpoints is forgotten by this process's cache at once
(`common.webhooks.emission`); other processes see it within the cache's time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, tuple_, update

from api.notifications.cursor import encode_cursor
from api.webhooks.schema import MessageFilters, WebhookRequest
from common import dispatch, topology
from common.config import Settings
from common.db import db
from common.errors import Invalid, NotFound
from common.recovery import fresh_token
from common.webhooks import signing
from common.webhooks.addresses import Refused, resolve
from common.webhooks.emission import LISTENERS
from common.webhooks.models import (ENABLED, FAILED, PENDING, WebhookAttempt, WebhookEndpoint,
                                    WebhookMessage)

MAX_RECOVER = 10_000  # messages one recover request sends again


def create_endpoint(service: str, request: WebhookRequest, config: Settings,
                    now: datetime) -> WebhookEndpoint:
    if not config.webhook_allow_private:
        try:  # the address is checked again at every attempt, against DNS rebinding
            resolve(request.url, allow_private=False)
        except Refused as refusal:
            raise Invalid({"url": str(refusal)}) from None
    endpoint = WebhookEndpoint(id=uuid.uuid4(), service=service, url=request.url,
                               event_types=request.event_types, description=request.description,
                               secret=signing.new_secret(), status=ENABLED, created_at=now,
                               updated_at=now)
    db.session.add(endpoint)
    db.session.commit()
    LISTENERS.forget(service)
    return endpoint


def list_endpoints(service: str) -> list[WebhookEndpoint]:
    return list(db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.service == service)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)).scalars())


def find_endpoint(service: str, endpoint_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                          WebhookEndpoint.service == service)
    endpoint = db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint


def delete_endpoint(service: str, endpoint_id: uuid.UUID) -> None:
    """Gone with its messages; a message in flight finds nothing to claim."""
    db.session.delete(find_endpoint(service, endpoint_id))
    db.session.commit()
    LISTENERS.forget(service)


def rotate_secret(service: str, endpoint_id: uuid.UUID, config: Settings,
                  now: datetime) -> WebhookEndpoint:
    """A new secret signs from now on; the current one also signs until the overlap ends."""
    endpoint = find_endpoint(service, endpoint_id, lock=True)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + config.webhook_secret_overlap
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = now
    db.session.commit()
    return endpoint


def list_messages(service: str, endpoint_id: uuid.UUID, filters: MessageFilters
                  ) -> tuple[list[tuple[WebhookMessage, list[WebhookAttempt]]], str | None]:
    """A page of messages, newest first, each with its attempts in order; and the next cursor."""
    find_endpoint(service, endpoint_id)
    query = select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id)
    if filters.status:
        query = query.where(WebhookMessage.status == filters.status)
    if filters.cursor:
        query = query.where(tuple_(WebhookMessage.created_at, WebhookMessage.id) < filters.cursor)
    rows = list(db.session.execute(
        query.order_by(WebhookMessage.created_at.desc(), WebhookMessage.id.desc())
        .limit(filters.limit + 1)).scalars())
    messages = rows[:filters.limit]
    next_cursor = encode_cursor(messages[-1]) if len(rows) > filters.limit else None
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {m.id: [] for m in messages}
    if messages:
        for attempt in db.session.execute(
                select(WebhookAttempt).where(WebhookAttempt.message_id.in_(list(attempts)))
                .order_by(WebhookAttempt.id)).scalars():
            attempts[attempt.message_id].append(attempt)
    return [(m, attempts[m.id]) for m in messages], next_cursor


def replay_message(service: str, endpoint_id: uuid.UUID, message_id: uuid.UUID,
                   now: datetime) -> WebhookMessage:
    """Send a message again now, under the same webhook-id, whatever became of it."""
    find_endpoint(service, endpoint_id)
    replayed = _send_again([WebhookMessage.endpoint_id == endpoint_id,
                            WebhookMessage.id == message_id], now)
    if not replayed:
        db.session.rollback()
        raise NotFound("no such message for this endpoint")
    db.session.commit()
    return db.session.get(WebhookMessage, message_id)


def recover(service: str, endpoint_id: uuid.UUID, since: datetime, now: datetime) -> tuple[int, bool]:
    """Send again every failed message made since `since`, and enable the endpoint again.

    Returns (how many, whether more remain beyond this request's limit).
    """
    endpoint = find_endpoint(service, endpoint_id, lock=True)
    endpoint.status, endpoint.disabled_reason, endpoint.failing_since = ENABLED, None, None
    endpoint.updated_at = now
    due = [WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.status == FAILED,
           WebhookMessage.created_at >= since]
    ids = db.session.execute(select(WebhookMessage.id).where(*due)
                             .order_by(WebhookMessage.created_at).limit(MAX_RECOVER + 1)
                             ).scalars().all()
    replayed = _send_again([WebhookMessage.id.in_(ids[:MAX_RECOVER])], now) if ids else 0
    db.session.commit()
    LISTENERS.forget(service)
    return replayed, len(ids) > MAX_RECOVER


def _send_again(where: list, now: datetime) -> int:
    """Make the messages pending and due now under fresh tokens, with a whole new schedule of
    attempts; published at the commit."""
    rows = db.session.execute(
        update(WebhookMessage).where(*where)
        .values(status=PENDING, attempts=0, next_attempt_at=now, dispatch_token=fresh_token(),
                enqueued_at=now, lease_expires_at=None, delivered_at=None)
        .returning(WebhookMessage.id, WebhookMessage.dispatch_token)
        .execution_options(synchronize_session=False)).all()
    dispatch.register(db.session, [dispatch.Publication(row.id, topology.WEBHOOKS_QUEUE,
                                                        row.dispatch_token, None) for row in rows])
    return len(rows)
