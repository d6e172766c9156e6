"""The inbox tables: one row per in-app item, and each recipient's last sequence number."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import db
from common.models import JSONB, UTCDateTime, utcnow

# A bigint on PostgreSQL; SQLite's INTEGER is 64 bits already.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")


class InboxItem(db.Model):
    """An in-app notification as its recipient sees it; read state lives here, not in its status."""

    __tablename__ = "inbox_items"

    # The notification's own id: a second delivery of it finds the row already there.
    id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(320))  # the caller's id for the recipient
    seq: Mapped[int] = mapped_column(SequenceNumber)  # increasing per (service, recipient)
    title: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONB)
    action_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # DELETE marks the row: a late second delivery of the same item must not bring it back.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The list, the replay after a sequence number, and the counts: all by recipient and seq.
        Index("ix_inbox_items_recipient_seq", "service", "recipient", "seq", unique=True),
    )


class InboxSequence(db.Model):
    """The last sequence number given in a recipient's inbox; its row lock orders the deliveries."""

    __tablename__ = "inbox_sequences"

    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    last_seq: Mapped[int] = mapped_column(SequenceNumber, default=0)
