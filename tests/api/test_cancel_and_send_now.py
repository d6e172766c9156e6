"""POST /cancel and /send-now: they act on pending notifications only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from common.models import Notification, utcnow
from tests.api.helpers import assert_error
from tests.support.factories import events_of, fetch, push_body


def create(client, auth, **extra) -> str:
    response = client.post("/v1/notifications", json=push_body(**extra), headers=auth)
    assert response.status_code == 202
    return response.get_json()["id"]


def force_status(notification_id: str, status: str) -> None:
    from common.db import db

    db.session.execute(update(Notification).where(Notification.id == uuid.UUID(notification_id))
                       .values(status=status))
    db.session.commit()


def in_an_hour() -> str:
    return (utcnow() + timedelta(hours=1)).isoformat()


def test_cancel_a_pending_notification(client, auth):
    notification_id = create(client, auth, send_at=in_an_hour())

    response = client.post(f"/v1/notifications/{notification_id}/cancel", headers=auth)

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert fetch(notification_id).status == "cancelled"
    assert [e.status for e in events_of(notification_id)] == ["scheduled", "cancelled"]


def test_cancel_a_retrying_notification(client, auth):
    notification_id = create(client, auth)
    force_status(notification_id, "retrying")

    assert client.post(f"/v1/notifications/{notification_id}/cancel", headers=auth).status_code == 200
    assert fetch(notification_id).status == "cancelled"


def test_cancel_twice_is_a_conflict(client, auth):
    notification_id = create(client, auth)
    client.post(f"/v1/notifications/{notification_id}/cancel", headers=auth)

    response = client.post(f"/v1/notifications/{notification_id}/cancel", headers=auth)

    assert assert_error(response, 409, "status")["fields"]["status"] == "cancelled"
    assert [e.status for e in events_of(notification_id)] == ["scheduled", "cancelled"]


@pytest.mark.parametrize("status", ["sending", "sent", "delivered", "failed"])
def test_cancel_after_the_notification_left_is_a_conflict(client, auth, status):
    notification_id = create(client, auth)
    force_status(notification_id, status)

    response = client.post(f"/v1/notifications/{notification_id}/cancel", headers=auth)

    assert assert_error(response, 409, "status")["fields"]["status"] == status
    assert fetch(notification_id).status == status
    assert len(events_of(notification_id)) == 1


def test_send_now_makes_a_scheduled_notification_due_now(client, auth):
    notification_id = create(client, auth, send_at=in_an_hour())
    before = fetch(notification_id)
    old_token, old_deliver_at = before.dispatch_token, before.deliver_at
    assert old_deliver_at > utcnow() + timedelta(minutes=59)

    response = client.post(f"/v1/notifications/{notification_id}/send-now", headers=auth)

    assert response.status_code == 202
    assert response.get_json()["schedule_reason"] == "send_now"
    after = fetch(notification_id)
    assert abs(after.deliver_at - utcnow()) < timedelta(seconds=30)
    assert after.dispatch_token != old_token
    assert after.status == "scheduled"
    assert [e.detail for e in events_of(notification_id)] == ["scheduled: send_at", "send-now requested"]


@pytest.mark.parametrize("status", ["cancelled", "sending", "sent"])
def test_send_now_on_a_notification_that_is_not_pending_is_a_conflict(client, auth, status):
    notification_id = create(client, auth, send_at=in_an_hour())
    if status == "cancelled":
        client.post(f"/v1/notifications/{notification_id}/cancel", headers=auth)
    else:
        force_status(notification_id, status)
    token = fetch(notification_id).dispatch_token

    response = client.post(f"/v1/notifications/{notification_id}/send-now", headers=auth)

    assert_error(response, 409, "status")
    assert fetch(notification_id).dispatch_token == token


@pytest.mark.parametrize("action", ["cancel", "send-now"])
def test_acting_on_another_services_notification_is_404(client, auth, other_auth, action):
    theirs = create(client, other_auth, send_at=in_an_hour())

    response = client.post(f"/v1/notifications/{theirs}/{action}", headers=auth)

    assert_error(response, 404)
    assert fetch(theirs).status == "scheduled"
    assert len(events_of(theirs)) == 1


@pytest.mark.parametrize("action", ["cancel", "send-now"])
def test_acting_on_an_unknown_id_is_404(client, auth, action):
    assert_error(client.post(f"/v1/notifications/{uuid.uuid4()}/{action}", headers=auth), 404)
