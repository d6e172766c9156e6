"""A naive send_at is read in the request's timezone and stored as the UTC instant."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from tests.support.clock import next_clock_change, next_date
from tests.support.factories import fetch, push_body

UTC = timezone.utc


def local_and_utc(day: date, hour: int, minute: int, utc_hours: float) -> tuple[str, datetime]:
    """A naive local time on `day` and the UTC instant it names, `utc_hours` after it."""
    local = datetime.combine(day, time(hour, minute))
    return local.isoformat(), (local + timedelta(hours=utc_hours)).replace(tzinfo=UTC)


WINTER, SUMMER = next_date(1, 15), next_date(7, 1)
SPRING_FORWARD = next_clock_change("Europe/London", forward=True)
FALL_BACK = next_clock_change("Europe/London", forward=False)


def case(day: date, hour: int, zone: str, utc_hours: float, name: str):
    """hour:30 on `day` in `zone`, and the UTC instant it names, `utc_hours` later."""
    local, instant = local_and_utc(day, hour, 30, utc_hours)
    return pytest.param(local, zone, instant, id=name)


@pytest.mark.parametrize("send_at, zone, instant", [
    case(WINTER, 9, "America/New_York", +5, "winter, UTC-5"),
    case(SUMMER, 9, "Europe/London", -1, "summer time, UTC+1"),
    case(SUMMER, 9, "Asia/Kolkata", -5.5, "half-hour offset"),
    # 01:30 does not exist in London on the spring-forward day: it moves to the jump,
    # 02:00 BST, which is 01:00 UTC.
    case(SPRING_FORWARD, 1, "Europe/London", -0.5, "spring-forward gap"),
    # 01:30 happens twice in London on the fall-back day: the first one, still BST.
    case(FALL_BACK, 1, "Europe/London", -1, "fall-back repeated hour"),
])
def test_naive_send_at_is_stored_as_the_utc_instant(client, auth, send_at, zone, instant):
    # Critical, so that quiet hours (22:00-08:00 by default) leave the night-time cases alone.
    body = push_body(send_at=send_at, timezone=zone, priority="critical")
    response = client.post("/v1/notifications", json=body, headers=auth)

    assert response.status_code == 202
    body = response.get_json()
    assert body["deliver_at"] == instant.isoformat().replace("+00:00", "Z")
    assert body["schedule_reason"] == "send_at"
    row = fetch(body["id"])
    assert row.send_at == instant and row.deliver_at == instant
    assert row.timezone == zone


def test_an_explicit_offset_wins_over_the_timezone(client, auth):
    local, instant = local_and_utc(SUMMER, 9, 30, -2)
    body = push_body(send_at=f"{local}+02:00", timezone="America/New_York")

    created = client.post("/v1/notifications", json=body, headers=auth).get_json()

    assert fetch(created["id"]).send_at == instant
