"""One template, English and French, through the real push, email and SMS pools to the outbox.

Recipients reading fr-CA, fr and de (German falls back to the template's first
locale, English) each get the text in their language and their local time;
what the pools delivered is exactly what the API rendered and stored.
"""

from __future__ import annotations

from tests.support.clock import days_ahead
from tests.support.factories import status_counts
from tests.support.templates import APPOINTMENT, expected_body, put_appointment_template
from tests.support.waiting import wait_until

# (recipient id, locale, timezone, the template's locale it gets, addresses)
RECIPIENTS = [
    ("zoe", "fr-CA", "America/Montreal", "fr", ("device-zoe", "zoe@example.com", "+447700900201")),
    ("jean", "fr", "Europe/Paris", "fr", ("device-jean", "jean@example.com", "+447700900202")),
    ("max", "de", "Europe/Berlin", "en", ("device-max", "max@example.com", "+447700900203")),
]
TITLES = {"push": {"en": "Appointment", "fr": "Rendez-vous"},
          "email": {"en": "Your appointment, Ana", "fr": "Votre rendez-vous, Ana"}}


def test_one_template_reaches_each_recipient_in_their_language(client, auth, pools, outbox):
    put_appointment_template(client, auth)
    for external_id, locale, zone, _, (token, email, phone) in RECIPIENTS:
        assert client.put(f"/v1/recipients/{external_id}", headers=auth, json={
            "locale": locale, "timezone": zone, "push_tokens": [token], "email": email,
            "phone": phone, "quiet_hours": {"start": "00:00", "end": "00:00"}}).status_code == 201
    appointment = days_ahead(7, hour=13, minute=15, zone="UTC")

    expected = {}  # notification id -> (channel, recipient, locale, body, title)
    for external_id, _, zone, language, _ in RECIPIENTS:
        for channel in ("push", "email", "sms"):
            response = client.post("/v1/notifications", headers=auth, json={
                "channel": channel, "recipient_id": external_id, "template": {"key": APPOINTMENT},
                "personalisation": {"name": "Ana", "appointment_at": appointment.isoformat()}})
            assert response.status_code == 202, response.get_json()
            nid = response.get_json()["notifications"][0]["id"]
            expected[nid] = (channel, external_id, language, expected_body("Ana", appointment, zone, language),
                             TITLES.get(channel, {}).get(language))

    wait_until(lambda: status_counts().get("sent") == len(expected), timeout=60,
               message=f"not all sent: {status_counts()}")

    delivered = {d["notification_id"]: d for channel in ("push", "email", "sms")
                 for d in outbox.deliveries(channel)}
    assert set(delivered) == set(expected)
    print()
    for nid, (channel, external_id, language, body, title) in expected.items():
        got = delivered[nid]
        print(f"  {external_id:4} {channel:5} {language}: {got['title'] or '-'} | {got['body']}")
        assert (got["channel"], got["body"], got["title"]) == (channel, body, title)
        if channel == "email":
            assert got["html"] == f"<p>{body}</p>"
        shown = client.get(f"/v1/notifications/{nid}", headers=auth).get_json()
        assert shown["template"] == {"key": APPOINTMENT, "version": 1, "locale": language}
        assert shown["content"]["body"] == body
    assert all(outbox.counts(channel) == {nid: 1 for nid, e in expected.items() if e[0] == channel}
               for channel in ("push", "email", "sms"))
