"""POST /v1/notifications with `recipient_id`: a stored recipient's addresses, opt-outs, zone, quiet hours."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from common.models import Notification, NotificationGroup
from common.quiet_hours import QuietHours
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.broker import purge, take_published
from tests.support.clock import days_ahead, naive, utc_z, wall_clock
from tests.support.factories import fetch

NEW_YORK = "America/New_York"
CONTENT = {"push": {"title": "Hi", "body": "Hello"},
           "email": {"subject": "Hello", "body": "Hi Ada"},
           "sms": {"body": "Your code is 1234"},
           "telegram": {"text": "Your table is ready"}}
# A night in New York and the next morning, far enough ahead to stay in the database.
EVENING = days_ahead(hour=23, minute=30, zone=NEW_YORK)
LATE_EVENING = EVENING.isoformat()
NEXT_DAY = EVENING.date() + timedelta(days=1)


def new_york(hour: int, minute: int = 0, day=NEXT_DAY) -> str:
    """A local time in New York, with its offset, on the morning after EVENING unless told."""
    return wall_clock(NEW_YORK, day, hour, minute).isoformat()


def put_recipient(client, auth, external_id: str = "user-1", **fields) -> dict:
    response = client.put(f"/v1/recipients/{external_id}", json=fields, headers=auth)
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()


def send(client, auth, channel: str = "push", recipient_id: str = "user-1", **extra):
    body = {"channel": channel, "recipient_id": recipient_id, "content": CONTENT[channel], **extra}
    return client.post("/v1/notifications", json=body, headers=auth)


def sent(client, auth, channel: str = "push", recipient_id: str = "user-1", **extra) -> dict:
    response = send(client, auth, channel, recipient_id, **extra)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def only(body: dict) -> dict:
    """The one notification of a response that made exactly one."""
    [notification] = body["notifications"]
    return notification


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


@pytest.fixture
def queues(broker):
    purge("push", "email", "sms", "telegram")
    yield
    purge("push", "email", "sms", "telegram")


@pytest.fixture
def config(app):
    return app.config["HERALD_SETTINGS"]


# --- addresses ---------------------------------------------------------------------------------

def test_a_push_goes_to_each_of_the_recipients_devices_as_one_group(client, auth, db, queues):
    tokens = ["token-phone", "token-tablet", "token-watch"]
    put_recipient(client, auth, push_tokens=tokens)

    response = send(client, auth, reference="order-7")

    assert response.status_code == 202
    assert "Location" not in response.headers  # three notifications, not one
    body = response.get_json()
    assert set(body) == {"group_id", "notifications"}
    assert len(body["notifications"]) == 3
    assert all(n["status"] == "scheduled" for n in body["notifications"])
    db.session.rollback()
    rows = db.session.execute(select(Notification)).scalars().all()
    assert sorted(r.recipient for r in rows) == sorted(tokens)
    assert {str(r.id) for r in rows} == {n["id"] for n in body["notifications"]}
    assert {str(r.group_id) for r in rows} == {body["group_id"]}
    assert {r.recipient_ref for r in rows} == {"user-1"}
    group = db.session.get(NotificationGroup, uuid.UUID(body["group_id"]))
    assert (group.kind, group.service, group.reference) == ("devices", "test-service", "order-7")
    # No timezone anywhere: due now, so each one is published at once.
    published = take_published("push")
    assert sorted(task.args[0] for task in published) == sorted(str(r.id) for r in rows)

    shown = client.get(f"/v1/notifications/{body['notifications'][0]['id']}", headers=auth).get_json()
    assert (shown["recipient_id"], shown["group_id"]) == ("user-1", body["group_id"])
    assert shown["to"] in tokens


def test_a_push_to_a_single_device_is_one_notification_without_a_group(client, auth):
    put_recipient(client, auth, push_tokens=["token-phone"])

    body = sent(client, auth)

    assert body["group_id"] is None
    assert fetch(only(body)["id"]).recipient == "token-phone"


@pytest.mark.parametrize("channel, field, address", [
    ("email", "email", "ada@example.com"),
    ("sms", "phone", "+12025550143"),
    ("telegram", "telegram_chat_id", "5550199001"),
])
def test_email_sms_and_telegram_use_the_stored_address(client, auth, queues, channel, field, address):
    put_recipient(client, auth, email="ada@example.com", phone="+12025550143",
                  telegram_chat_id="5550199001", push_tokens=["token-a", "token-b"])

    body = sent(client, auth, channel)

    assert body["group_id"] is None
    row = fetch(only(body)["id"])
    assert (row.channel, row.recipient, row.recipient_ref, row.status) == (channel, address, "user-1",
                                                                          "scheduled")
    assert [task.args[0] for task in take_published(channel)] == [str(row.id)]


# --- suppressed ----------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", ["push", "email", "sms", "telegram"])
def test_an_opted_out_channel_makes_one_suppressed_notification_never_published(client, auth, queues,
                                                                               channel):
    put_recipient(client, auth, email="ada@example.com", phone="+12025550143", telegram_chat_id="5550199002",
                  push_tokens=["token-a", "token-b", "token-c"], opted_out=[channel])

    body = sent(client, auth, channel)

    notification = only(body)
    assert notification["status"] == "suppressed"
    assert body["group_id"] is None
    row = fetch(notification["id"])
    assert (row.status, row.error_code, row.enqueued_at) == ("suppressed", "recipient_opted_out", None)
    assert take_published(channel) == []
    shown = client.get(f"/v1/notifications/{row.id}", headers=auth).get_json()
    assert shown["status"] == "suppressed"
    assert shown["error"]["code"] == "recipient_opted_out" and shown["error"]["message"]
    assert [e["status"] for e in shown["events"]] == ["suppressed"]


def test_opting_out_of_one_channel_leaves_the_others(client, auth):
    put_recipient(client, auth, email="ada@example.com", opted_out=["sms", "push"])

    assert only(sent(client, auth, "email"))["status"] == "scheduled"


@pytest.mark.parametrize("channel, fields", [
    ("push", {"email": "ada@example.com", "phone": "+12025550143"}),
    ("email", {"phone": "+12025550143", "push_tokens": ["token-a"]}),
    ("sms", {"email": "ada@example.com"}),
    ("telegram", {"email": "ada@example.com", "phone": "+12025550143"}),
])
def test_no_address_for_the_channel_makes_a_suppressed_notification(client, auth, queues, channel,
                                                                    fields):
    put_recipient(client, auth, **fields)

    body = sent(client, auth, channel)

    row = fetch(only(body)["id"])
    assert (row.status, row.error_code, row.enqueued_at) == ("suppressed", "recipient_has_no_address",
                                                             None)
    assert take_published(channel) == []
    shown = client.get(f"/v1/notifications/{row.id}", headers=auth).get_json()
    assert shown["error"]["code"] == "recipient_has_no_address"


# --- refusals ------------------------------------------------------------------------------------

def test_an_unknown_recipient_is_refused_naming_recipient_id(client, auth, db):
    error = assert_error(send(client, auth, recipient_id="nobody"), 422, "recipient_id")

    assert "PUT /v1/recipients" in error["fields"]["recipient_id"]
    assert stored_counts() == NOTHING_STORED


def test_another_services_recipient_is_unknown(client, auth, other_auth, db):
    put_recipient(client, other_auth, email="ada@example.com")

    assert_error(send(client, auth, "email"), 422, "recipient_id")
    assert stored_counts() == NOTHING_STORED


def test_a_deleted_recipient_is_unknown(client, auth, db):
    put_recipient(client, auth, email="ada@example.com")
    client.delete("/v1/recipients/user-1", headers=auth)

    assert_error(send(client, auth, "email"), 422, "recipient_id")


def test_both_to_and_recipient_id_are_refused(client, auth, db):
    put_recipient(client, auth, email="ada@example.com")

    response = send(client, auth, "email", to="ada@example.com")

    assert_error(response, 422, "to")
    assert stored_counts() == NOTHING_STORED


def test_neither_to_nor_recipient_id_is_refused(client, auth, db):
    response = client.post("/v1/notifications", json={"channel": "sms", "content": CONTENT["sms"]},
                           headers=auth)

    assert_error(response, 422, "to")
    assert stored_counts() == NOTHING_STORED


# --- timezone and quiet hours ------------------------------------------------------------------

def assert_released_after(notification: dict, window_end: str, config) -> None:
    """Moved by quiet hours to `window_end` plus this notification's slot of the spread."""
    assert notification["schedule_reason"] == "quiet_hours" and notification["quiet_hours_shifted"]
    delay = at(notification["deliver_at"]) - at(window_end)
    assert timedelta(0) <= delay < config.quiet_hours_spread
    schedule = notification["schedule"]
    assert at(schedule["window_end_at"]) == at(window_end)
    assert schedule["reasons"] == ["send_at", "quiet_hours", "spread"]
    assert at(schedule["local_deliver_at"]) == at(notification["deliver_at"])


