"""What the inbox stream tests share: tokens, posting in-app items, reading the inbox rows."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from common.db import db
from common.inbox.models import InboxItem
from common.models import Notification, NotificationEvent


def new_recipient() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


def inbox_token(client, auth, recipient: str) -> str:
    response = client.post(f"/v1/recipients/{recipient}/inbox-token", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["token"]


def post_items(client, auth, recipient: str, count: int, label: str = "item") -> list[str]:
    """`count` in-app items in one batch; their ids in the order posted."""
    items = [{"to": recipient, "content": {"title": f"{label} {n}", "body": f"{label} number {n}"}}
             for n in range(count)]
    body = {"defaults": {"channel": "inapp"}, "items": items}
    response = client.post("/v1/notifications/batch", headers=auth, json=body)
    assert response.status_code == 202, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


def delivered(recipient: str) -> int:
    """How many of the recipient's items are in the inbox, committed."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(InboxItem)
                             .where(InboxItem.recipient == recipient))


def delivering_workers(ids: list[str]) -> set[str]:
    """The pool processes whose rows say they sent these notifications."""
    db.session.rollback()
    return set(db.session.scalars(select(NotificationEvent.worker).where(
        NotificationEvent.notification_id.in_([uuid.UUID(i) for i in ids]),
        NotificationEvent.status == "sent")))


def sent(ids: list[str]) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.id.in_([uuid.UUID(i) for i in ids]), Notification.status == "sent"))
