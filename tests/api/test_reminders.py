"""/v1/reminders: notifications timed before an event, created, shown and validated; who may see them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import pytz
from sqlalchemy import select

from common.db import db
from common.models import NotificationGroup, Recipient, utcnow
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.api.reminder_helpers import (DAY, UTC, at, create, in_days, member_rows, reminders_body,
                                        stored_group)
from tests.support.broker import purge, take_published
from tests.support.clock import days_ahead, naive, utc_z
from tests.support.factories import events_of, fetch


# --- creation ----------------------------------------------------------------------------------

def test_three_reminders_for_an_event_three_days_ahead(client, auth):
    event = in_days(3)
    body = reminders_body(event, reference="booking-42")

    response = client.post("/v1/reminders", json=body, headers=auth)

    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"] == f"/v1/reminders/{created['group_id']}"
    assert at(created["event_at"]) == event
    assert created["skipped"] == []
    reminders = created["reminders"]
    assert [r["remind_before"] for r in reminders] == ["24h", "2h", "1h"]
    for reminder, before in zip(reminders, (DAY, timedelta(hours=2), timedelta(hours=1))):
        assert at(reminder["deliver_at"]) == event - before
        assert (reminder["status"], reminder["schedule_reason"]) == ("scheduled", "send_at")
        assert reminder["quiet_hours_shifted"] is False

    group = stored_group(created["group_id"])
    assert (group.kind, group.event_at, group.offsets) == ("reminders", event, [-86400, -7200, -3600])
    assert group.template == body["notification"]
    assert group.service == "test-service"
    rows = member_rows(created["group_id"])
    assert [str(r.id) for r in rows] == [r["id"] for r in reminders]
    assert [r.reminder_offset for r in rows] == [-86400, -7200, -3600]
    for row in rows:
        assert row.send_at == row.deliver_at == event + timedelta(seconds=row.reminder_offset)
        # The top-level reference reaches notifications whose body names none.
        assert (row.status, row.reference, row.enqueued_at) == ("scheduled", "booking-42", None)
        assert [e.status for e in events_of(str(row.id))] == ["scheduled"]


def test_show_lists_the_group_and_its_members(client, auth):
    created = create(client, auth, reminders_body(in_days(3), ("1h", "24h")))

    response = client.get(f"/v1/reminders/{created['group_id']}", headers=auth)

    assert response.status_code == 200
    shown = response.get_json()
    assert shown["group_id"] == created["group_id"]
    assert shown["event_at"] == created["event_at"]
    assert shown["remind_before"] == ["24h", "1h"]
    assert [(r["id"], r["remind_before"], r["status"], r["deliver_at"]) for r in shown["reminders"]] \
        == [(r["id"], r["remind_before"], r["status"], r["deliver_at"]) for r in created["reminders"]]
    assert shown["skipped"] == []


def test_a_reminder_already_in_the_past_is_skipped_and_reported(client, auth):
    event = (utcnow() + timedelta(minutes=90)).replace(microsecond=0)

    created = create(client, auth, reminders_body(event, ("24h", "2h", "1h", "30m")))

    assert [r["remind_before"] for r in created["reminders"]] == ["1h", "30m"]
    assert created["skipped"] == [
        {"remind_before": "24h", "send_at": (event - DAY).isoformat().replace("+00:00", "Z"),
         "reason": "in the past"},
        {"remind_before": "2h",
         "send_at": (event - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
         "reason": "in the past"},
    ]
    assert [r.reminder_offset for r in member_rows(created["group_id"])] == [-3600, -1800]
    # The group remembers every offset asked for; showing it reports the skipped ones again.
    assert stored_group(created["group_id"]).offsets == [-86400, -7200, -3600, -1800]
    shown = client.get(f"/v1/reminders/{created['group_id']}", headers=auth).get_json()
    assert shown["skipped"] == created["skipped"]


def test_when_every_reminder_is_past_the_group_is_made_without_members(client, auth):
    created = create(client, auth, reminders_body(utcnow() + timedelta(minutes=10), ["1h"]))

    assert created["reminders"] == []
    assert [s["remind_before"] for s in created["skipped"]] == ["1h"]
    assert stored_counts()["notifications"] == 0
    assert stored_group(created["group_id"]) is not None


def test_a_reminder_due_within_the_horizon_is_published(client, auth):
    purge("push")
    event = utcnow() + timedelta(minutes=5)

    created = create(client, auth, reminders_body(event, ["2m", "1d"]))

    [reminder] = created["reminders"]
    row = fetch(reminder["id"])
    assert row.enqueued_at is not None
    [task] = take_published("push")
    assert task.args == [reminder["id"], str(row.dispatch_token)]
    assert task.eta == row.deliver_at == event - timedelta(minutes=2)


def test_durations_may_be_written_several_ways(client, auth):
    event = in_days(3)

    created = create(client, auth, reminders_body(event, ["1d", 5400, "1h30m15s", "45s", "0s"]))

    assert [r["remind_before"] for r in created["reminders"]] == ["24h", "5415s", "90m", "45s", "0s"]
    assert [at(r["deliver_at"]) for r in created["reminders"]] == [
        event - DAY, event - timedelta(seconds=5415), event - timedelta(minutes=90),
        event - timedelta(seconds=45), event]


def test_a_naive_event_at_is_read_in_the_notification_timezone(client, auth):
    zone = pytz.timezone("America/New_York")
    local_event = (utcnow() + timedelta(days=4)).astimezone(zone).replace(
        hour=15, minute=0, second=0, microsecond=0, tzinfo=None)
    event = zone.localize(local_event).astimezone(UTC)

    created = create(client, auth, reminders_body(local_event.isoformat(), ["2h"],
                                                  timezone="America/New_York"))

    assert at(created["event_at"]) == event
    [reminder] = created["reminders"]
    assert at(reminder["deliver_at"]) == event - timedelta(hours=2)  # 13:00 local: no quiet hours


def test_a_stored_recipient_gets_each_reminder_on_each_device_in_its_own_timezone(client, auth):
    db.session.add(Recipient(service="test-service", external_id="user-7", timezone="Asia/Tokyo",
                             push_tokens=["phone-token", "tablet-token"], opted_out=[]))
    db.session.commit()
    zone = pytz.timezone("Asia/Tokyo")
    local_event = (utcnow() + timedelta(days=4)).astimezone(zone).replace(
        hour=15, minute=0, second=0, microsecond=0, tzinfo=None)
    event = zone.localize(local_event).astimezone(UTC)
    body = {"event_at": local_event.isoformat(), "remind_before": ["1h", "3h"],
            "notification": {"channel": "push", "recipient_id": "user-7",
                             "content": {"title": "Soon", "body": "Your booking"}}}

    created = create(client, auth, body)

    assert at(created["event_at"]) == event
    reminders = created["reminders"]
    # One per device for each offset; the devices of one offset share its time, so no order.
    assert sorted((r["remind_before"], r["to"]) for r in reminders) == [
        ("1h", "phone-token"), ("1h", "tablet-token"), ("3h", "phone-token"), ("3h", "tablet-token")]
    assert [r["remind_before"] for r in reminders] == ["3h", "3h", "1h", "1h"]
    for reminder in reminders:
        before = timedelta(hours=int(reminder["remind_before"][:-1]))
        assert at(reminder["deliver_at"]) == event - before
    assert {r.timezone for r in member_rows(created["group_id"])} == {"Asia/Tokyo"}


# --- validation --------------------------------------------------------------------------------

def _valid() -> dict:
    return reminders_body(in_days(3))


def _with(**changes) -> dict:
    body = _valid()
    body.update(changes)
    return body


def _notification_with(**changes) -> dict:
    """The valid body with notification fields changed; None removes one."""
    body = _valid()
    merged = {**body["notification"], **changes}
    body["notification"] = {name: value for name, value in merged.items() if value is not None}
    return body


@pytest.mark.parametrize("body, field", [
    pytest.param(_with(remind_before=[]), "remind_before", id="empty list"),
    pytest.param(_with(remind_before=["1d", "24h"]), "remind_before.1", id="duplicate, two spellings"),
    pytest.param(_with(remind_before=["2h", "2h"]), "remind_before.1", id="duplicate"),
    pytest.param(_with(remind_before=["2h", "2x"]), "remind_before.1", id="unknown unit"),
    pytest.param(_with(remind_before=["h"]), "remind_before.0", id="unit without number"),
    pytest.param(_with(remind_before=["30m2h"]), "remind_before.0", id="units out of order"),
    pytest.param(_with(remind_before=[" 2h"]), "remind_before.0", id="spaces"),
    pytest.param(_with(remind_before=["2h\n"]), "remind_before.0", id="trailing newline"),
    pytest.param(_with(remind_before=[-60]), "remind_before.0", id="negative seconds"),
    pytest.param(_with(remind_before=[1.5]), "remind_before.0", id="fractional seconds"),
    pytest.param(_with(remind_before=[True]), "remind_before.0", id="boolean"),
    pytest.param(_with(remind_before=["366d"]), "remind_before.0", id="over a year"),
    pytest.param(_with(remind_before=[f"{n}m" for n in range(1, 12)]), "remind_before",
                 id="eleven reminders"),
    pytest.param(_with(remind_before="2h"), "remind_before", id="not a list"),
    pytest.param(_with(event_at="next tuesday"), "event_at", id="event_at not ISO 8601"),
    pytest.param(_with(event_at=naive(days_ahead(hour=10))), "event_at",
                 id="naive event_at, no timezone"),
    pytest.param(_with(event_at=(utcnow() - timedelta(minutes=1)).isoformat()), "event_at",
                 id="event in the past"),
    pytest.param(_notification_with(to="not a token"), "notification.to", id="bad address"),
    pytest.param(_notification_with(channel="fax"), "notification.channel", id="bad channel"),
    pytest.param(_notification_with(send_at=utc_z(days_ahead(hour=10))), "notification.send_at",
                 id="send_at in the notification"),
    pytest.param(_notification_with(content={"title": "Hi"}), "notification.content.body",
                 id="content without body"),
    pytest.param(_notification_with(timezone="Mars/Base"), "notification.timezone",
                 id="bad timezone"),
    pytest.param(_notification_with(to=None, recipient_id="nobody"), "notification.recipient_id",
                 id="unknown recipient"),
    pytest.param(_with(notification="hello"), "notification", id="notification not an object"),
    pytest.param(_with(reference="x" * 256), "reference", id="reference too long"),
    pytest.param(_with(colour="red"), "colour", id="unknown field"),
])
def test_invalid_requests_name_the_field_and_store_nothing(client, auth, body, field):
    response = client.post("/v1/reminders", json=body, headers=auth)

    assert_error(response, 422, field)
    assert stored_counts() == NOTHING_STORED
    assert db.session.scalar(select(NotificationGroup.id)) is None


def test_missing_fields_are_named(client, auth):
    response = client.post("/v1/reminders", json={}, headers=auth)

    error = assert_error(response, 422)
    # remind_before may be left out: the service's reminder_offsets stand in (test_settings_precedence).
    assert set(error["fields"]) == {"event_at", "notification"}


def test_content_too_large_keeps_its_status_and_names_the_field(client, auth):
    body = _notification_with(content={"title": "Hi", "body": "x" * 2_001})

    assert_error(client.post("/v1/reminders", json=body, headers=auth), 413, "notification.content.body")


def test_a_body_that_is_not_an_object_is_refused(client, auth):
    assert_error(client.post("/v1/reminders", json=["2h"], headers=auth), 400, "body")
    assert_error(client.post("/v1/reminders", data="{}", headers=auth), 415)


def test_an_idempotency_key_is_refused_rather_than_ignored(client, auth):
    response = client.post("/v1/reminders", json=_valid(),
                           headers={**auth, "Idempotency-Key": "booking-42"})

    assert_error(response, 422, "Idempotency-Key")
    assert stored_counts() == NOTHING_STORED


def test_the_api_key_is_required(client):
    assert_error(client.post("/v1/reminders", json=_valid()), 401)


# --- who may see what --------------------------------------------------------------------------

def test_another_service_cannot_see_cancel_or_move_the_group(client, auth, other_auth):
    event = in_days(3)
    created = create(client, auth, reminders_body(event))
    group_id = created["group_id"]

    assert_error(client.get(f"/v1/reminders/{group_id}", headers=other_auth), 404)
    assert_error(client.post(f"/v1/reminders/{group_id}/cancel", headers=other_auth), 404)
    assert_error(client.post(f"/v1/reminders/{group_id}/reschedule",
                             json={"event_at": (event + DAY).isoformat()}, headers=other_auth), 404)

    assert stored_group(group_id).event_at == event
    assert {r.status for r in member_rows(group_id)} == {"scheduled"}
    assert client.get(f"/v1/reminders/{group_id}", headers=auth).status_code == 200


@pytest.mark.parametrize("group_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_groups_are_404(client, auth, group_id):
    assert_error(client.get(f"/v1/reminders/{group_id}", headers=auth), 404)
    assert_error(client.post(f"/v1/reminders/{group_id}/cancel", headers=auth), 404)
    assert_error(client.post(f"/v1/reminders/{group_id}/reschedule",
                             json={"event_at": in_days(3).isoformat()}, headers=auth), 404)


def test_a_device_fan_out_group_is_not_a_reminder_group(client, auth):
    group = NotificationGroup(service="test-service", kind="devices")
    db.session.add(group)
    db.session.commit()

    assert_error(client.get(f"/v1/reminders/{group.id}", headers=auth), 404)