def test_the_recipients_timezone_and_quiet_hours_move_a_late_send(client, auth, config):
    put_recipient(client, auth, timezone=NEW_YORK, push_tokens=["token-a", "token-b"],
                  quiet_hours={"start": "21:00", "end": "07:00"})

    body = sent(client, auth, send_at=LATE_EVENING)

    window = {"start": "21:00", "end": "07:00", "source": "recipient", "timezone": NEW_YORK}
    for notification in body["notifications"]:
        assert_released_after(notification, new_york(7), config)
        schedule = notification["schedule"]
        assert schedule["quiet_hours"] == window
        assert schedule["local_due_at"] == LATE_EVENING
        assert schedule["local_window_end_at"] == new_york(7)
        assert schedule["local_deliver_at"].startswith(f"{NEXT_DAY}T07:0")
        assert schedule["local_deliver_at"].endswith(new_york(7)[-6:])  # New York's offset
        row = fetch(notification["id"])
        assert (row.timezone, row.quiet_hours, row.enqueued_at) == (NEW_YORK, window, None)
        shown = client.get(f"/v1/notifications/{row.id}", headers=auth).get_json()
        assert shown["schedule"] == schedule
    # Each device has its own slot in the spread.
    assert len({n["deliver_at"] for n in body["notifications"]}) == 2


