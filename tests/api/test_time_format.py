"""One time format in every answer: ISO 8601 in UTC with `Z`, whatever offset the caller wrote.

Only the fields named `local_*` in a schedule show the recipient's own clock, with its offset.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from common.models import utcnow
from tests.support.factories import push_body, sms_body

IN_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z")
INDIA = timezone(timedelta(hours=5, minutes=30))


def times_in(value, path=""):
    """(path, text) of every time in a JSON answer, except the `local_*` ones."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("local_"):
                yield from times_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from times_in(item, f"{path}.{index}")
    elif isinstance(value, str) and re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T", value):
        yield path, value


def assert_all_utc(answer) -> int:
    found = list(times_in(answer))
    assert found, answer
    assert [(path, text) for path, text in found if not IN_UTC.fullmatch(text)] == []
    return len(found)


def in_india(days: float) -> str:
    """A time `days` ahead, written with India's +05:30 offset."""
    return (utcnow() + timedelta(days=days)).astimezone(INDIA).replace(microsecond=0).isoformat()


def test_a_send_at_with_an_offset_is_answered_in_utc_on_create_show_list_and_preview(client, auth):
    send_at = in_india(3)
    body = sms_body(send_at=send_at, priority="critical")
    expected = datetime.fromisoformat(send_at).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    accepted = client.post("/v1/notifications", json=body, headers={**auth, "Idempotency-Key": "k1"})
    replayed = client.post("/v1/notifications", json=body, headers={**auth, "Idempotency-Key": "k1"})
    shown = client.get(accepted.headers["Location"], headers=auth).get_json()
    listed = client.get("/v1/notifications", headers=auth).get_json()
    preview = client.post("/v1/notifications/preview", json=body, headers=auth).get_json()

    assert accepted.status_code == 202
    assert accepted.get_json()["deliver_at"] == expected
    assert replayed.get_json() == accepted.get_json()
    assert (shown["send_at"], shown["deliver_at"]) == (expected, expected)
    assert listed["data"][0]["deliver_at"] == expected
    assert preview["send_at"] == expected and preview["notifications"][0]["deliver_at"] == expected
    assert shown["schedule"]["due_at"] == expected
    for answer in (accepted.get_json(), shown, listed, preview):
        assert_all_utc(answer)


def test_a_schedule_moved_by_quiet_hours_is_answered_in_utc_with_the_local_times_beside(client, auth):
    body = sms_body(send_at=in_india(3), timezone="Asia/Kolkata", quiet_hours={"start": "00:00", "end": "23:59"})

    accepted = client.post("/v1/notifications", json=body, headers=auth).get_json()

    assert accepted["quiet_hours_shifted"] is True
    assert assert_all_utc(accepted) == 3  # deliver_at, schedule.due_at, schedule.window_end_at
    assert accepted["schedule"]["local_deliver_at"].endswith("+05:30")


def test_reminders_and_recipients_answer_in_utc(client, auth):
    created = client.post("/v1/reminders", headers=auth, json={
        "event_at": in_india(3), "remind_before": ["1h", "2d", "5d"], "notification": push_body()})
    moved = client.post(f"/v1/reminders/{created.get_json()['group_id']}/reschedule", headers=auth,
                        json={"event_at": in_india(4)})
    recipient = client.put("/v1/recipients/ada", json={"phone": "+447700900123"}, headers=auth)

    assert created.status_code == 201 and moved.status_code == 200 and recipient.status_code == 201
    assert created.get_json()["skipped"]  # the 5d reminder would be past: its time is shown too
    for answer in (created.get_json(), moved.get_json(), recipient.get_json()):
        assert_all_utc(answer)
