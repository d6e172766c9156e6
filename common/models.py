"""The tables: API keys, notifications, their append-only events, idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false, text)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from common.db import db
from common.statuses import PENDING, Status

JSONB = JSON().with_variant(postgresql.JSONB(), "postgresql")
# The relay's partial index, spelled from the statuses (in their declared order, so the DDL is stable).
PENDING_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in Status if s in PENDING))
# Pending and never published: what the relay promotes when it comes within the horizon.
UNENQUEUED_SQL = f"{PENDING_SQL} AND enqueued_at IS NULL"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100))
    # sha256 of the secret: keys are long random strings, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8), default="live")  # live | test
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # This key's own request budgets ("100/second;3000/minute"); None: the settings' default.
    write_rate_limit: Mapped[str | None] = mapped_column(String(100))
    read_rate_limit: Mapped[str | None] = mapped_column(String(100))


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id"))
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(255))  # push title or email subject
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONB)
    options: Mapped[dict | None] = mapped_column(JSONB)  # push: ttl_seconds, collapse_key
    # Rendered from this template version in this locale (the text above is what was sent).
    template_key: Mapped[str | None] = mapped_column(String(100))
    template_version: Mapped[int | None] = mapped_column(Integer)
    locale: Mapped[str | None] = mapped_column(String(35))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    timezone: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(255))
    # Created with a test key: always delivered through the sandbox.
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Addressed by the caller's recipient id (its external id), not by a raw address.
    recipient_ref: Mapped[str | None] = mapped_column(String(255))
    # A device fan-out or a set of reminders this notification belongs to.
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_groups.id", name="fk_notifications_group_id"), index=True)
    reminder_offset: Mapped[int | None] = mapped_column(Integer)  # seconds from the event
    # The quiet hours in force, {"start", "end", "source"}; None: no window applies.
    quiet_hours: Mapped[dict | None] = mapped_column(JSONB)
    # Why deliver_at is what it is: requested time, local times, window, spread.
    schedule_detail: Mapped[dict | None] = mapped_column(JSONB)

    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime)
    schedule_reason: Mapped[str] = mapped_column(String(32))

    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A fresh token at every enqueue: only the task carrying it may claim the row.
    dispatch_token: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    segments: Mapped[int | None] = mapped_column(Integer)  # SMS parts billed
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The relay's scan: pending rows by due time.
        Index(
            "ix_notifications_pending_due",
            "deliver_at",
            postgresql_where=text(PENDING_SQL),
            sqlite_where=text(PENDING_SQL),
        ),
        # The relay's promotion: by due time, only rows not yet published, so neither
        # rows already in the broker nor far-future ones are read on the way.
        Index(
            "ix_notifications_unenqueued_due",
            "deliver_at",
            postgresql_where=text(UNENQUEUED_SQL),
            sqlite_where=text(UNENQUEUED_SQL),
        ),
        # The sweeper's scan: expired leases.
        Index(
            "ix_notifications_sending_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        # The list endpoint: newest first per service, with keyset pagination.
        Index("ix_notifications_service_created", "service", "created_at", "id"),
        Index("ix_notifications_service_reference", "service", "reference"),
        Index("ix_notifications_service_recipient", "service", "recipient"),
    )


class Recipient(db.Model):
    """Someone a service notifies, known by the service's own id for them."""

    __tablename__ = "recipients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(35))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(16))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(33))
    push_tokens: Mapped[list] = mapped_column(JSONB, default=list)
    quiet_hours: Mapped[dict | None] = mapped_column(JSONB)  # {"start": "22:00", "end": "07:00"}
    opted_out: Mapped[list] = mapped_column(JSONB, default=list)  # channels
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("service", "external_id"),)


class NotificationGroup(db.Model):
    """Notifications made by one request: a push to every device, or reminders for an event."""

    __tablename__ = "notification_groups"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # devices | reminders
    reference: Mapped[str | None] = mapped_column(String(255))
    # Made with a test key: seen by test keys only (as its notifications are).
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Reminders: the event, the offsets (seconds, negative = before) and the request to repeat.
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offsets: Mapped[list | None] = mapped_column(JSONB)
    template: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationEvent(db.Model):
    """One row per status change; never updated."""

    __tablename__ = "notification_events"

    id: Mapped[int] = mapped_column(Integer().with_variant(postgresql.BIGINT(), "postgresql"),
                                    primary_key=True, autoincrement=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)

    # Metrics over a period read events by time.
    __table_args__ = (Index("ix_notification_events_at", "at"),)


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"

    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    # None: the answer names no single notification (a replay by filter).
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    response: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ProviderHealth(db.Model):
    """What the workers last learned about each channel's provider, for /ready."""

    __tablename__ = "provider_health"

    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    problem: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
