"""POST /v1/notifications/{id}/retry and /v1/notifications/retry: failed notifications sent again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from common.db import db as handle
from common.models import IdempotencyKey, Notification, NotificationEvent, utcnow
from tests.api.helpers import assert_error
from tests.support.broker import purge, take_published
from tests.support.clock import days_ahead, naive
from tests.support.factories import email_body, events_of, fetch, push_body


@pytest.fixture(autouse=True)
def queues(broker):
    purge("push", "email", "sms")
    yield
    purge("push", "email", "sms")


def failed(client, auth, body: dict, error_code: str, failed_ago: timedelta = timedelta(0)) -> str:
    """A notification that the worker failed `failed_ago` ago with `error_code`."""
    nid = client.post("/v1/notifications", json=body, headers=auth).get_json()["id"]
    handle.session.execute(update(Notification).where(Notification.id == uuid.UUID(nid)).values(
        status="failed", error_code=error_code, attempts=1, updated_at=utcnow() - failed_ago))
    handle.session.commit()
    return nid


def event_count() -> int:
    handle.session.rollback()
    return handle.session.scalar(select(func.count()).select_from(NotificationEvent))


def test_a_failed_notification_is_sent_again_as_a_new_attempt(client, auth):
    nid = failed(client, auth, push_body(), "fcm_unavailable")
    token_before = fetch(nid).dispatch_token
    take_published("push")

    response = client.post(f"/v1/notifications/{nid}/retry", headers=auth)

    assert response.status_code == 202
    assert response.get_json()["status"] == "scheduled"
    after = fetch(nid)
    assert (after.status, after.error_code, after.attempts) == ("scheduled", None, 1)
    assert after.dispatch_token != token_before
    [task] = take_published("push")
    assert task.args == [nid, str(after.dispatch_token)]
    last = events_of(nid)[-1]
    assert last.status == "scheduled" and last.detail.startswith("replay requested by key ")


def test_only_a_failed_notification_is_retried(client, auth):
    nid = client.post("/v1/notifications", json=push_body(), headers=auth).get_json()["id"]

    assert_error(client.post(f"/v1/notifications/{nid}/retry", headers=auth), 409, "status")
    assert fetch(nid).status == "scheduled"


def test_another_services_notification_is_not_found(client, auth, other_auth):
    nid = failed(client, auth, push_body(), "fcm_unavailable")

    assert_error(client.post(f"/v1/notifications/{nid}/retry", headers=other_auth), 404)
    assert fetch(nid).status == "failed"


def test_a_filter_replays_what_it_matches_and_counts_it(client, auth):
    rejected = [failed(client, auth, push_body(f"t-{i}"), "sandbox_rejected") for i in range(3)]
    other_code = failed(client, auth, push_body("t-x"), "fcm_unregistered")
    other_channel = failed(client, auth, email_body(), "sandbox_rejected")
    too_old = failed(client, auth, push_body("t-old"), "sandbox_rejected", timedelta(hours=2))
    window = {"failed_after": (utcnow() - timedelta(hours=1)).isoformat()}
    take_published("push")  # their first publications

    response = client.post("/v1/notifications/retry", headers=auth, json={
        "error_code": "sandbox_rejected", "channel": "push", **window})

    assert (response.status_code, response.get_json()) == (202, {"replayed": 3, "more": False})
    assert [fetch(n).status for n in rejected] == ["scheduled"] * 3
    assert [fetch(n).status for n in (other_code, other_channel, too_old)] == ["failed"] * 3
    assert sorted(task.args[0] for task in take_published("push")) == sorted(rejected)


def test_a_limit_replays_the_earliest_failures_and_says_more_remain(client, auth):
    nids = [failed(client, auth, push_body(f"t-{i}"), "x", timedelta(minutes=10 - i))
            for i in range(3)]

    response = client.post("/v1/notifications/retry", headers=auth, json={"limit": 2})

    assert response.get_json() == {"replayed": 2, "more": True}
    assert [fetch(n).status for n in nids] == ["scheduled", "scheduled", "failed"]


def test_the_same_request_with_its_key_replays_nothing_new(client, auth):
    nids = [failed(client, auth, push_body(f"t-{i}"), "sandbox_rejected") for i in range(2)]
    headers = {**auth, "Idempotency-Key": "replay-1"}
    first = client.post("/v1/notifications/retry", headers=headers,
                        json={"error_code": "sandbox_rejected"})
    events = event_count()
    # Failed again meanwhile: a second replay would take them, the key must not.
    handle.session.execute(update(Notification).values(status="failed", error_code="sandbox_rejected"))
    handle.session.commit()

    again = client.post("/v1/notifications/retry", headers=headers,
                        json={"error_code": "sandbox_rejected"})

    assert first.get_json() == again.get_json() == {"replayed": 2, "more": False}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert event_count() == events
    assert [fetch(n).status for n in nids] == ["failed", "failed"]
    reused = client.post("/v1/notifications/retry", headers=headers, json={"channel": "sms"})
    assert_error(reused, 409, "Idempotency-Key")


@pytest.mark.parametrize("payload,field", [
    ({"limit": 10_001}, "limit"), ({"limit": 0}, "limit"), ({"channel": "fax"}, "channel"),
    ({"failed_after": "yesterday"}, "failed_after"), ({"failed_before": naive(days_ahead(-1))},
                                                      "failed_before"),
    ({"error_code": ""}, "error_code"), ({"status": "failed"}, "status"),
])
def test_a_bad_filter_is_refused_and_replays_nothing(client, auth, payload, field):
    nid = failed(client, auth, push_body(), "x")
    keys = handle.session.scalar(select(func.count()).select_from(IdempotencyKey))

    response = client.post("/v1/notifications/retry", json=payload,
                           headers={**auth, "Idempotency-Key": "k-1"})

    assert_error(response, 422, field)
    assert fetch(nid).status == "failed"
    assert handle.session.scalar(select(func.count()).select_from(IdempotencyKey)) == keys
