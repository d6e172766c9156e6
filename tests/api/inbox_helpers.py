"""What the inbox API tests share: tokens, in-app items delivered as the inapp pool delivers them."""

from __future__ import annotations

import uuid

from common.inbox import store
from common.models import utcnow


def recipient_id() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


def token_headers(client, auth, recipient: str) -> dict:
    response = client.post(f"/v1/recipients/{recipient}/inbox-token", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def inapp(recipient: str, n: int = 0, **content) -> dict:
    return {"channel": "inapp", "to": recipient,
            "content": {"title": f"Item {n}", "body": f"Body of item {n}", **content}}


def post_inapp(client, auth, recipient: str, n: int = 0, **content) -> str:
    response = client.post("/v1/notifications", json=inapp(recipient, n, **content), headers=auth)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]


def deliver(notification_id: str) -> store.Delivered:
    """What the inapp provider commits (its broker event aside)."""
    return store.deliver(uuid.UUID(notification_id), utcnow())


def delivered_items(client, auth, recipient: str, count: int) -> list[str]:
    """`count` items posted and delivered, oldest first (seq 1..count)."""
    ids = [post_inapp(client, auth, recipient, n) for n in range(count)]
    for nid in ids:
        deliver(nid)
    return ids
