"""The inbox events the streams receive through the broker: small, and only a prompt to look.

`notification`: a new item (its seq and the new unread count); `count`: read
state changed (another tab marked something read). The stream reads the rows
themselves from the database.
"""

from __future__ import annotations

from common.inbox.store import Counts, Delivered, Inbox

NOTIFICATION = "notification"
COUNT = "count"


def new_item_event(delivered: Delivered) -> dict:
    return {"kind": NOTIFICATION, "service": delivered.inbox.service,
            "recipient": delivered.inbox.recipient, "seq": delivered.seq,
            "unread_count": delivered.unread}


def count_event(inbox: Inbox, counts: Counts) -> dict:
    return {"kind": COUNT, "service": inbox.service, "recipient": inbox.recipient,
            "unread": counts.unread, "unseen": counts.unseen}
