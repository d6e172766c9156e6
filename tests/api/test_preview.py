"""POST /v1/notifications/preview: the computed schedule and its reasons, nothing written."""

from __future__ import annotations

from datetime import timedelta

from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.clock import days_ahead, naive, utc_z, wall_clock
from tests.support.factories import push_body

NEW_YORK = "America/New_York"
# 23:00 in New York, inside the default 22:00-08:00, and the next morning's 08:00.
NIGHT = days_ahead(hour=23, zone=NEW_YORK)
MORNING = wall_clock(NEW_YORK, NIGHT.date() + timedelta(days=1), 8)


def test_a_night_time_send_is_shown_moved_to_the_end_of_quiet_hours(client, auth):
    body = push_body(send_at=naive(NIGHT), timezone=NEW_YORK)

    response = client.post("/v1/notifications/preview", json=body, headers=auth)

    assert response.status_code == 200
    [planned] = response.get_json()["notifications"]
    assert planned["quiet_hours_shifted"] is True
    assert planned["schedule_reason"] == "quiet_hours"
    schedule = planned["schedule"]
    assert schedule["local_due_at"] == NIGHT.isoformat()
    assert schedule["local_window_end_at"] == MORNING.isoformat()
    assert schedule["quiet_hours"] == {"start": "22:00", "end": "08:00", "source": "service",
                                       "timezone": NEW_YORK}
    assert schedule["reasons"] == ["send_at", "quiet_hours", "spread"]
    assert utc_z(MORNING) <= planned["deliver_at"] < utc_z(MORNING + timedelta(minutes=10))


def test_critical_bypasses_quiet_hours_and_says_so(client, auth):
    body = push_body(send_at=naive(NIGHT), timezone=NEW_YORK, priority="critical")

    [planned] = client.post("/v1/notifications/preview", json=body, headers=auth).get_json()[
        "notifications"]

    assert planned["deliver_at"] == utc_z(NIGHT)
    assert planned["schedule"]["reasons"] == ["send_at", "critical: quiet hours bypassed"]


def test_a_request_window_beats_the_service_default(client, auth):
    body = push_body(send_at=naive(NIGHT), timezone=NEW_YORK,
                     quiet_hours={"start": "23:30", "end": "06:00"})

    [planned] = client.post("/v1/notifications/preview", json=body, headers=auth).get_json()[
        "notifications"]

    assert planned["quiet_hours_shifted"] is False
    assert planned["schedule"]["quiet_hours"]["source"] == "request"


def test_without_a_timezone_quiet_hours_cannot_apply(client, auth):
    [planned] = client.post("/v1/notifications/preview", json=push_body(), headers=auth).get_json()[
        "notifications"]

    assert planned["schedule_reason"] == "immediate"
    assert planned["schedule"]["quiet_hours"] == "not applied: no timezone"


def test_preview_writes_nothing(client, auth):
    response = client.post("/v1/notifications/preview", json=push_body(timezone=NEW_YORK),
                           headers={**auth, "Idempotency-Key": "preview-1"})

    assert response.status_code == 200
    assert stored_counts() == NOTHING_STORED


def test_preview_validates_like_create(client, auth):
    response = client.post("/v1/notifications/preview", json=push_body(timezone="Mars/Olympus"),
                           headers=auth)

    assert_error(response, 422, "timezone")
