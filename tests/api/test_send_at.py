"""A naive send_at is read in the request's timezone and stored as the UTC instant."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.support.factories import fetch, push_body

UTC = timezone.utc


@pytest.mark.parametrize("send_at, zone, instant", [
    pytest.param("2030-01-15T09:30:00", "America/New_York", datetime(2030, 1, 15, 14, 30, tzinfo=UTC),
                 id="winter, UTC-5"),
    pytest.param("2030-07-01T09:30:00", "Europe/London", datetime(2030, 7, 1, 8, 30, tzinfo=UTC),
                 id="summer time, UTC+1"),
    pytest.param("2030-07-01T09:30:00", "Asia/Kolkata", datetime(2030, 7, 1, 4, 0, tzinfo=UTC),
                 id="half-hour offset"),
    # 01:30 does not exist in London on 2030-03-31: it moves to the jump, 02:00 BST.
    pytest.param("2030-03-31T01:30:00", "Europe/London", datetime(2030, 3, 31, 1, 0, tzinfo=UTC),
                 id="spring-forward gap"),
    # 01:30 happens twice in London on 2030-10-27: the first one, still BST.
    pytest.param("2030-10-27T01:30:00", "Europe/London", datetime(2030, 10, 27, 0, 30, tzinfo=UTC),
                 id="fall-back repeated hour"),
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
    body = push_body(send_at="2030-07-01T09:30:00+02:00", timezone="America/New_York")

    created = client.post("/v1/notifications", json=body, headers=auth).get_json()

    assert fetch(created["id"]).send_at == datetime(2030, 7, 1, 7, 30, tzinfo=UTC)
