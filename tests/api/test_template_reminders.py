"""Reminders from one template: `event_at` in the recipient's zone and language, `remind_before` as words.

One template serves the reminder 24 hours before and the one 2 hours before;
rescheduling the group renders the pending reminders again with the new time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from common.db import db
from common.models import Notification, NotificationGroup
from tests.api.helpers import assert_error
from tests.api.reminder_helpers import create, member_rows, reschedule
from tests.support.clock import days_ahead
from tests.support.templates import local_when

REMINDER_TEMPLATE = {"locales": {
    "en": {"sms": {"body": "{{ name }}, your appointment is in {{ remind_before | duration }}: "
                           "{{ event_at | local_datetime('d MMMM y, HH:mm') }}."}},
    "fr": {"sms": {"body": "{{ name }}, votre rendez-vous est dans {{ remind_before | duration }} : "
                           "{{ event_at | local_datetime('d MMMM y, HH:mm') }}."}},
}}
IN_WORDS = {("en", 24): "24 hours", ("en", 2): "2 hours",
            ("fr", 24): "24\u00a0heures", ("fr", 2): "2\u00a0heures"}


def expected(language: str, hours: int, event, zone: str) -> str:
    when = local_when(event, zone, language)
    if language == "fr":
        return f"Zoé, votre rendez-vous est dans {IN_WORDS[language, hours]} : {when}."
    return f"Zoé, your appointment is in {IN_WORDS[language, hours]}: {when}."


@pytest.fixture
def reminder_template(client, auth):
    assert client.put("/v1/templates/reminder", json=REMINDER_TEMPLATE, headers=auth).status_code == 201


def recipient(client, auth, locale: str, zone: str) -> None:
    response = client.put("/v1/recipients/zoe", headers=auth, json={
        "locale": locale, "timezone": zone, "phone": "+447700900123",
        "quiet_hours": {"start": "00:00", "end": "00:00"}})
    assert response.status_code == 201


def group_body(event) -> dict:
    return {"event_at": event.isoformat(), "remind_before": ["24h", "2h"], "notification": {
        "channel": "sms", "recipient_id": "zoe", "template": {"key": "reminder"},
        "personalisation": {"name": "Zoé"}}}


@pytest.mark.parametrize("locale, zone, language", [("fr-CA", "America/Montreal", "fr"),
                                                     ("en-AU", "Australia/Sydney", "en")])
def test_one_template_for_24_and_2_hours_before_then_rescheduled(client, auth, reminder_template,
                                                                  locale, zone, language):
    recipient(client, auth, locale, zone)
    event = days_ahead(5, hour=14, minute=30, zone=zone)

    group = create(client, auth, group_body(event))

    first = member_rows(group["group_id"])
    print(f"\n{locale} {zone}: " + " | ".join(m.body for m in first))
    assert [m.body for m in first] == [expected(language, 24, event, zone),
                                       expected(language, 2, event, zone)]
    assert {(m.template_key, m.template_version, m.locale) for m in first} == {("reminder", 1, language)}

    moved = (event + timedelta(days=1, hours=2)).replace(minute=5)
    reschedule(client, auth, group["group_id"], moved)

    after = member_rows(group["group_id"])
    print(f"rescheduled: " + " | ".join(m.body for m in after))
    assert [m.id for m in after] == [m.id for m in first]
    assert [m.body for m in after] == [expected(language, 24, moved, zone),
                                       expected(language, 2, moved, zone)]
    shown = client.get(f"/v1/notifications/{after[1].id}", headers=auth).get_json()
    assert shown["content"]["body"] == expected(language, 2, moved, zone)


def test_a_reminder_template_missing_a_variable_refuses_the_group(client, auth, reminder_template):
    recipient(client, auth, "en", "Europe/London")
    body = group_body(days_ahead(5))
    body["notification"]["personalisation"] = {}

    response = client.post("/v1/reminders", json=body, headers=auth)

    assert_error(response, 422, "notification.personalisation.name")
    assert rows_written() == 0


def rows_written() -> int:
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(Notification))
            + db.session.scalar(select(func.count()).select_from(NotificationGroup)))
