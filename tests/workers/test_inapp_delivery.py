"""The inapp pool's delivery, called as a function: the inbox row and `sent`, once; test keys
deliver to the sandbox's outbox instead."""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select

from common.db import db as handle
from common.inbox.models import InboxItem
from tests.support.factories import events_of, fetch
from workers import delivery

WORKER = "inapp@test-host"


def deliver(n, token=None):
    return delivery.deliver("inapp", str(n.id), str(token or n.dispatch_token), WORKER,
                            current_app.config["HERALD_SETTINGS"])


def inapp_row(make_notification, recipient: str, **columns):
    return make_notification(channel="inapp", recipient=recipient, title="Hi", body="There",
                             options={"action_url": "/orders/7"}, **columns)


def test_a_live_item_is_committed_to_the_inbox_and_sent(db, make_notification, outbox, broker):
    recipient = f"user-{uuid.uuid4().hex[:8]}"
    first, second = inapp_row(make_notification, recipient), inapp_row(make_notification, recipient)

    outcomes = [deliver(first).kind, deliver(second).kind]

    assert outcomes == ["sent", "sent"]
    handle.session.rollback()
    items = handle.session.execute(select(InboxItem).where(InboxItem.recipient == recipient)
                                   .order_by(InboxItem.seq)).scalars().all()
    assert [(i.id, i.seq, i.title, i.action_url) for i in items] == [
        (first.id, 1, "Hi", "/orders/7"), (second.id, 2, "Hi", "/orders/7")]
    row = fetch(str(first.id))
    assert (row.status, row.provider_message_id) == ("sent", "inbox-1")
    assert [e.status for e in events_of(str(first.id))] == ["sending", "sent"]
    assert outbox.counts("inapp") == {}


def test_a_test_keys_item_goes_to_the_outbox_not_an_inbox(db, make_notification, outbox, broker):
    recipient = f"user-{uuid.uuid4().hex[:8]}"
    n = inapp_row(make_notification, recipient, sandbox=True)

    assert deliver(n).kind == "sent"

    assert outbox.counts("inapp") == {str(n.id): 1}
    handle.session.rollback()
    assert handle.session.execute(select(InboxItem).where(InboxItem.recipient == recipient)
                                  ).first() is None
