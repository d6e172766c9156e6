"""How inbox items, pages, counts and tokens look in answers (and in the stream's events)."""

from __future__ import annotations

import uuid

from api.response_model import ResponseModel, Timestamp, body, iso
from common.inbox.models import InboxItem
from common.inbox.store import Counts


class InboxItemView(ResponseModel):
    id: uuid.UUID
    seq: int
    title: str | None
    body: str
    data: dict[str, str] | None
    action_url: str | None
    created_at: Timestamp | None
    seen_at: Timestamp | None
    read_at: Timestamp | None
    archived_at: Timestamp | None


class InboxPage(ResponseModel):
    data: list[InboxItemView]
    next_cursor: str | None
    unread_count: int


class InboxCounts(ResponseModel):
    unread: int
    unseen: int


class InboxToken(ResponseModel):
    token: str
    expires_at: Timestamp


def item_view(item: InboxItem) -> InboxItemView:
    return InboxItemView(id=item.id, seq=item.seq, title=item.title, body=item.body,
                         data=item.data, action_url=item.action_url,
                         created_at=iso(item.created_at), seen_at=iso(item.seen_at),
                         read_at=iso(item.read_at), archived_at=iso(item.archived_at))


def item_body(item: InboxItem) -> dict:
    return body(item_view(item))


def page_body(items: list[InboxItem], next_seq: int | None, counts: Counts) -> dict:
    return body(InboxPage(data=[item_view(item) for item in items],
                          next_cursor=None if next_seq is None else str(next_seq),
                          unread_count=counts.unread))


def counts_body(counts: Counts) -> dict:
    return body(InboxCounts(unread=counts.unread, unseen=counts.unseen))


def token_body(token: str, expires_at) -> dict:
    return body(InboxToken(token=token, expires_at=iso(expires_at)))
