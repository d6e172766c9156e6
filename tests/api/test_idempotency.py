"""Idempotency-Key: a retried request gets the first response instead of a second notification."""

from __future__ import annotations

import threading

from sqlalchemy import update

from common.config import settings
from common.models import IdempotencyKey, utcnow
from tests.api.helpers import assert_error, stored_counts
from tests.support.factories import push_body, sms_body


def post(client, auth, body, key="order-42-shipped"):
    return client.post("/v1/notifications", json=body, headers={**auth, "Idempotency-Key": key})


def age_idempotency_records(by):
    from common.db import db

    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - by))
    db.session.commit()


def test_same_key_and_body_replays_the_first_response(client, auth):
    first = post(client, auth, push_body())
    second = post(client, auth, push_body())

    assert first.status_code == second.status_code == 202
    assert second.get_json() == first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == f"/v1/notifications/{first.get_json()['id']}"
    assert stored_counts() == {"notifications": 1, "notification_events": 1, "idempotency_keys": 1}


def test_same_key_with_a_different_body_is_a_conflict(client, auth):
    post(client, auth, push_body())

    response = post(client, auth, push_body(content={"body": "Something else"}))

    assert_error(response, 409, "Idempotency-Key")
    assert stored_counts()["notifications"] == 1


def test_the_same_key_is_independent_between_services(client, auth, other_auth):
    ours = post(client, auth, sms_body())
    theirs = post(client, other_auth, sms_body())

    assert ours.status_code == theirs.status_code == 202
    assert "Idempotent-Replayed" not in theirs.headers
    assert ours.get_json()["id"] != theirs.get_json()["id"]
    assert stored_counts()["notifications"] == 2


def test_a_refused_request_does_not_use_up_the_key(client, auth):
    assert post(client, auth, push_body("not a token")).status_code == 422

    response = post(client, auth, push_body())

    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers


def test_a_record_still_within_its_ttl_replays(client, auth):
    first = post(client, auth, push_body()).get_json()
    age_idempotency_records(settings().idempotency_ttl - settings().idempotency_ttl / 10)

    again = post(client, auth, push_body())

    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["id"] == first["id"]


def test_an_expired_record_lets_the_key_create_a_new_notification(client, auth, db):
    first = post(client, auth, push_body()).get_json()
    age_idempotency_records(settings().idempotency_ttl + settings().idempotency_ttl / 10)

    again = post(client, auth, push_body())

    assert again.status_code == 202
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first["id"]
    assert stored_counts() == {"notifications": 2, "notification_events": 2, "idempotency_keys": 1}
    record = db.session.get(IdempotencyKey, ("test-service", "order-42-shipped"))
    assert str(record.notification_id) == again.get_json()["id"]


def test_concurrent_requests_with_one_key_make_one_notification(app, auth):
    # Each thread gets its own app context, so its own database session.
    start = threading.Barrier(4)
    responses = []

    def send():
        client = app.test_client()
        start.wait()
        responses.append(post(client, auth, push_body()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [r.status_code for r in responses] == [202] * 4
    assert len({r.get_json()["id"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" in r.headers for r in responses) == 3
    assert stored_counts()["notifications"] == 1
