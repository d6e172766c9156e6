"""Test keys and live keys of one service are two worlds: each sees, lists, cancels and hurries only
notifications and reminder groups of its own kind; the other kind is 404 (api/visibility.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from common.models import Notification, NotificationGroup, utcnow
from tests.api.helpers import assert_error
from tests.support.broker import purge
from tests.support.factories import events_of, fetch, push_body, sms_body

NOTIFICATION_ACTIONS = [("get", ""), ("post", "/cancel"), ("post", "/send-now")]
GROUP_ACTIONS = [("get", ""), ("post", "/cancel"), ("post", "/reschedule")]


@pytest.fixture
def test_auth(db):
    """A test-mode key of the same service as `auth`."""
    from api.keys.service import create_api_key

    _key, secret = create_api_key("test-service", kind="test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def keys(auth, test_auth) -> dict:
    return {"live": auth, "test": test_auth}


@pytest.fixture(autouse=True)
def queues(broker):
    purge("push", "sms")
    yield
    purge("push", "sms")


def later(days: float = 3) -> str:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0).isoformat()


def created(client, headers, body) -> str:
    response = client.post("/v1/notifications", json=body, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]


def reminders(client, headers) -> dict:
    body = {"event_at": later(3), "remind_before": ["24h", "2h"], "notification": push_body()}
    response = client.post("/v1/reminders", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


OTHER = {"live": "test", "test": "live"}


@pytest.mark.parametrize("owner", ["live", "test"])
@pytest.mark.parametrize("method, action", NOTIFICATION_ACTIONS, ids=["show", "cancel", "send-now"])
def test_the_other_kind_of_key_gets_404_and_changes_nothing(client, keys, owner, method, action):
    nid = created(client, keys[owner], sms_body(send_at=later()))
    before = (fetch(nid).status, fetch(nid).dispatch_token, len(events_of(nid)))

    response = getattr(client, method)(f"/v1/notifications/{nid}{action}", headers=keys[OTHER[owner]])

    assert assert_error(response, 404)["code"] == "not_found"
    after = fetch(nid)
    assert (after.status, after.dispatch_token, len(events_of(nid))) == before


@pytest.mark.parametrize("owner", ["live", "test"])
def test_the_owning_kind_of_key_still_shows_and_cancels(client, keys, owner):
    nid = created(client, keys[owner], sms_body(send_at=later()))

    shown = client.get(f"/v1/notifications/{nid}", headers=keys[owner])
    cancelled = client.post(f"/v1/notifications/{nid}/cancel", headers=keys[owner])

    assert (shown.status_code, shown.get_json()["sandbox"]) == (200, owner == "test")
    assert (cancelled.status_code, cancelled.get_json()["status"]) == (200, "cancelled")


def test_each_kind_lists_only_its_own_notifications_whatever_the_filters(client, keys):
    mine = {kind: {created(client, keys[kind], sms_body(reference="order-1")) for _ in range(3)}
            for kind in keys}

    for kind, headers in keys.items():
        for query in ({}, {"reference": "order-1"}, {"recipient": "+447700900123"},
                      {"channel": "sms", "status": "scheduled", "limit": 2}):
            listed, cursor = set(), None
            while True:
                page = client.get("/v1/notifications", headers=headers,
                                  query_string={**query, **({"cursor": cursor} if cursor else {})})
                assert page.status_code == 200, page.get_data(as_text=True)
                listed |= {n["id"] for n in page.get_json()["data"]}
                if not (cursor := page.get_json()["next_cursor"]):
                    break
            assert listed == mine[kind], (kind, query)


@pytest.mark.parametrize("owner", ["live", "test"])
@pytest.mark.parametrize("method, action", GROUP_ACTIONS, ids=["show", "cancel", "reschedule"])
def test_a_reminder_group_is_404_to_the_other_kind(client, keys, owner, method, action):
    group = reminders(client, keys[owner])
    body = {"event_at": later(5)} if action == "/reschedule" else None
    before = [(m["id"], m["status"], m["deliver_at"]) for m in group["reminders"]]

    response = getattr(client, method)(f"/v1/reminders/{group['group_id']}{action}",
                                       headers=keys[OTHER[owner]], json=body)

    assert assert_error(response, 404)["code"] == "not_found"
    shown = client.get(f"/v1/reminders/{group['group_id']}", headers=keys[owner]).get_json()
    assert [(m["id"], m["status"], m["deliver_at"]) for m in shown["reminders"]] == before


def test_groups_remember_the_kind_of_key_that_made_them(client, keys, db):
    groups = {kind: uuid.UUID(reminders(client, keys[kind])["group_id"]) for kind in keys}
    client.put("/v1/recipients/user-1", json={"push_tokens": ["device-a-0001", "device-b-0002"]},
               headers=keys["test"])
    devices = client.post("/v1/notifications", headers=keys["test"],
                          json={"channel": "push", "recipient_id": "user-1",
                                "content": {"title": "Hi", "body": "Hello"}}).get_json()

    db.session.rollback()
    assert db.session.get(NotificationGroup, groups["live"]).sandbox is False
    assert db.session.get(NotificationGroup, groups["test"]).sandbox is True
    assert db.session.get(NotificationGroup, uuid.UUID(devices["group_id"])).sandbox is True
    members = Notification.query.filter(Notification.group_id == groups["test"]).all()
    assert members and all(m.sandbox for m in members)


def test_service_metrics_count_only_the_keys_own_kind(client, keys):
    made = {"live": 2, "test": 3}
    for kind, count in made.items():
        for _ in range(count):
            created(client, keys[kind], sms_body(send_at=later()))

    for kind, headers in keys.items():
        counts = client.get("/v1/metrics", headers=headers).get_json()
        assert counts["totals"]["notifications"] == made[kind]
        assert counts["by_status"]["scheduled"] == made[kind]
