"""Sending with a template: rendered at accept time per recipient locale and zone, stored as sent."""

from __future__ import annotations

import copy

import pytest

from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.clock import days_ahead
from tests.support.factories import fetch
from tests.support.templates import (APPOINTMENT, APPOINTMENT_TEMPLATE, expected_body, local_when,
                                     put_appointment_template)

# (recipient id, its locale, its timezone, the template locale it gets)
RECIPIENTS = [("zoe", "fr-CA", "America/Montreal", "fr"),
              ("jean", "fr", "Europe/Paris", "fr"),
              ("max", "de", "Europe/Berlin", "en")]  # no German: the template's first locale
ADDRESSES = {"push_tokens": ["device-token-1"], "email": "someone@example.com", "phone": "+447700900123"}


@pytest.fixture
def recipients(client, auth):
    for external_id, locale, zone, _ in RECIPIENTS:
        response = client.put(f"/v1/recipients/{external_id}", headers=auth,
                              json={"locale": locale, "timezone": zone, **ADDRESSES,
                                    "quiet_hours": {"start": "00:00", "end": "00:00"}})
        assert response.status_code == 201


def templated(channel: str, at, **extra) -> dict:
    return {"channel": channel, "template": {"key": APPOINTMENT},
            "personalisation": {"name": "Ana", "appointment_at": at.isoformat()}, **extra}


def the_one(response) -> str:
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    return body["notifications"][0]["id"] if "notifications" in body else body["id"]


@pytest.mark.parametrize("channel", ["push", "email", "sms"])
def test_each_recipient_gets_the_text_in_their_language_and_time(client, auth, recipients, channel):
    put_appointment_template(client, auth)
    at = days_ahead(6, hour=16, minute=45, zone="UTC")

    for external_id, _locale, zone, language in RECIPIENTS:
        nid = the_one(client.post("/v1/notifications", headers=auth,
                                  json=templated(channel, at, recipient_id=external_id)))
        shown = client.get(f"/v1/notifications/{nid}", headers=auth).get_json()
        body = expected_body("Ana", at, zone, language)
        assert shown["template"] == {"key": APPOINTMENT, "version": 1, "locale": language}
        assert shown["content"]["body"] == body
        row = fetch(nid)
        assert (row.body, row.template_key, row.template_version, row.locale) == (
            body, APPOINTMENT, 1, language)
        if channel == "email":
            assert shown["content"]["subject"] == ("Your appointment, Ana" if language == "en"
                                                   else "Votre rendez-vous, Ana")
            assert shown["content"]["html"] == f"<p>{body}</p>"
        if channel == "push":
            assert shown["content"]["title"] == ("Appointment" if language == "en" else "Rendez-vous")
            assert shown["content"]["data"] == {"kind": "appointment" if language == "en"
                                                else "rendez-vous"}


def test_the_request_locale_wins_over_the_recipients(client, auth, recipients):
    put_appointment_template(client, auth)
    at = days_ahead(6, hour=9, zone="Europe/Paris")

    nid = the_one(client.post("/v1/notifications", headers=auth,
                              json=templated("sms", at, recipient_id="jean", locale="en-GB")))

    assert fetch(nid).body == expected_body("Ana", at, "Europe/Paris", "en")
    assert fetch(nid).locale == "en"


def test_an_address_without_a_recipient_renders_in_the_request_timezone_or_utc(client, auth):
    put_appointment_template(client, auth)
    at = days_ahead(6, hour=22, minute=5, zone="UTC")

    in_tokyo = the_one(client.post("/v1/notifications", headers=auth, json=templated(
        "sms", at, to="+447700900123", timezone="Asia/Tokyo", priority="critical")))
    in_utc = the_one(client.post("/v1/notifications", headers=auth,
                                 json=templated("sms", at, to="+447700900123")))

    assert fetch(in_tokyo).body == expected_body("Ana", at, "Asia/Tokyo", "en")
    assert fetch(in_utc).body == expected_body("Ana", at, "UTC", "en")
    assert local_when(at, "Asia/Tokyo", "en") != local_when(at, "UTC", "en")


def test_an_idempotent_retry_gives_the_first_answer_and_renders_nothing_new(client, auth):
    put_appointment_template(client, auth)
    body = templated("sms", days_ahead(3), to="+447700900123")
    headers = {**auth, "Idempotency-Key": "appointment-ana"}

    first = client.post("/v1/notifications", json=body, headers=headers)
    again = client.post("/v1/notifications", json=body, headers=headers)
    other = client.post("/v1/notifications", headers=headers, json={
        **body, "personalisation": {**body["personalisation"], "name": "Bea"}})

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert_error(other, 409)
    assert stored_counts()["notifications"] == 1


def test_a_version_can_be_pinned(client, auth):
    put_appointment_template(client, auth)
    changed = copy.deepcopy(APPOINTMENT_TEMPLATE)
    changed["locales"]["en"]["sms"]["body"] = "v2: {{ name }}"
    put_appointment_template(client, auth, changed)
    at = days_ahead(3)

    pinned = the_one(client.post("/v1/notifications", headers=auth, json={
        **templated("sms", at, to="+447700900123"), "template": {"key": APPOINTMENT, "version": 1}}))
    current = the_one(client.post("/v1/notifications", headers=auth,
                                  json=templated("sms", at, to="+447700900123")))

    assert (fetch(pinned).template_version, fetch(pinned).body) == (
        1, expected_body("Ana", at, "UTC", "en"))
    assert (fetch(current).template_version, fetch(current).body) == (2, "v2: Ana")


