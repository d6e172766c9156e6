from common.models import Notification, NotificationEvent

PUSH = {"channel": "push", "to": "device-token-1", "content": {"title": "Hi", "body": "Hello"}}


def test_create_returns_202_with_id_status_and_deliver_at(client, auth, db):
    response = client.post("/v1/notifications", json=PUSH, headers=auth)

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "scheduled"
    assert body["deliver_at"].endswith("Z")
    assert body["schedule_reason"] == "immediate"
    row = db.session.get(Notification, __import__("uuid").UUID(body["id"]))
    assert row.recipient == "device-token-1" and row.enqueued_at is not None
    assert db.session.query(NotificationEvent).count() == 1


def test_get_shows_the_notification_and_its_history(client, auth):
    created = client.post("/v1/notifications", json=PUSH, headers=auth).get_json()

    shown = client.get(f"/v1/notifications/{created['id']}", headers=auth).get_json()

    assert shown["id"] == created["id"]
    assert shown["content"] == {"title": "Hi", "body": "Hello"}
    assert [e["status"] for e in shown["events"]] == ["scheduled"]
