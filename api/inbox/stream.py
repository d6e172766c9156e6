"""GET /v1/inbox/stream: an inbox's new items and count changes as Server-Sent Events.

On connect: subscribe (the broker confirms the binding), replay from the
database everything after the client's last seq (`Last-Event-ID` or
`?since=`), then stream live. A live event only says "look now": the stream
reads what follows its last seq from the database, so an event that comes
twice, late or out of order sends nothing twice and skips nothing. Each item
is an event `notification` whose id is its seq. On the embedded broker the
stream looks at the database every INBOX_STREAM_POLL_SECONDS instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from api.inbox.serialize import counts_body, item_view
from common.config import Settings
from common.db import db
from common.inbox import store
from common.inbox.events import COUNT
from common.inbox.hub import Hub, Subscription
from common.inbox.store import Counts, Inbox

REPLAY_CHUNK = 500
RECONNECT_MILLISECONDS = 2_000  # the browser's wait before it reconnects


def sse(event: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _items_after(inbox: Inbox, last: int) -> list[tuple[int, dict]]:
    """(seq, event data) of the items after seq `last`, each with the unread count now.

    Read in one short transaction: the connection goes back to the pool at once.
    """
    try:
        items = store.items_after(inbox, last, REPLAY_CHUNK)
        if not items:
            return []
        unread = store.counts(inbox).unread
        return [(item.seq, {**item_view(item).model_dump(mode="json"), "unread_count": unread})
                for item in items]
    finally:
        db.session.rollback()
        db.session.close()


def _catch_up(inbox: Inbox, last: int) -> Iterator[tuple[int, str]]:
    """(seq, event) for every item after `last`, in order, chunk after chunk."""
    while True:
        items = _items_after(inbox, last)
        for last, data in items:
            yield last, sse("notification", data, last)
        if len(items) < REPLAY_CHUNK:
            return


def _counts(inbox: Inbox) -> Counts:
    try:
        return store.counts(inbox)
    finally:
        db.session.rollback()
        db.session.close()


def inbox_events(inbox: Inbox, since: int, expires_at: float, hub: Hub | None, config: Settings,
                 after_subscribe: Callable[[], None] | None = None) -> Iterator[str]:
    """The stream's text until the token expires. `after_subscribe` lets a test act in the window
    between the subscription and the replay."""
    subscription = hub.subscribe(inbox) if hub is not None else None
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n: subscribed\n\n"
        if after_subscribe is not None:
            after_subscribe()
        last = since
        for last, text in _catch_up(inbox, last):
            yield text
        if subscription is None:
            yield from _polled(inbox, last, expires_at, config)
        else:
            yield from _live(subscription, last, expires_at, config)
    finally:
        if subscription is not None:
            hub.unsubscribe(subscription)


def _live(subscription: Subscription, last: int, expires_at: float, config: Settings
          ) -> Iterator[str]:
    inbox = subscription.inbox
    while (left := expires_at - time.time()) > 0:
        event = subscription.next_event(min(config.inbox_stream_keepalive, left))
        if event is None:
            if expires_at - time.time() > 0:
                yield ": keepalive\n\n"
        elif event.get("kind") == COUNT:
            yield sse("count", counts_body(Counts(event["unread"], event["unseen"])))
        elif event.get("seq", last + 1) > last:  # a new item, or a resync: read the rows
            for last, text in _catch_up(inbox, last):
                yield text


def _polled(inbox: Inbox, last: int, expires_at: float, config: Settings) -> Iterator[str]:
    """The embedded broker's stream: the database, every INBOX_STREAM_POLL_SECONDS."""
    shown, quiet_since = _counts(inbox), time.monotonic()
    while (left := expires_at - time.time()) > 0:
        time.sleep(min(config.inbox_stream_poll, left))
        sent = False
        for last, text in _catch_up(inbox, last):
            yield text
            sent = True
        counts = _counts(inbox)
        if counts != shown:  # a new item, or read state changed in another tab
            yield sse("count", counts_body(counts))
            sent = True
        shown = counts
        if sent or time.monotonic() - quiet_since >= config.inbox_stream_keepalive:
            if not sent:
                yield ": keepalive\n\n"
            quiet_since = time.monotonic()
