"""Quiet hours end to end: a recipient in New York is reached when their quiet hours end, never inside them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import pytz

from api import create_app
from common.config import settings
from common.models import Recipient, utcnow
from tests.support.clock import days_ahead, naive
from tests.support.factories import events_of, fetch, push_body
from tests.support.settings import replace
from tests.support.waiting import wait_until

NEW_YORK = "America/New_York"
SPREAD = timedelta(seconds=3)


@pytest.fixture
def api(app, db):
    """The API with a short release spread, so a test can watch a window end."""
    return create_app(replace(settings(), quiet_hours_spread=SPREAD)).test_client()


def add_recipient(db, api_key_service: str, **fields) -> str:
    external_id = f"guest-{uuid.uuid4().hex[:8]}"
    db.session.add(Recipient(service=api_key_service, external_id=external_id, timezone=NEW_YORK,
                             push_tokens=["device-token-ny"], opted_out=[], **fields))
    db.session.commit()
    return external_id


def test_a_notification_due_at_23_00_in_new_york_is_released_at_08_00_and_says_why(api, auth, db):
    guest = add_recipient(db, "test-service")
    due = days_ahead(hour=23, zone=NEW_YORK)

    created = api.post("/v1/notifications", headers=auth, json={
        **push_body(), "to": None, "recipient_id": guest, "send_at": naive(due)})

    assert created.status_code == 202, created.get_json()
    [accepted] = created.get_json()["notifications"]
    shown = api.get(f"/v1/notifications/{accepted['id']}", headers=auth).get_json()
    local_release = datetime.fromisoformat(shown["schedule"]["local_deliver_at"])
    assert (local_release.hour, local_release.minute) == (8, 0) and local_release.second < 3
    assert shown["schedule_reason"] == "quiet_hours" and accepted["quiet_hours_shifted"]
    assert shown["schedule"]["local_due_at"] == due.isoformat()
    assert shown["schedule"]["quiet_hours"] == {"start": "22:00", "end": "08:00",
                                                "source": "service", "timezone": NEW_YORK}
    [scheduled] = shown["events"]
    assert scheduled["detail"].startswith("scheduled: quiet hours 22:00-08:00 (service, America/New_York)")
    print(f"\n[b] due {naive(due)} New York -> deliver_at {shown['deliver_at']} "
          f"({shown['schedule']['local_deliver_at']} local, spread {shown['schedule']['spread_seconds']} s)")


def test_a_worker_delivers_when_the_window_ends_not_before(api, auth, db, pools, outbox):
    # Quiet hours that began an hour ago and end at the next New York minute (10-70 s away):
    # windows are whole minutes, so a live test waits for one to end.
    local_now = utcnow().astimezone(pytz.timezone(NEW_YORK))
    end = (local_now + timedelta(seconds=70)).replace(second=0, microsecond=0)
    start = local_now - timedelta(hours=1)
    guest = add_recipient(db, "test-service", quiet_hours={"start": start.strftime("%H:%M"),
                                                           "end": end.strftime("%H:%M")})

    created = api.post("/v1/notifications", headers=auth, json={
        **push_body(), "to": None, "recipient_id": guest})

    [accepted] = created.get_json()["notifications"]
    window_end = end.astimezone(pytz.utc)
    deliver_at = datetime.fromisoformat(accepted["deliver_at"].replace("Z", "+00:00"))
    assert window_end <= deliver_at < window_end + SPREAD
    wait_until(lambda: fetch(accepted["id"]).status == "sent", timeout=90)
    row = fetch(accepted["id"])
    [line] = outbox.deliveries("push")
    assert row.sent_at >= window_end
    assert row.sent_at - deliver_at < timedelta(seconds=1)
    assert [e.status for e in events_of(accepted["id"])] == ["scheduled", "sending", "sent"]
    print(f"\n[b] window ended {window_end.isoformat()}, deliver_at +"
          f"{(deliver_at - window_end).total_seconds():.3f} s (spread), sent +"
          f"{(row.sent_at - window_end).total_seconds():.3f} s after the window's end, "
          f"outbox line at {line['at']}")
