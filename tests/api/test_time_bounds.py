"""Times at and past the bounds: refused with a 422 naming the field, never a 500, nothing written.

Herald refuses to schedule anything from `TIME_TABLES_END` (2038-01-01T00:00Z)
on: pytz's tables end in 2037, and later times would silently get the last
known offset. Near year 1 or 9999 a time may not even convert to UTC.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest

from common.db import db
from common.localtime import TIME_TABLES_END
from common.models import Notification, NotificationGroup
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.factories import push_body, sms_body

SECOND = timedelta(seconds=1)
BEYOND = "must be before 2038-01-01T00:00:00Z"


def utc(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def local(moment, zone_offset_hours: int) -> str:
    """The wall time a clock `zone_offset_hours` from UTC shows at `moment`, without offset."""
    return (moment + timedelta(hours=zone_offset_hours)).replace(tzinfo=None).isoformat()


OUT_OF_RANGE = "out of range once converted to UTC"

FAR = [
    pytest.param({"send_at": utc(TIME_TABLES_END)}, BEYOND, id="the first refused instant"),
    pytest.param({"send_at": "2038-07-01T12:00:00", "timezone": "America/New_York"}, BEYOND,
                 id="New York in July 2038"),
    pytest.param({"send_at": "9999-12-31T23:59:59Z"}, BEYOND, id="9999 in UTC"),
    pytest.param({"send_at": "9999-12-31T23:59:59Z", "timezone": "Europe/London"}, BEYOND,
                 id="9999 with quiet hours"),
    pytest.param({"send_at": "9999-12-31T23:59:59", "timezone": "Pacific/Kiritimati"}, BEYOND,
                 id="local 9999 ahead of UTC"),
    pytest.param({"send_at": "9999-12-31T23:59:59", "timezone": "America/Los_Angeles"}, OUT_OF_RANGE,
                 id="local 9999 behind UTC"),
    pytest.param({"send_at": "9999-12-31T23:59:59-05:00"}, OUT_OF_RANGE, id="9999 past UTC's end"),
    pytest.param({"send_at": "2040-02-29T09:00:00+05:30", "priority": "critical"}, BEYOND,
                 id="critical, so no quiet hours"),
]


@pytest.mark.parametrize("fields, problem", FAR)
@pytest.mark.parametrize("path", ["/v1/notifications", "/v1/notifications/preview"])
def test_a_send_at_past_the_time_tables_is_refused(client, auth, path, fields, problem):
    error = assert_error(client.post(path, json=sms_body(**fields), headers=auth), 422, "send_at")

    assert problem in error["fields"]["send_at"]
    assert stored_counts() == NOTHING_STORED


def test_the_last_instant_before_the_bound_is_accepted(client, auth):
    response = client.post("/v1/notifications", headers=auth,
                           json=sms_body(send_at=utc(TIME_TABLES_END - SECOND)))

    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["deliver_at"] == utc(TIME_TABLES_END - SECOND)


def test_quiet_hours_that_would_move_delivery_past_the_bound_are_refused(client, auth):
    # 17:00 in New York two hours before the bound, inside a 16:00-20:00 window:
    # the window's end is 01:00Z on the far side of the bound.
    send_at = local(TIME_TABLES_END - timedelta(hours=2), -5)
    body = sms_body(send_at=send_at, timezone="America/New_York",
                    quiet_hours={"start": "16:00", "end": "20:00"})

    for path in ("/v1/notifications", "/v1/notifications/preview"):
        error = assert_error(client.post(path, json=body, headers=auth), 422, "send_at")
        assert "quiet hours would move delivery to 2038-01-01T01:" in error["fields"]["send_at"]
    assert stored_counts() == NOTHING_STORED


def test_quiet_hours_ending_before_the_bound_still_apply(client, auth):
    # The control: the same window in Auckland (+13) ends well before the bound.
    send_at = local(TIME_TABLES_END - timedelta(hours=12), 13)  # 01:00 local on 1 January
    body = sms_body(send_at=send_at, timezone="Pacific/Auckland",
                    quiet_hours={"start": "00:00", "end": "02:00"})

    response = client.post("/v1/notifications", json=body, headers=auth)

    assert response.status_code == 202, response.get_data(as_text=True)
    accepted = response.get_json()
    assert accepted["quiet_hours_shifted"] is True
    assert accepted["schedule"]["window_end_at"] == utc(TIME_TABLES_END - timedelta(hours=11))


@pytest.mark.parametrize("send_at", ["9999-12-31T23:59:59", utc(TIME_TABLES_END)])
def test_a_naive_send_at_read_in_a_stored_recipients_timezone_is_bounded_too(client, auth, send_at):
    put = client.put("/v1/recipients/ada", json={"phone": "+447700900123", "timezone": "America/Los_Angeles"},
                     headers=auth)
    assert put.status_code == 201
    body = {"channel": "sms", "recipient_id": "ada", "content": {"body": "Hi"},
            "send_at": send_at.removesuffix("Z")}

    assert_error(client.post("/v1/notifications", json=body, headers=auth), 422, "send_at")
    assert stored_counts() == NOTHING_STORED


# --- reminders -----------------------------------------------------------------------------------

def reminders(event_at: str, remind_before=("1h",), **notification) -> dict:
    return {"event_at": event_at, "remind_before": list(remind_before),
            "notification": push_body(**notification)}


def no_groups() -> bool:
    db.session.rollback()
    return db.session.query(NotificationGroup).count() == 0 and db.session.query(Notification).count() == 0


@pytest.mark.parametrize("body", [
    pytest.param(reminders(utc(TIME_TABLES_END)), id="the first refused instant"),
    pytest.param(reminders("9999-12-31T23:59:59Z"), id="9999 in UTC"),
    pytest.param(reminders("9999-12-31T23:59:59", timezone="America/Los_Angeles"), id="local 9999"),
    pytest.param(reminders("2038-07-01T18:00:00", timezone="America/New_York"), id="New York 2038"),
    pytest.param(reminders("9999-12-31T23:59:59-05:00"), id="9999 past UTC's end"),
])
def test_an_event_past_the_time_tables_is_refused(client, auth, body):
    assert_error(client.post("/v1/reminders", json=body, headers=auth), 422, "event_at")
    assert no_groups()


def test_a_reminder_that_quiet_hours_would_move_past_the_bound_is_refused(client, auth):
    # The event is an hour before the bound (18:00 in New York); its 30m reminder
    # falls in a 16:00-20:00 window that ends past the bound.
    body = reminders(utc(TIME_TABLES_END - timedelta(hours=1)), ["30m"], timezone="America/New_York",
                     quiet_hours={"start": "16:00", "end": "20:00"})

    error = assert_error(client.post("/v1/reminders", json=body, headers=auth), 422, "event_at")

    assert "30m reminder" in error["fields"]["event_at"]
    assert no_groups()


def test_rescheduling_past_the_time_tables_is_refused_and_changes_nothing(client, auth):
    event = TIME_TABLES_END - timedelta(days=2)
    created = client.post("/v1/reminders", json=reminders(utc(event), ["1h"], timezone="America/New_York",
                                                          quiet_hours={"start": "16:00", "end": "20:00"}),
                          headers=auth)
    assert created.status_code == 201, created.get_data(as_text=True)
    group = created.get_json()
    path = f"/v1/reminders/{group['group_id']}/reschedule"

    for event_at in (utc(TIME_TABLES_END), "9999-12-31T23:59:59Z", "9999-12-31T23:59:59"):
        assert_error(client.post(path, json={"event_at": event_at}, headers=auth), 422, "event_at")
    # 18:00 in New York an hour before the bound: the 1h reminder's quiet hours end past it.
    moved = utc(TIME_TABLES_END - timedelta(hours=1))
    error = assert_error(client.post(path, json={"event_at": moved}, headers=auth), 422, "event_at")
    assert "quiet hours would move delivery" in error["fields"]["event_at"]

    assert client.get(f"/v1/reminders/{group['group_id']}", headers=auth).get_json() == group


# --- list filters and cursors ----------------------------------------------------------------------

def cursor_of(created_at: str) -> str:
    raw = json.dumps([created_at, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
                                        "0001-01-01T00:00:00+23:59"])
def test_a_cursor_carrying_a_time_out_of_range_is_refused(client, auth, created_at):
    response = client.get("/v1/notifications", query_string={"cursor": cursor_of(created_at)}, headers=auth)

    assert_error(response, 422, "cursor")


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00-05:00", "9999-12-31T23:59:59+05:00"])
def test_a_cursor_at_the_far_ends_of_the_range_lists_normally(client, auth, created_at):
    assert client.post("/v1/notifications", json=sms_body(), headers=auth).status_code == 202

    response = client.get("/v1/notifications", query_string={"cursor": cursor_of(created_at)}, headers=auth)

    assert response.status_code == 200, response.get_data(as_text=True)
    expected = 1 if created_at.startswith("9999") else 0
    assert len(response.get_json()["data"]) == expected


@pytest.mark.parametrize("name", ["created_after", "created_before"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_time_filter_out_of_range_is_refused(client, auth, name, value):
    assert_error(client.get("/v1/notifications", query_string={name: value}, headers=auth), 422, name)
