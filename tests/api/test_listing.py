"""GET /v1/notifications: filters, newest-first keyset pagination, one service's rows only."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from common.models import Notification
from tests.api.helpers import assert_error
from tests.support.clock import naive, utc_z
from tests.support.factories import email_body, push_body, sms_body

# Creation times the tests write: a whole hour a day before the run.
T0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)


def create(client, auth, body, created_at=None) -> str:
    response = client.post("/v1/notifications", json=body, headers=auth)
    assert response.status_code == 202
    notification_id = response.get_json()["id"]
    if created_at is not None:
        from common.db import db

        db.session.execute(update(Notification).where(Notification.id == uuid.UUID(notification_id))
                           .values(created_at=created_at))
        db.session.commit()
    return notification_id


def listed(client, auth, **query) -> list[str]:
    response = client.get("/v1/notifications", query_string=query, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [n["id"] for n in response.get_json()["data"]]


def walk(client, auth, **query) -> tuple[list[str], list[int]]:
    """Every id over all pages, and the size of each page."""
    ids, sizes, cursor = [], [], None
    while True:
        page_query = {**query, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/notifications", query_string=page_query, headers=auth).get_json()
        ids += [n["id"] for n in page["data"]]
        sizes.append(len(page["data"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes


def test_pages_walk_every_row_once_newest_first(client, auth):
    # Created oldest first, so the newest is the last one made.
    made = [create(client, auth, push_body(f"token-{i}"), created_at=T0 + timedelta(minutes=i))
            for i in range(5)]

    ids, sizes = walk(client, auth, limit=2)

    assert ids == made[::-1]
    assert sizes == [2, 2, 1]


def test_pages_split_rows_with_the_same_created_at_without_loss_or_repeat(client, auth):
    made = [create(client, auth, push_body(f"token-{i}"), created_at=T0) for i in range(5)]

    ids, _sizes = walk(client, auth, limit=2)

    assert ids == sorted(made, key=uuid.UUID, reverse=True)


def test_pages_keep_the_filters(client, auth):
    sms = [create(client, auth, sms_body(), created_at=T0 + timedelta(minutes=i)) for i in range(3)]
    create(client, auth, push_body(), created_at=T0 + timedelta(minutes=10))

    ids, sizes = walk(client, auth, limit=1, channel="sms")

    assert ids == sms[::-1] and sizes == [1, 1, 1]


def test_a_page_shows_the_summary_of_each_notification(client, auth):
    made = create(client, auth, sms_body(reference="otp-1"))

    page = client.get("/v1/notifications", headers=auth).get_json()

    assert page["next_cursor"] is None
    [summary] = page["data"]
    assert summary["id"] == made
    assert (summary["channel"], summary["to"], summary["reference"], summary["status"]) == \
        ("sms", "+447700900123", "otp-1", "scheduled")


def test_filter_by_status(client, auth):
    kept, cancelled = create(client, auth, push_body()), create(client, auth, push_body())
    assert client.post(f"/v1/notifications/{cancelled}/cancel", headers=auth).status_code == 200

    assert listed(client, auth, status="cancelled") == [cancelled]
    assert listed(client, auth, status="scheduled") == [kept]
    assert listed(client, auth, status="sent") == []


def test_filter_by_channel(client, auth):
    ids = {channel: create(client, auth, body()) for channel, body in
           (("push", push_body), ("email", email_body), ("sms", sms_body))}

    for channel, notification_id in ids.items():
        assert listed(client, auth, channel=channel) == [notification_id]


def test_filter_by_recipient(client, auth):
    ada = create(client, auth, sms_body("+447700900123"))
    create(client, auth, sms_body("+447700900456"))

    assert listed(client, auth, recipient="+447700900123") == [ada]
    assert listed(client, auth, recipient="+447700900999") == []


def test_filter_by_reference(client, auth):
    invoice = create(client, auth, email_body(reference="invoice-7"))
    create(client, auth, email_body(reference="invoice-8"))
    create(client, auth, email_body())

    assert listed(client, auth, reference="invoice-7") == [invoice]


def test_filter_by_creation_time_after_is_inclusive_before_is_exclusive(client, auth):
    made = {hours: create(client, auth, push_body(), created_at=T0 - timedelta(hours=hours))
            for hours in (3, 2, 1)}

    window = {"created_after": (T0 - timedelta(hours=2)).isoformat(),
              "created_before": (T0 - timedelta(hours=1)).isoformat()}

    assert listed(client, auth, **window) == [made[2]]
    half_past = utc_z(T0 - timedelta(hours=1, minutes=30))
    assert listed(client, auth, created_after=half_past) == [made[1]]
    assert listed(client, auth, created_before=half_past) == [made[2], made[3]]


def test_only_the_callers_rows_are_listed(client, auth, other_auth):
    ours = create(client, auth, push_body())
    theirs = create(client, other_auth, push_body())

    assert listed(client, auth) == [ours]
    assert listed(client, other_auth) == [theirs]


def test_a_cursor_does_not_reach_another_services_rows(client, auth, other_auth):
    create(client, other_auth, push_body(), created_at=T0)
    ours = [create(client, auth, push_body(), created_at=T0 + timedelta(minutes=i)) for i in (1, 2)]

    ids, _sizes = walk(client, auth, limit=1)

    assert ids == ours[::-1]


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


BAD_QUERIES = [
    ("limit", "0", "zero"), ("limit", "201", "over the maximum"), ("limit", "abc", "letters"),
    ("limit", "-1", "negative"), ("limit", "1.5", "fraction"), ("limit", "²", "superscript digit"),
    ("limit", "9" * 5_000, "more digits than int() reads"),
    ("cursor", "not-a-cursor", "not base64 JSON"),
    ("cursor", _cursor([T0.isoformat(), 5]), "id not a string"),
    ("cursor", _cursor([naive(T0), str(uuid.uuid4())]), "naive time"),
    ("cursor", _cursor({"a": 1}), "object"),
    ("cursor", base64.urlsafe_b64encode(b"[" * 3_000).decode(), "deeply nested"),
    ("status", "bogus", "unknown"), ("status", "", "empty"), ("channel", "pigeon", "unknown"),
    ("created_after", "yesterday", "not ISO 8601"), ("created_after", naive(T0), "naive"),
    ("created_after", "0001-01-01T00:00:00+01:00", "before year 1 in UTC"),
    ("created_before", "9999-12-31T23:59:59-01:00", "after year 9999 in UTC"),
    ("recipient", "+4477\x00", "NUL"), ("reference", "ref\x00", "NUL"),
]


@pytest.mark.parametrize("name, value", [
    pytest.param(name, value, id=f"{name} {why}") for name, value, why in BAD_QUERIES
])
def test_bad_query_parameter_is_422_naming_it(client, auth, name, value):
    response = client.get("/v1/notifications", query_string={name: value}, headers=auth)

    assert_error(response, 422, name)