def test_a_missing_variable_is_a_422_naming_it_and_writes_nothing(client, auth):
    put_appointment_template(client, auth)

    response = client.post("/v1/notifications", headers=auth, json={
        "channel": "email", "to": "ada@example.com", "template": {"key": APPOINTMENT},
        "personalisation": {"name": "Ada"}}, )

    error = assert_error(response, 422, "personalisation.appointment_at")
    print(f"\n{response.status_code} {response.get_json()}")
    assert set(error["fields"]) == {"personalisation.appointment_at"}
    assert stored_counts() == NOTHING_STORED


def test_in_a_batch_only_the_item_missing_a_variable_is_refused(client, auth):
    put_appointment_template(client, auth)
    at = days_ahead(2, hour=12, zone="UTC")
    batch = {"defaults": {"channel": "sms", "template": {"key": APPOINTMENT},
                          "personalisation": {"appointment_at": at.isoformat()}},
             "items": [{"to": "+447700900123", "personalisation": {"name": "Ada"}},
                       {"to": "+447700900124"},  # no name
                       {"to": "+447700900125", "personalisation": {"name": "Zoé"}, "locale": "fr"}]}

    response = client.post("/v1/notifications/batch", json=batch, headers=auth)

    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    items = answer["items"]
    print(f"\naccepted {answer['accepted']}, refused {answer['refused']}: {items[1]}")
    assert (answer["accepted"], answer["refused"]) == (2, 1)
    assert ["error" in item for item in items] == [False, True, False]
    assert items[1]["error"]["fields"] == {"items.1.personalisation.name": "missing: the template uses it"}
    assert fetch(items[0]["id"]).body == expected_body("Ada", at, "UTC", "en")
    assert fetch(items[2]["id"]).body == expected_body("Zoé", at, "UTC", "fr")
    assert stored_counts()["notifications"] == 2


@pytest.mark.parametrize("body, field", [
    ({"template": {"key": APPOINTMENT}, "content": {"body": "both"}}, "content"),
    ({"content": {"body": "x"}, "personalisation": {"name": "x"}}, "personalisation"),
    ({"content": {"body": "x"}, "locale": "fr"}, "locale"),
    ({"template": {"key": "no-such-template"}}, "template.key"),
    ({"template": {"key": APPOINTMENT, "version": 7}}, "template.version"),
    ({"template": {"key": "bad key!"}}, "template.key"),
    ({"template": {"key": APPOINTMENT}, "personalisation": {"name": "x", "appointment_at": "soon"}},
     "template"),
])
def test_a_bad_template_request_names_its_field_and_writes_nothing(client, auth, body, field):
    put_appointment_template(client, auth)
    response = client.post("/v1/notifications", headers=auth,
                           json={"channel": "sms", "to": "+447700900123", **body})
    assert_error(response, 422, field)
    assert stored_counts() == NOTHING_STORED


def test_rendered_content_still_meets_the_channels_limits(client, auth):
    put_appointment_template(client, auth, {"locales": {"en": {"sms": {"body": "{{ text }}"},
                                                               "push": {"body": "{{ text }}"}}}})
    too_long = client.post("/v1/notifications", headers=auth, json={
        "channel": "sms", "to": "+447700900123", "template": {"key": APPOINTMENT},
        "personalisation": {"text": "x" * 1601}})
    blank = client.post("/v1/notifications", headers=auth, json={
        "channel": "push", "to": "device-token-1", "template": {"key": APPOINTMENT},
        "personalisation": {"text": "   "}})
    no_block = client.post("/v1/notifications", headers=auth, json={
        "channel": "email", "to": "ada@example.com", "template": {"key": APPOINTMENT},
        "personalisation": {"text": "x"}})

    assert "1600" in assert_error(too_long, 422, "template")["fields"]["template"]
    assert_error(blank, 422, "rendered.content.body")
    assert_error(no_block, 422, "template.key")
    assert stored_counts() == NOTHING_STORED


def test_the_services_default_locale_and_timezone_come_before_the_templates_first(client, auth):
    put_appointment_template(client, auth)
    settings = client.put("/v1/service/settings", headers=auth,
                          json={"locale": "fr-BE", "timezone": "Europe/Brussels"})
    assert settings.status_code in (200, 201), settings.get_json()
    at = days_ahead(6, hour=7, minute=40, zone="UTC")

    german = the_one(client.post("/v1/notifications", headers=auth,
                                 json=templated("sms", at, to="+447700900123", locale="de")))
    unasked = the_one(client.post("/v1/notifications", headers=auth,
                                  json=templated("sms", at, to="+447700900123")))
    asked = the_one(client.post("/v1/notifications", headers=auth,
                                json=templated("sms", at, to="+447700900123", locale="en",
                                               timezone="Asia/Tokyo")))

    # de is not in the template: the service's fr-BE, by its language, before the first (en).
    assert (fetch(german).locale, fetch(german).body) == (
        "fr", expected_body("Ana", at, "Europe/Brussels", "fr"))
    assert (fetch(unasked).locale, fetch(unasked).body) == (
        "fr", expected_body("Ana", at, "Europe/Brussels", "fr"))
    assert (fetch(asked).locale, fetch(asked).body) == (
        "en", expected_body("Ana", at, "Asia/Tokyo", "en"))
