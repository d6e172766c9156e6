"""The claim decides quiet hours before it counts an attempt, with the same rule as common.quiet_hours."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from common.config import settings
from common.db import db
from common.models import Notification, NotificationEvent, utcnow
from common.quiet_hours import QuietHours, in_quiet_hours
from common.round_trip import quiet_now
from tests.support.factories import fetch
from workers.delivery import deliver

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Sao_Paulo", "Pacific/Chatham"]
WINDOWS = [("22:00", "08:00"), ("08:00", "22:00"), ("00:00", "06:30"), ("23:30", "00:30"),
           ("09:00", "09:00"), ("01:30", "02:30")]  # 01:30-02:30: inside DST gaps and overlaps


def rule(zone: str, start: str, end: str) -> dict:
    return {"start": start, "end": end, "source": "request", "timezone": zone}


def instants() -> list[datetime]:
    """Every 20 minutes over days around this year's and next year's DST changes, and today."""
    year = utcnow().year
    starts = [datetime(y, m, d, tzinfo=timezone.utc) for y in (year, year + 1)
              for m, d in ((3, 8), (3, 29), (4, 4), (10, 3), (10, 25), (11, 1))]
    starts.append(utcnow().replace(minute=0, second=0, microsecond=0))
    return [start + timedelta(minutes=20 * i) for start in starts for i in range(3 * 24 * 3)]


def test_the_claims_quiet_hours_test_agrees_with_the_pure_rule(db, make_notification):
    rows = {}
    for zone in ZONES:
        for start, end in WINDOWS:
            n = make_notification(quiet_hours=rule(zone, start, end), recipient=f"d-{uuid.uuid4()}")
            rows[n.id] = (zone, QuietHours.parse(start, end))
    disagreements = []
    for instant in instants():
        judged = dict(db.session.execute(
            select(Notification.id, quiet_now(instant)).where(Notification.id.in_(list(rows)))).all())
        for nid, (zone, window) in rows.items():
            if judged[nid] != in_quiet_hours(instant, zone, window):
                disagreements.append((instant.isoformat(), zone, window))
    assert disagreements == []


def test_critical_and_ruleless_rows_are_never_quiet(db, make_notification):
    now = utcnow()
    always = rule("UTC", "00:00", "23:59")
    critical = make_notification(priority="critical", quiet_hours=always)
    ruleless = make_notification(quiet_hours=None, recipient="device-2")
    judged = dict(db.session.execute(select(Notification.id, quiet_now(now))).all())
    assert judged == {critical.id: False, ruleless.id: False}


@pytest.mark.parametrize("status, attempts", [("scheduled", 0), ("retrying", 2)])
def test_a_task_arriving_inside_quiet_hours_defers_without_counting_an_attempt(
        db, make_notification, queues, status, attempts):
    now = utcnow()
    window = rule("UTC", (now - timedelta(hours=1)).strftime("%H:%M"),
                  (now + timedelta(hours=2)).strftime("%H:%M"))
    n = make_notification(quiet_hours=window, status=status, attempts=attempts)

    outcome = deliver("push", str(n.id), str(n.dispatch_token), "push@test", settings())

    row = fetch(str(n.id))
    assert outcome.kind == "deferred"
    # Never claimed: still waiting in its status, the count untouched, due after the window.
    assert (row.status, row.attempts) == (status, attempts)
    assert row.deliver_at > now + timedelta(hours=1) and row.dispatch_token != n.dispatch_token
    events = db.session.execute(select(NotificationEvent.status, NotificationEvent.attempt,
                                       NotificationEvent.detail)
                                .where(NotificationEvent.notification_id == n.id)).all()
    assert events == [(status, attempts, "deferred: quiet_hours")]
