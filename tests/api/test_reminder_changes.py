"""/v1/reminders: a group cancelled, and moved with its event (reschedule)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import pytz

from common.models import utcnow
from tests.api.helpers import assert_error
from tests.api.reminder_helpers import (DAY, UTC, at, create, force_status, in_days, member_rows,
                                        reminders_body, reschedule, stored_group)
from tests.support.broker import purge, take_published
from tests.support.clock import days_ahead, naive, utc_z
from tests.support.factories import events_of, fetch


# --- cancel ------------------------------------------------------------------------------------

def test_cancel_stops_every_pending_reminder_and_leaves_a_sent_one_sent(client, auth):
    created = create(client, auth, reminders_body(in_days(3)))
    first, second, third = (r["id"] for r in created["reminders"])
    force_status(first, "sent")
    force_status(second, "retrying")

    response = client.post(f"/v1/reminders/{created['group_id']}/cancel", headers=auth)

    assert response.status_code == 200
    body = response.get_json()
    assert body["cancelled"] == 2
    assert [(r["id"], r["status"]) for r in body["reminders"]] == [
        (first, "sent"), (second, "cancelled"), (third, "cancelled")]
    assert [fetch(n).status for n in (first, second, third)] == ["sent", "cancelled", "cancelled"]
    assert [e.status for e in events_of(third)] == ["scheduled", "cancelled"]
    assert events_of(third)[-1].detail == "cancelled with its reminder group"
    assert [e.status for e in events_of(first)] == ["scheduled"]  # nothing written for it

    again = client.post(f"/v1/reminders/{created['group_id']}/cancel", headers=auth)
    assert again.status_code == 200
    assert again.get_json()["cancelled"] == 0
    assert len(events_of(third)) == 2


def test_a_cancelled_group_is_not_brought_back_by_a_reschedule(client, auth):
    event = (utcnow() + timedelta(minutes=90)).replace(microsecond=0)
    created = create(client, auth, reminders_body(event, ("24h", "1h")))  # 24h skipped
    client.post(f"/v1/reminders/{created['group_id']}/cancel", headers=auth)

    moved = reschedule(client, auth, created["group_id"], in_days(5))

    assert [(r["remind_before"], r["status"]) for r in moved["reminders"]] == [("1h", "cancelled")]
    assert moved["skipped"] == []
    assert len(member_rows(created["group_id"])) == 1


# --- reschedule --------------------------------------------------------------------------------

def test_reschedule_moves_every_pending_reminder_by_the_event_move(client, auth):
    event = in_days(3)
    created = create(client, auth, reminders_body(event))
    before = {str(r.id): r for r in member_rows(created["group_id"])}
    tokens = {nid: row.dispatch_token for nid, row in before.items()}
    deliver_ats = {nid: row.deliver_at for nid, row in before.items()}

    moved = reschedule(client, auth, created["group_id"], event + DAY)

    assert at(moved["event_at"]) == event + DAY
    assert moved["skipped"] == []
    assert [r["id"] for r in moved["reminders"]] == [r["id"] for r in created["reminders"]]
    for row in member_rows(created["group_id"]):
        nid = str(row.id)
        assert row.deliver_at - deliver_ats[nid] == DAY
        assert row.send_at == row.deliver_at == event + DAY + timedelta(seconds=row.reminder_offset)
        assert row.dispatch_token != tokens[nid]  # a task already in the broker is stale
        assert (row.status, row.enqueued_at, row.schedule_reason) == ("scheduled", None, "send_at")
        events = events_of(nid)
        assert [e.status for e in events] == ["scheduled", "scheduled"]
        assert events[-1].detail.startswith("rescheduled: the event moved to")
    assert stored_group(created["group_id"]).event_at == event + DAY


def test_reschedule_leaves_sent_and_failed_reminders_as_they_are(client, auth):
    event = in_days(3)
    created = create(client, auth, reminders_body(event))
    sent, failed, pending = (r["id"] for r in created["reminders"])
    force_status(sent, "sent")
    force_status(failed, "failed")
    kept = {nid: (fetch(nid).deliver_at, fetch(nid).dispatch_token) for nid in (sent, failed)}

    moved = reschedule(client, auth, created["group_id"], event + timedelta(hours=5))

    assert [r["status"] for r in moved["reminders"]] == ["sent", "failed", "scheduled"]
    for nid in (sent, failed):
        assert (fetch(nid).deliver_at, fetch(nid).dispatch_token) == kept[nid]
        assert len(events_of(nid)) == 1
    assert fetch(pending).deliver_at == event + timedelta(hours=4)


def test_a_retrying_reminder_moves_and_stays_retrying(client, auth):
    event = in_days(3)
    created = create(client, auth, reminders_body(event, ["1h"]))
    [reminder] = created["reminders"]
    force_status(reminder["id"], "retrying")

    reschedule(client, auth, created["group_id"], event + DAY)

    row = fetch(reminder["id"])
    assert (row.status, row.deliver_at) == ("retrying", event + DAY - timedelta(hours=1))


def test_a_reminder_whose_new_time_is_past_is_cancelled_and_reported(client, auth):
    created = create(client, auth, reminders_body(in_days(3)))
    day_before, two_hours, one_hour = (r["id"] for r in created["reminders"])
    new_event = (utcnow() + timedelta(minutes=90)).replace(microsecond=0)

    moved = reschedule(client, auth, created["group_id"], new_event)

    assert [(s["remind_before"], s.get("id"), s.get("status"), s["reason"]) for s in moved["skipped"]] \
        == [("24h", day_before, "cancelled", "in the past"),
            ("2h", two_hours, "cancelled", "in the past")]
    assert [fetch(n).status for n in (day_before, two_hours, one_hour)] == \
        ["cancelled", "cancelled", "scheduled"]
    assert fetch(one_hour).deliver_at == new_event - timedelta(hours=1)
    assert "is past, the event moved to" in events_of(day_before)[-1].detail


def test_offsets_skipped_at_creation_are_created_once_they_are_in_the_future(client, auth):
    event = (utcnow() + timedelta(minutes=90)).replace(microsecond=0)
    created = create(client, auth, reminders_body(event, reference="booking-9"))
    [one_hour] = created["reminders"]
    new_event = in_days(3)

    moved = reschedule(client, auth, created["group_id"], new_event)

    assert moved["skipped"] == []
    assert [(r["remind_before"], r["status"]) for r in moved["reminders"]] == [
        ("24h", "scheduled"), ("2h", "scheduled"), ("1h", "scheduled")]
    assert moved["reminders"][2]["id"] == one_hour["id"]  # moved, not made again
    rows = member_rows(created["group_id"])
    assert [r.deliver_at for r in rows] == [new_event - DAY, new_event - timedelta(hours=2),
                                           new_event - timedelta(hours=1)]
    assert {r.reference for r in rows} == {"booking-9"}

    again = reschedule(client, auth, created["group_id"], new_event + DAY)
    assert len(again["reminders"]) == 3  # nothing made twice


def test_a_reminder_moved_within_the_horizon_is_published_with_its_new_token(client, auth):
    created = create(client, auth, reminders_body(in_days(3), ["1h"]))
    [reminder] = created["reminders"]
    purge("push")
    new_event = utcnow() + timedelta(hours=1, minutes=3)

    reschedule(client, auth, created["group_id"], new_event)

    row = fetch(reminder["id"])
    assert row.enqueued_at is not None
    [task] = take_published("push")
    assert task.args == [reminder["id"], str(row.dispatch_token)]
    assert task.eta == row.deliver_at == new_event - timedelta(hours=1)


def _local_day(zone, days_ahead: int) -> datetime:
    return (utcnow() + timedelta(days=days_ahead)).astimezone(zone).replace(
        hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


def test_a_rescheduled_reminder_is_shifted_out_of_quiet_hours(client, auth):
    # Normal priority in Europe/London: the service's default quiet hours, 22:00-08:00, apply.
    zone = pytz.timezone("Europe/London")
    day = _local_day(zone, 5)
    created = create(client, auth, reminders_body((day + timedelta(hours=12)).isoformat(), ["2h"],
                                                  timezone="Europe/London"))
    [reminder] = created["reminders"]
    assert reminder["quiet_hours_shifted"] is False  # 10:00 local

    # The event moves to 09:00 the next day: two hours before is 07:00, inside the window.
    moved = reschedule(client, auth, created["group_id"], (day + DAY + timedelta(hours=9)).isoformat())

    [shifted] = moved["reminders"]
    assert shifted["id"] == reminder["id"]
    assert (shifted["schedule_reason"], shifted["quiet_hours_shifted"]) == ("quiet_hours", True)
    window_end = zone.localize(day + DAY + timedelta(hours=8)).astimezone(UTC)
    assert at(shifted["send_at"]) == zone.localize(day + DAY + timedelta(hours=7)).astimezone(UTC)
    assert window_end <= at(shifted["deliver_at"]) <= window_end + timedelta(minutes=10)  # spread
    row = fetch(reminder["id"])
    assert row.schedule_detail["quiet_hours"]["source"] == "service"
    assert "quiet hours: released" in events_of(reminder["id"])[-1].detail


def test_reschedule_of_a_critical_reminder_ignores_quiet_hours(client, auth):
    zone = pytz.timezone("Europe/London")
    day = _local_day(zone, 5)
    created = create(client, auth, reminders_body((day + timedelta(hours=12)).isoformat(), ["2h"],
                                                  timezone="Europe/London", priority="critical"))

    moved = reschedule(client, auth, created["group_id"], (day + DAY + timedelta(hours=9)).isoformat())

    [reminder] = moved["reminders"]
    assert at(reminder["deliver_at"]) == zone.localize(day + DAY + timedelta(hours=7)).astimezone(UTC)


@pytest.mark.parametrize("body, field", [
    pytest.param({}, "event_at", id="missing"),
    pytest.param({"event_at": "soon"}, "event_at", id="not ISO 8601"),
    pytest.param({"event_at": utc_z(days_ahead(-30))}, "event_at", id="in the past"),
    pytest.param({"event_at": naive(days_ahead(30))}, "event_at", id="naive without a timezone"),
    pytest.param({"event_at": utc_z(days_ahead(30)), "remind_before": ["1h"]}, "remind_before",
                 id="unknown field"),
])
def test_reschedule_validation(client, auth, body, field):
    event = in_days(3)
    created = create(client, auth, reminders_body(event))

    response = client.post(f"/v1/reminders/{created['group_id']}/reschedule", json=body, headers=auth)

    assert_error(response, 422, field)
    assert stored_group(created["group_id"]).event_at == event
    assert [len(events_of(r["id"])) for r in created["reminders"]] == [1, 1, 1]
