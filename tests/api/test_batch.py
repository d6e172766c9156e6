"""POST /v1/notifications/batch: defaults merged into items, each item accepted or refused on its own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from common.config import settings
from common.models import Notification, NotificationEvent, NotificationGroup
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.api.test_rate_limits import unique_prefix
from tests.support.broker import purge, take_published
from tests.support.clock import days_ahead, utc_z
from tests.support.factories import fetch
from tests.support.settings import replace

BATCH = "/v1/notifications/batch"
PUSH_DEFAULTS = {"channel": "push", "content": {"title": "Sale", "body": "Everything half price"}}


def post(client, auth, body, key: str | None = None):
    headers = {**auth, "Idempotency-Key": key} if key else auth
    return client.post(BATCH, json=body, headers=headers)


def push_items(count: int) -> list[dict]:
    return [{"to": f"device-token-{i}", "reference": f"item-{i}"} for i in range(count)]


@pytest.fixture
def queues(broker):
    purge("push", "email", "sms")
    yield
    purge("push", "email", "sms")


# Ten ways an item goes wrong, each at its place in a batch of 1,000, and the field it names.
BAD_ITEMS = {
    7: ({"to": "not a token"}, "to"),
    99: ({"to": "device-token-x", "content": {"body": None}}, "content.body"),
    150: ({"to": "device-token-x", "colour": "red"}, "colour"),
    222: ({"to": "device-token-x", "timezone": "Mars/Olympus_Mons"}, "timezone"),
    345: ({"channel": "sms", "to": "+447700900123"}, "content.title"),
    400: ({"recipient_id": "nobody-stored"}, "recipient_id"),
    512: ({"to": "device-token-x", "send_at": "next tuesday"}, "send_at"),
    640: ({"to": "device-token-x", "priority": "urgent"}, "priority"),
    777: ({}, "to"),
    999: ({"to": "device-token-x", "recipient_id": "user-1"}, "to"),
}


def batch_with_bad_items(size: int = 1000) -> dict:
    items = push_items(size)
    for index, (item, _field) in BAD_ITEMS.items():
        items[index] = {**item, "reference": f"bad-{index}"}
    return {"defaults": PUSH_DEFAULTS, "items": items}


def test_a_batch_of_1000_with_10_bad_items_accepts_990_and_replays_the_first_answer(
        client, auth, db, queues):
    body = batch_with_bad_items()

    first = post(client, auth, body, key="campaign-2026-12")

    assert first.status_code == 202, first.get_data(as_text=True)
    answer = first.get_json()
    assert (answer["accepted"], answer["refused"]) == (990, 10)
    assert [item["index"] for item in answer["items"]] == list(range(1000))
    refused = {item["index"]: item["error"] for item in answer["items"] if "error" in item}
    assert set(refused) == set(BAD_ITEMS)
    for index, (_item, field) in BAD_ITEMS.items():
        assert refused[index]["status"] == 422
        assert f"items.{index}.{field}" in refused[index]["fields"], refused[index]
        assert all(name.startswith(f"items.{index}.") for name in refused[index]["fields"])
    accepted = {item["index"]: item["id"] for item in answer["items"] if "id" in item}
    assert len(accepted) == len(set(accepted.values())) == 990
    assert all(item["status"] == "scheduled" for item in answer["items"] if "id" in item)

    db.session.rollback()
    stored = dict(db.session.execute(select(Notification.reference, Notification.id)).all())
    assert stored == {f"item-{i}": uuid.UUID(accepted[i]) for i in accepted}
    assert not any(reference.startswith("bad-") for reference in stored)
    counts = stored_counts()
    assert counts == {"notifications": 990, "notification_events": 990, "idempotency_keys": 1}
    published = take_published("push")
    assert sorted(task.args[0] for task in published) == sorted(accepted.values())

    again = post(client, auth, body, key="campaign-2026-12")

    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == answer
    assert stored_counts() == counts
    assert take_published("push") == []
    print(f"\nbatch of 1000 with 10 bad items: {answer['accepted']} accepted with ids, "
          f"{answer['refused']} refused naming "
          + ", ".join(field for error in refused.values() for field in error["fields"])
          + f"; stored {counts}; replay: {again.status_code}, Idempotent-Replayed "
          f"{again.headers['Idempotent-Replayed']}, same answer, stored {stored_counts()}")


def test_items_take_the_defaults_content_field_by_field(client, auth, db):
    body = {"defaults": {"channel": "email", "reference": "december",
                         "content": {"subject": "Your statement", "body": "It is ready."}},
            "items": [{"to": "ada@example.com"},
                      {"to": "grace@example.com", "content": {"body": "Yours is late."}},
                      {"to": "alan@example.com", "reference": "alan-1"}]}

    answer = post(client, auth, body).get_json()

    rows = [fetch(item["id"]) for item in answer["items"]]
    assert [(r.recipient, r.title, r.body, r.reference) for r in rows] == [
        ("ada@example.com", "Your statement", "It is ready.", "december"),
        ("grace@example.com", "Your statement", "Yours is late.", "december"),
        ("alan@example.com", "Your statement", "It is ready.", "alan-1"),
    ]


def test_an_items_null_drops_the_default(client, auth, db):
    later = utc_z(days_ahead(hour=12))
    body = {"defaults": {**PUSH_DEFAULTS, "send_at": later, "priority": "critical"},
            "items": [{"to": "token-a"}, {"to": "token-b", "send_at": None, "priority": None,
                                          "content": {"title": None}}]}

    first, second = post(client, auth, body).get_json()["items"]

    assert (first["deliver_at"], first["schedule_reason"]) == (later, "send_at")
    assert second["schedule_reason"] == "immediate"
    row = fetch(second["id"])
    assert (row.priority, row.title, row.body) == ("normal", None, "Everything half price")


def test_an_item_is_checked_as_a_single_notification_would_be(client, auth, db):
    """Same request, same verdict: the batch refuses an item with the error a single POST gives."""
    item = {"channel": "sms", "to": "+447700900123", "content": {"body": "x" * 2000}}
    single = client.post("/v1/notifications", json=item, headers=auth)
    batch = post(client, auth, {"items": [item, {**item, "content": {"body": "Hi"}}]})

    single_error = assert_error(single, 413, "content.body")
    [refused, _accepted] = batch.get_json()["items"]
    assert refused["error"]["status"] == single_error["status"] == 413
    assert refused["error"]["code"] == single_error["code"]
    assert refused["error"]["fields"] == {"items.0.content.body": single_error["fields"]["content.body"]}


def test_an_item_for_a_stored_recipient_goes_to_each_device_as_a_group(client, auth, db, queues):
    tokens = ["token-phone", "token-tablet"]
    put = client.put("/v1/recipients/user-1", json={"push_tokens": tokens}, headers=auth)
    assert put.status_code in (200, 201)

    answer = post(client, auth, {"defaults": PUSH_DEFAULTS,
                                 "items": [{"recipient_id": "user-1", "reference": "r-1"},
                                           {"to": "token-other"}]}).get_json()

    group_item, single_item = answer["items"]
    assert set(group_item) == {"index", "group_id", "notifications"}
    ids = {n["id"] for n in group_item["notifications"]}
    db.session.rollback()
    rows = db.session.execute(select(Notification).where(
        Notification.group_id == uuid.UUID(group_item["group_id"]))).scalars().all()
    assert {str(r.id) for r in rows} == ids
    assert sorted(r.recipient for r in rows) == tokens
    group = db.session.get(NotificationGroup, uuid.UUID(group_item["group_id"]))
    assert (group.kind, group.reference) == ("devices", "r-1")
    assert fetch(single_item["id"]).group_id is None
    published = {task.args[0] for task in take_published("push")}
    assert published == ids | {single_item["id"]}


def test_each_accepted_notification_has_its_first_event(client, auth, db):
    answer = post(client, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(3)}).get_json()

    db.session.rollback()
    events = db.session.execute(select(NotificationEvent.notification_id, NotificationEvent.status,
                                       NotificationEvent.detail)).all()
    assert sorted((str(n), s, d) for n, s, d in events) == sorted(
        (item["id"], "scheduled", "scheduled: immediate") for item in answer["items"])
    shown = client.get(f"/v1/notifications/{answer['items'][0]['id']}", headers=auth).get_json()
    assert [e["status"] for e in shown["events"]] == ["scheduled"]


def test_a_batch_with_no_good_item_is_refused_whole_naming_every_field(client, auth, db):
    body = {"defaults": PUSH_DEFAULTS, "items": [{"to": "bad token"}, "not an object", {}]}

    response = post(client, auth, body, key="all-bad")

    error = assert_error(response, 422)
    assert set(error["fields"]) == {"items.0.to", "items.1", "items.2.to"}
    assert stored_counts() == NOTHING_STORED
    # Nothing was accepted, so the key is still free for a corrected batch.
    retry = post(client, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(1)}, key="all-bad")
    assert retry.status_code == 202 and "Idempotent-Replayed" not in retry.headers


@pytest.mark.parametrize("body, field", [
    ({"items": []}, "items"),
    ({"items": [{}] * 1001}, "items"),
    ({"defaults": PUSH_DEFAULTS}, "items"),
    ({"items": {"to": "token-a"}}, "items"),
    ({"defaults": {**PUSH_DEFAULTS, "to": "token-a"}, "items": [{}]}, "defaults.to"),
    ({"defaults": {**PUSH_DEFAULTS, "priority": "urgent"}, "items": push_items(1)},
     "defaults.priority"),
    ({"defaults": [], "items": push_items(1)}, "defaults"),
    ({"items": push_items(1), "default": PUSH_DEFAULTS}, "default"),
], ids=["empty", "1001-items", "no-items", "items-not-a-list", "address-in-defaults",
        "bad-default", "defaults-not-an-object", "unknown-field"])
def test_a_malformed_envelope_refuses_the_whole_batch(client, auth, body, field):
    assert_error(post(client, auth, body), 422, field)
    assert stored_counts() == NOTHING_STORED


def test_a_body_that_is_not_an_object_is_refused(client, auth):
    assert_error(post(client, auth, [PUSH_DEFAULTS]), 400, "body")
    assert stored_counts() == NOTHING_STORED


def test_the_same_key_with_another_batch_is_a_conflict(client, auth):
    assert post(client, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(2)},
                key="k-1").status_code == 202

    response = post(client, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(3)}, key="k-1")

    assert_error(response, 409, "Idempotency-Key")
    assert stored_counts()["notifications"] == 2


def test_a_test_key_makes_sandbox_notifications(client, db):
    from api.keys.service import create_api_key

    _key, secret = create_api_key("test-service", kind="test")
    answer = post(client, {"Authorization": f"Bearer {secret}"},
                  {"defaults": PUSH_DEFAULTS, "items": push_items(2)}).get_json()

    assert all(fetch(item["id"]).sandbox for item in answer["items"])


# --- the write budget ----------------------------------------------------------------------------

@pytest.fixture
def limited(db, redis):
    """The API with a write budget of 10 a minute, counted in Redis."""
    from api import create_app

    config = replace(settings(), rate_limit_storage_url=redis, rate_limit_writes="10/minute",
                     rate_limit_key_prefix=unique_prefix())
    app = create_app(config)
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_each_item_counts_against_the_write_budget(limited, auth):
    first = post(limited, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(6)})
    assert first.status_code == 202
    assert first.headers["RateLimit-Remaining"] == "4"

    too_many = post(limited, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(5)})

    error = assert_error(too_many, 429)
    assert "counts as 5" in error["message"]
    assert int(too_many.headers["Retry-After"]) >= 1
    assert stored_counts()["notifications"] == 6
    # What remains is still there for a batch that fits.
    fits = post(limited, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(4)})
    assert fits.status_code == 202
    assert fits.headers["RateLimit-Remaining"] == "0"
    assert stored_counts()["notifications"] == 10


def test_a_batch_larger_than_the_whole_budget_says_to_split_it(limited, auth):
    response = post(limited, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(11)})

    error = assert_error(response, 429, "items")
    assert "at most 10" in error["fields"]["items"]
    assert stored_counts() == NOTHING_STORED
    assert post(limited, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(10)}).status_code == 202


def test_a_malformed_batch_costs_one_request(limited, auth):
    assert post(limited, auth, {"items": [{}] * 1001}).status_code == 422

    response = post(limited, auth, {"defaults": PUSH_DEFAULTS, "items": push_items(9)})

    assert response.status_code == 202
    assert response.headers["RateLimit-Remaining"] == "0"


def test_another_services_recipient_is_unknown_to_a_batch(client, auth, other_auth, db):
    assert client.put("/v1/recipients/user-9", json={"push_tokens": ["theirs"]},
                      headers=other_auth).status_code == 201
    assert client.put("/v1/recipients/user-1", json={"push_tokens": ["ours"]},
                      headers=auth).status_code == 201

    answer = post(client, auth, {"defaults": PUSH_DEFAULTS, "items": [
        {"recipient_id": "user-9"}, {"recipient_id": "user-1"}]}).get_json()

    theirs, ours = answer["items"]
    assert set(theirs["error"]["fields"]) == {"items.0.recipient_id"}
    assert [fetch(n["id"]).recipient for n in ours["notifications"]] == ["ours"]
