"""POST/GET/DELETE /v1/webhooks, rotation, the message log, replay and recover, on PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from common.db import db as handle
from common.lifecycle import cancel
from common.models import utcnow
from common.webhooks.emission import LISTENERS, announce_row
from common.webhooks.models import WebhookEndpoint, WebhookMessage
from tests.api.helpers import assert_error
from tests.support.broker import purge
from tests.support.clock import days_ahead, naive, utc_z
from tests.support.factories import fetch, push_body

SENT_AND_FAILED = ["notification.sent", "notification.failed"]


@pytest.fixture(autouse=True)
def webhooks_queue(broker):
    purge("webhooks")
    yield
    purge("webhooks")


def create(client, auth, url="https://example.com/hooks", events=SENT_AND_FAILED, **extra):
    return client.post("/v1/webhooks", json={"url": url, "event_types": events, **extra},
                       headers=auth)


def endpoints_stored() -> int:
    handle.session.rollback()
    return handle.session.scalar(select(func.count()).select_from(WebhookEndpoint))


def messages_of(notification_id) -> list[WebhookMessage]:
    handle.session.rollback()
    return list(handle.session.execute(select(WebhookMessage).where(
        WebhookMessage.notification_id == uuid.UUID(notification_id))
        .order_by(WebhookMessage.sequence)).scalars())


def test_creating_an_endpoint_answers_its_secret_once(client, auth):
    response = create(client, auth, description="order service")

    assert response.status_code == 201
    body = response.get_json()
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert (body["url"], body["event_types"], body["status"]) == (
        "https://example.com/hooks", SENT_AND_FAILED, "enabled")
    assert response.headers["Location"] == f"/v1/webhooks/{body['id']}"
    listed = client.get("/v1/webhooks", headers=auth).get_json()["data"]
    shown = client.get(f"/v1/webhooks/{body['id']}", headers=auth).get_json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0] and "secret" not in shown


@pytest.mark.parametrize("payload,field", [
    ({"url": "ftp://example.com/x", "event_types": ["notification.sent"]}, "url"),
    ({"url": "not a url", "event_types": ["notification.sent"]}, "url"),
    ({"url": "https://user:pw@example.com/x", "event_types": ["notification.sent"]}, "url"),
    ({"url": "https://example.com/x", "event_types": []}, "event_types"),
    ({"url": "https://example.com/x", "event_types": ["notification.opened"]}, "event_types.0"),
    ({"url": "https://example.com/x", "event_types": ["notification.sent"] * 2}, "event_types"),
    ({"url": "https://example.com/x", "event_types": ["notification.sent"], "colour": 1}, "colour"),
    ({"event_types": ["notification.sent"]}, "url"),
    ({"url": "https://example.com/" + "x" * 2100, "event_types": ["notification.sent"]}, "url"),
])
def test_a_bad_endpoint_is_refused_naming_the_field_and_nothing_is_stored(client, auth, payload,
                                                                         field):
    assert_error(client.post("/v1/webhooks", json=payload, headers=auth), 422, field)
    assert endpoints_stored() == 0


def test_endpoints_are_the_services_own(client, auth, other_auth):
    endpoint = create(client, auth).get_json()

    assert client.get("/v1/webhooks", headers=other_auth).get_json() == {"data": []}
    assert_error(client.get(f"/v1/webhooks/{endpoint['id']}", headers=other_auth), 404)
    assert_error(client.delete(f"/v1/webhooks/{endpoint['id']}", headers=other_auth), 404)
    assert endpoints_stored() == 1


def test_deleting_an_endpoint_removes_it(client, auth):
    endpoint = create(client, auth).get_json()

    assert client.delete(f"/v1/webhooks/{endpoint['id']}", headers=auth).status_code == 204
    assert_error(client.get(f"/v1/webhooks/{endpoint['id']}", headers=auth), 404)
    assert endpoints_stored() == 0


def test_rotating_keeps_the_old_secret_signing_for_the_overlap(client, auth, app):
    endpoint = create(client, auth).get_json()

    rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", headers=auth).get_json()

    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    overlap = app.config["HERALD_SETTINGS"].webhook_secret_overlap
    handle.session.rollback()
    stored = handle.session.get(WebhookEndpoint, uuid.UUID(endpoint["id"]))
    assert (stored.secret, stored.previous_secret) == (rotated["secret"], endpoint["secret"])
    left = stored.previous_secret_expires_at - utcnow()
    assert overlap - timedelta(minutes=1) < left <= overlap


def test_a_status_change_makes_a_message_for_each_listening_endpoint(client, auth):
    listening = create(client, auth, events=["notification.cancelled"]).get_json()
    create(client, auth, events=["notification.sent"])  # not listening to cancellations
    later = (utcnow() + timedelta(days=1)).isoformat()
    nid = client.post("/v1/notifications", json=push_body(send_at=later), headers=auth
                      ).get_json()["id"]

    assert client.post(f"/v1/notifications/{nid}/cancel", headers=auth).status_code == 200

    [message] = messages_of(nid)
    assert message.endpoint_id == uuid.UUID(listening["id"])
    assert (message.event_type, message.status, message.sequence) == (
        "notification.cancelled", "pending", 2)  # scheduled, then cancelled
    data = json.loads(message.payload)["data"]
    assert (data["notification_id"], data["status"], data["sequence"]) == (nid, "cancelled", 2)


def test_a_status_change_rolled_back_leaves_no_message(client, auth, app):
    create(client, auth, events=["notification.cancelled"])
    later = (utcnow() + timedelta(days=1)).isoformat()
    nid = client.post("/v1/notifications", json=push_body(send_at=later), headers=auth
                      ).get_json()["id"]

    with app.test_request_context():
        assert cancel(uuid.UUID(nid), now=utcnow()) is not None
        handle.session.rollback()

    assert messages_of(nid) == []


def test_a_service_without_endpoints_pays_no_query_for_callbacks(client, auth, app):
    """The hot path: once a service is known to have no endpoint, a change asks nothing more."""
    from sqlalchemy import event

    later = (utcnow() + timedelta(days=1)).isoformat()
    ids = [client.post("/v1/notifications", json=push_body(send_at=later), headers=auth
                       ).get_json()["id"] for _ in range(2)]
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with app.test_request_context():
        LISTENERS.forget("test-service")
        cancel(uuid.UUID(ids[0]), now=utcnow())  # learns there is none
        event.listen(handle.engine, "before_cursor_execute", seen)
        try:
            cancel(uuid.UUID(ids[1]), now=utcnow())
        finally:
            event.remove(handle.engine, "before_cursor_execute", seen)
        handle.session.commit()

    assert [s for s in statements if "webhook" in s] == []
    assert len(statements) == 1  # the change and its event, one statement
    with app.test_request_context():
        row = fetch(ids[1])
        started = time.perf_counter()
        for _ in range(10_000):
            announce_row(row, utcnow())
        each = (time.perf_counter() - started) / 10_000
    print(f"\ncallbacks' cost to a status change of a service without endpoints: "
          f"{each * 1e6:.1f} µs, no statement")


def test_a_suppressed_notification_is_announced(client, auth):
    create(client, auth, events=["notification.suppressed"])
    client.put("/v1/recipients/ada", json={"email": "ada@example.com", "opted_out": ["email"]},
               headers=auth)

    body = client.post("/v1/notifications", json={
        "channel": "email", "recipient_id": "ada",
        "content": {"subject": "Hi", "body": "Hello"}}, headers=auth).get_json()

    [notification] = body["notifications"]
    assert notification["status"] == "suppressed"
    assert [(m.event_type, m.sequence) for m in messages_of(notification["id"])] == [
        ("notification.suppressed", 1)]


def test_replay_and_recover_send_messages_again(client, auth):
    endpoint = create(client, auth, events=["notification.cancelled"]).get_json()
    later = (utcnow() + timedelta(days=1)).isoformat()
    nids = [client.post("/v1/notifications", json=push_body(send_at=later), headers=auth
                        ).get_json()["id"] for _ in range(3)]
    for nid in nids:
        client.post(f"/v1/notifications/{nid}/cancel", headers=auth)
    handle.session.rollback()
    messages = [messages_of(nid)[0] for nid in nids]
    handle.session.execute(WebhookMessage.__table__.update().values(
        status="failed", attempts=8, next_attempt_at=None))
    handle.session.commit()

    replayed = client.post(f"/v1/webhooks/{endpoint['id']}/messages/{messages[0].id}/replay",
                           headers=auth)
    since = (utcnow() - timedelta(minutes=1)).isoformat()
    recovered = client.post(f"/v1/webhooks/{endpoint['id']}/recover",
                            query_string={"since": since}, headers=auth)

    assert replayed.status_code == 202
    assert replayed.get_json()["webhook_id"] == f"msg_{messages[0].id.hex}"
    assert replayed.get_json()["status"] == "pending"
    assert (recovered.status_code, recovered.get_json()) == (202, {"replayed": 2, "more": False})
    assert {m.status for nid in nids for m in messages_of(nid)} == {"pending"}
    assert {m.attempts for nid in nids for m in messages_of(nid)} == {0}


@pytest.mark.parametrize("query,field", [
    ({}, "since"), ({"since": "yesterday"}, "since"), ({"since": naive(days_ahead(-30))}, "since"),
    ({"since": utc_z(days_ahead(-30)), "until": "x"}, "until"),
])
def test_recover_needs_a_past_time(client, auth, query, field):
    endpoint = create(client, auth).get_json()

    assert_error(client.post(f"/v1/webhooks/{endpoint['id']}/recover", query_string=query,
                             headers=auth), 422, field)


def test_recover_refuses_a_future_time(client, auth):
    endpoint = create(client, auth).get_json()
    future = (utcnow() + timedelta(hours=1)).isoformat()

    assert_error(client.post(f"/v1/webhooks/{endpoint['id']}/recover",
                             query_string={"since": future}, headers=auth), 422, "since")


def test_replaying_a_message_of_another_endpoint_is_not_found(client, auth):
    endpoint = create(client, auth).get_json()

    assert_error(client.post(f"/v1/webhooks/{endpoint['id']}/messages/{uuid.uuid4()}/replay",
                             headers=auth), 404)


@pytest.fixture
def production_client(app, db):
    """The API as production runs it: no http://, no private addresses (same database)."""
    from api import create_app
    from common.config import settings
    from tests.support.settings import replace

    return create_app(replace(settings(), webhook_allow_private=False)).test_client()


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hooks", "https://localhost:8443/hooks", "https://10.0.0.8/hooks",
    "https://192.168.0.10/hooks", "https://169.254.169.254/latest/meta-data", "https://[::1]/hooks",
    "http://hooks.example.net/in",
])
def test_production_refuses_urls_into_our_own_network(production_client, auth, url):
    response = create(production_client, auth, url=url)

    assert_error(response, 422, "url")
    assert endpoints_stored() == 0


def test_the_message_log_pages_newest_first(client, auth):
    endpoint = create(client, auth, events=["notification.cancelled"]).get_json()
    later = (utcnow() + timedelta(days=1)).isoformat()
    nids = [client.post("/v1/notifications", json=push_body(send_at=later), headers=auth
                        ).get_json()["id"] for _ in range(5)]
    for nid in nids:
        client.post(f"/v1/notifications/{nid}/cancel", headers=auth)
    url = f"/v1/webhooks/{endpoint['id']}/messages"

    first = client.get(url, query_string={"limit": 3}, headers=auth).get_json()
    rest = client.get(url, query_string={"limit": 3, "cursor": first["next_cursor"]},
                      headers=auth).get_json()

    seen = [m["notification_id"] for m in first["data"] + rest["data"]]
    assert seen == list(reversed(nids))
    assert rest["next_cursor"] is None
    assert_error(client.get(url, query_string={"cursor": "nope"}, headers=auth), 422, "cursor")
