"""An inbox's rows: delivering an item under the next sequence number, and reading them back.

Counts are always counted from the rows, never kept aside. A recipient's
sequence numbers are given under the row lock of its `inbox_sequences` row,
held until the delivery commits: a later number never becomes visible before
an earlier one, so "everything after seq N" is a complete answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from common.db import db
from common.inbox.models import InboxItem, InboxSequence
from common.models import Notification


@dataclass(frozen=True)
class Inbox:
    """Whose inbox: a recipient (the caller's id for them) of one service."""

    service: str
    recipient: str

    def rows(self):
        """Its items that are not deleted."""
        return (InboxItem.service == self.service, InboxItem.recipient == self.recipient,
                InboxItem.deleted_at.is_(None))


@dataclass(frozen=True)
class Counts:
    unread: int
    unseen: int


def counts(inbox: Inbox) -> Counts:
    """Unread and unseen items, archived ones not counted: both from the rows, in one query."""
    unread = func.count().filter(InboxItem.read_at.is_(None))
    unseen = func.count().filter(InboxItem.seen_at.is_(None))
    row = db.session.execute(select(unread, unseen).where(
        *inbox.rows(), InboxItem.archived_at.is_(None))).one()
    return Counts(unread=row[0], unseen=row[1])


def _next_seq(inbox: Inbox) -> int:
    """The inbox's next sequence number; its row stays locked until the transaction ends."""
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)(InboxSequence)
    statement = insert.values(service=inbox.service, recipient=inbox.recipient, last_seq=1)
    statement = statement.on_conflict_do_update(
        index_elements=[InboxSequence.service, InboxSequence.recipient],
        set_={"last_seq": InboxSequence.last_seq + 1},
    ).returning(InboxSequence.last_seq)
    return db.session.execute(statement).scalar_one()


@dataclass(frozen=True)
class Delivered:
    inbox: Inbox
    seq: int
    unread: int
    new: bool  # False: an earlier attempt had already put it in the inbox


def deliver(notification_id: uuid.UUID, now: datetime) -> Delivered:
    """Put a notification in its recipient's inbox (once) and commit; its seq and the new unread count."""
    row = db.session.get(Notification, notification_id)
    inbox = Inbox(row.service, row.recipient)
    existing = db.session.get(InboxItem, notification_id)
    if existing is not None:
        delivered = Delivered(inbox, existing.seq, counts(inbox).unread, new=False)
        db.session.commit()
        return delivered
    seq = _next_seq(inbox)
    db.session.add(InboxItem(
        id=row.id, service=row.service, recipient=row.recipient, seq=seq, title=row.title,
        body=row.body, data=row.data, action_url=(row.options or {}).get("action_url"),
        created_at=now))
    db.session.flush()
    delivered = Delivered(inbox, seq, counts(inbox).unread, new=True)
    db.session.commit()
    return delivered


def items_after(inbox: Inbox, seq: int, limit: int) -> list[InboxItem]:
    """Items after `seq`, oldest first: what a stream replays."""
    return list(db.session.execute(
        select(InboxItem).where(*inbox.rows(), InboxItem.seq > seq)
        .order_by(InboxItem.seq).limit(limit)).scalars())


def last_seq(inbox: Inbox) -> int:
    """The newest sequence number in the inbox, 0 for none."""
    return db.session.scalar(select(func.coalesce(func.max(InboxItem.seq), 0)).where(
        InboxItem.service == inbox.service, InboxItem.recipient == inbox.recipient))