def test_the_recipients_window_beats_the_service_default(client, auth, config):
    assert config.quiet_hours == QuietHours(time(22), time(8))  # the default this test relies on
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "21:00", "end": "07:00"})

    # 21:30 is outside the service's 22:00-08:00 but inside the recipient's 21:00-07:00.
    notification = only(sent(client, auth, "email", send_at=new_york(21, 30, EVENING.date())))

    assert_released_after(notification, new_york(7), config)
    assert notification["schedule"]["quiet_hours"]["source"] == "recipient"


def test_without_a_window_of_their_own_the_service_default_applies(client, auth, config):
    assert config.quiet_hours == QuietHours(time(22), time(8))
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com")

    notification = only(sent(client, auth, "email", send_at=LATE_EVENING))

    assert_released_after(notification, new_york(8), config)
    assert notification["schedule"]["quiet_hours"] == {"start": "22:00", "end": "08:00",
                                                       "source": "service", "timezone": NEW_YORK}


def test_a_recipient_whose_window_starts_and_ends_together_has_no_quiet_hours(client, auth):
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "00:00", "end": "00:00"})

    notification = only(sent(client, auth, "email", send_at=LATE_EVENING))

    assert notification["schedule_reason"] == "send_at"
    assert at(notification["deliver_at"]) == at(LATE_EVENING)
    assert notification["schedule"]["quiet_hours"] is None


def test_a_request_window_beats_the_recipients(client, auth, config):
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "21:00", "end": "07:00"})

    # Inside the recipient's window, outside the request's: the request's rules.
    kept = only(sent(client, auth, "email", send_at=LATE_EVENING,
                     quiet_hours={"start": "23:45", "end": "06:00"}))
    moved = only(sent(client, auth, "email", send_at=new_york(23, 50, EVENING.date()),
                      quiet_hours={"start": "23:45", "end": "06:00"}))

    request_window = {"start": "23:45", "end": "06:00", "source": "request", "timezone": NEW_YORK}
    assert kept["schedule_reason"] == "send_at" and at(kept["deliver_at"]) == at(LATE_EVENING)
    assert kept["schedule"]["quiet_hours"] == request_window
    assert_released_after(moved, new_york(6), config)
    assert moved["schedule"]["quiet_hours"] == request_window


