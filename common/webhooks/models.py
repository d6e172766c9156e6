"""The webhook tables: a service's endpoints, the messages made for them, and each attempt."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from common.db import db
from common.models import JSONB, UTCDateTime, utcnow

ENABLED, DISABLED = "enabled", "disabled"  # an endpoint's status
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"  # a message's status


class WebhookEndpoint(db.Model):
    """A URL a service wants status changes posted to, and the secrets that sign them."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(String(500))
    # Kept as given out (whsec_ + base64): a secret must be usable to sign.
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret signs too, until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ENABLED)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The first failed attempt since the last success; None while it answers.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the secrets
        return f"<WebhookEndpoint {self.id} {self.status}>"


class WebhookMessage(db.Model):
    """One status change for one endpoint: its signed body, delivered at least once."""

    __tablename__ = "webhook_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    sequence: Mapped[int] = mapped_column(Integer)
    event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The exact bytes signed and sent, the same on every retry.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # As a notification's: a fresh token at every enqueue, only its task may claim.
    dispatch_token: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhook_messages_endpoint_created", "endpoint_id", "created_at", "id"),
        # The relay's scan: pending messages by due time.
        Index("ix_webhook_messages_pending_due", "next_attempt_at",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )


class WebhookAttempt(db.Model):
    """One POST of a message: when, what came back, how long it took, when the next is due."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer().with_variant(postgresql.BIGINT(), "postgresql"),
                                    primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
