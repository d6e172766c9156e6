"""What an end user does with their inbox: list it, count it, change read state.

Every change commits, then publishes a `count` event, so the user's other
tabs update their bell. Counts are counted from the rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from api.inbox.schema import InboxFilters
from common import dispatch
from common.db import db
from common.errors import Forbidden, NotFound
from common.inbox import store
from common.inbox.events import count_event
from common.inbox.models import InboxItem
from common.inbox.store import Counts, Inbox


def list_items(inbox: Inbox, filters: InboxFilters, now: datetime
               ) -> tuple[list[InboxItem], int | None, Counts]:
    """A page, newest first, its cursor and the counts; the items shown become seen."""
    query = select(InboxItem).where(*inbox.rows())
    if filters.status == "unread":
        query = query.where(InboxItem.read_at.is_(None))
    elif filters.status == "read":
        query = query.where(InboxItem.read_at.is_not(None))
    if filters.archived == "false":
        query = query.where(InboxItem.archived_at.is_(None))
    elif filters.archived == "true":
        query = query.where(InboxItem.archived_at.is_not(None))
    if filters.before_seq is not None:
        query = query.where(InboxItem.seq < filters.before_seq)
    rows = list(db.session.execute(
        query.order_by(InboxItem.seq.desc()).limit(filters.limit + 1)).scalars())
    page = rows[: filters.limit]
    unseen = [item.id for item in page if item.seen_at is None]
    if unseen:
        db.session.execute(update(InboxItem).where(InboxItem.id.in_(unseen),
                                                   InboxItem.seen_at.is_(None))
                           .values(seen_at=now).execution_options(synchronize_session="fetch"))
    counts = store.counts(inbox)
    db.session.commit()
    if unseen:
        dispatch.publish_inbox_event(count_event(inbox, counts))
    return page, (page[-1].seq if len(rows) > filters.limit else None), counts


def _locked(inbox: Inbox, item_id: uuid.UUID) -> InboxItem:
    """The item, locked for the change, if it is in this inbox."""
    item = db.session.execute(select(InboxItem).where(InboxItem.id == item_id)
                              .with_for_update()).scalar_one_or_none()
    if item is None or item.deleted_at is not None:
        db.session.rollback()
        raise NotFound("no such item in this inbox")
    if (item.service, item.recipient) != (inbox.service, inbox.recipient):
        db.session.rollback()
        raise Forbidden("this item is in another recipient's inbox")
    return item


def _committed(inbox: Inbox) -> Counts:
    """Commit the change and tell the streams the new counts."""
    db.session.flush()
    counts = store.counts(inbox)
    db.session.commit()
    dispatch.publish_inbox_event(count_event(inbox, counts))
    return counts


def mark(inbox: Inbox, item_id: uuid.UUID, action: str, now: datetime) -> tuple[InboxItem, Counts]:
    """read, unread or archive one item; returns it and the new counts."""
    item = _locked(inbox, item_id)
    if action == "read":
        item.read_at = item.read_at or now
    elif action == "unread":
        item.read_at = None
    else:
        item.archived_at = item.archived_at or now
    if item.seen_at is None and action != "unread":
        item.seen_at = now  # reading an item is seeing it
    return item, _committed(inbox)


def delete(inbox: Inbox, item_id: uuid.UUID, now: datetime) -> Counts:
    """Marked deleted, never shown again: a late second delivery must not bring it back."""
    _locked(inbox, item_id).deleted_at = now
    return _committed(inbox)


def read_all(inbox: Inbox, up_to: int | None, now: datetime) -> Counts:
    """Mark read every unread item up to seq `up_to` (all without it): an item after it stays unread."""
    statement = update(InboxItem).where(*inbox.rows(), InboxItem.read_at.is_(None))
    if up_to is not None:
        statement = statement.where(InboxItem.seq <= up_to)
    db.session.execute(statement.values(read_at=now).execution_options(synchronize_session=False))
    db.session.execute(update(InboxItem).where(*inbox.rows(), InboxItem.seen_at.is_(None),
                                               InboxItem.read_at.is_not(None))
                       .values(seen_at=now).execution_options(synchronize_session=False))
    return _committed(inbox)


def counts(inbox: Inbox) -> Counts:
    found = store.counts(inbox)
    db.session.commit()
    return found