def test_a_request_can_switch_the_recipients_window_off(client, auth):
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "21:00", "end": "07:00"})

    notification = only(sent(client, auth, "email", send_at=LATE_EVENING,
                             quiet_hours={"start": "12:00", "end": "12:00"}))

    assert notification["schedule_reason"] == "send_at"
    assert notification["schedule"]["quiet_hours"] is None


def test_a_request_timezone_beats_the_recipients(client, auth, config):
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "21:00", "end": "07:00"})

    # 23:30 in London is 18:30 or 19:30 in New York: quiet only by London's clock.
    london_evening = days_ahead(hour=23, minute=30, zone="Europe/London")
    notification = only(sent(client, auth, "email", timezone="Europe/London",
                             send_at=naive(london_evening)))

    london_morning = wall_clock("Europe/London", london_evening.date() + timedelta(days=1), 7)
    assert_released_after(notification, london_morning.isoformat(), config)
    assert notification["schedule"]["quiet_hours"] == {
        "start": "21:00", "end": "07:00", "source": "recipient", "timezone": "Europe/London"}
    assert notification["schedule"]["local_due_at"] == london_evening.isoformat()
    row = fetch(notification["id"])
    assert row.timezone == "Europe/London"
    assert row.send_at == london_evening


def test_critical_priority_bypasses_the_recipients_quiet_hours(client, auth):
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "21:00", "end": "07:00"})

    notification = only(sent(client, auth, "email", send_at=LATE_EVENING, priority="critical"))

    assert notification["schedule_reason"] == "send_at"
    assert at(notification["deliver_at"]) == at(LATE_EVENING)
    schedule = notification["schedule"]
    assert schedule["reasons"] == ["send_at", "critical: quiet hours bypassed"]
    assert schedule["quiet_hours"]["source"] == "recipient"


def test_a_naive_send_at_is_read_in_the_recipients_timezone(client, auth, config):
    put_recipient(client, auth, timezone=NEW_YORK, email="ada@example.com",
                  quiet_hours={"start": "21:00", "end": "07:00"})

    notification = only(sent(client, auth, "email", send_at=naive(EVENING)))

    row = fetch(notification["id"])
    assert row.send_at == EVENING  # 23:30 by New York's clock
    assert notification["schedule"]["local_due_at"] == LATE_EVENING
    assert_released_after(notification, new_york(7), config)


def test_a_naive_send_at_with_no_timezone_anywhere_is_refused(client, auth, db):
    put_recipient(client, auth, email="ada@example.com")

    response = send(client, auth, "email", send_at=naive(EVENING))

    assert_error(response, 422, "send_at")
    assert stored_counts() == NOTHING_STORED


def test_with_no_timezone_anywhere_the_schedule_says_quiet_hours_were_not_applied(client, auth):
    put_recipient(client, auth, email="ada@example.com", quiet_hours={"start": "21:00", "end": "07:00"})

    notification = only(sent(client, auth, "email", send_at=utc_z(EVENING)))

    assert notification["schedule_reason"] == "send_at"
    assert at(notification["deliver_at"]) == EVENING
    assert notification["schedule"]["quiet_hours"] == "not applied: no timezone"
    assert notification["schedule"]["local_due_at"] is None
    row = fetch(notification["id"])
    assert (row.timezone, row.quiet_hours) == (None, None)


def test_the_stored_record_is_read_when_the_notification_is_made(client, auth):
    put_recipient(client, auth, email="old@example.com")
    first = only(sent(client, auth, "email"))
    put_recipient(client, auth, email="new@example.com")
    second = only(sent(client, auth, "email"))

    assert (fetch(first["id"]).recipient, fetch(second["id"]).recipient) == ("old@example.com",
                                                                            "new@example.com")


def test_an_idempotent_retry_replays_the_whole_group(client, auth, db):
    put_recipient(client, auth, push_tokens=["token-a", "token-b"])
    headers = {**auth, "Idempotency-Key": "fan-out-1"}
    body = {"channel": "push", "recipient_id": "user-1", "content": CONTENT["push"]}

    first = client.post("/v1/notifications", json=body, headers=headers)
    second = client.post("/v1/notifications", json=body, headers=headers)

    assert first.status_code == second.status_code == 202
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_json() == first.get_json()
    assert stored_counts()["notifications"] == 2
