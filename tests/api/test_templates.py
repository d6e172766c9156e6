"""/v1/templates: versions, listing, retiring, syntax errors, variables, and previews that write nothing."""

from __future__ import annotations

import copy

import pytest
import schemathesis
from sqlalchemy import func, select

from common.db import db
from common.templates.models import Template, TemplateVersion
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.clock import days_ahead
from tests.support.templates import (APPOINTMENT, APPOINTMENT_TEMPLATE, expected_body,
                                     put_appointment_template)

URL = f"/v1/templates/{APPOINTMENT}"


def template_rows() -> dict[str, int]:
    db.session.rollback()
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Template, TemplateVersion)}


def test_the_first_put_creates_version_1_with_its_variables(client, auth):
    response = client.put(URL, json=APPOINTMENT_TEMPLATE, headers=auth)

    assert response.status_code == 201
    assert response.headers["Location"] == URL
    shown = response.get_json()
    assert (shown["key"], shown["version"], shown["current_version"]) == (APPOINTMENT, 1, 1)
    assert shown["locales"] == ["en", "fr"]
    assert shown["channels"] == ["email", "push", "sms"]
    assert shown["variables"] == ["appointment_at", "name"]
    assert shown["content"] == APPOINTMENT_TEMPLATE["locales"]
    assert [v["version"] for v in shown["versions"]] == [1]


def test_every_put_is_a_new_version_and_old_ones_stay_as_they_were(client, auth):
    put_appointment_template(client, auth)
    changed = copy.deepcopy(APPOINTMENT_TEMPLATE)
    changed["locales"]["en"]["sms"]["body"] = "Hello {{ name }}, code {{ code }}"

    second = client.put(URL, json=changed, headers=auth)
    third = client.put(URL, json=changed, headers=auth)  # the same content is still a new version

    assert (second.status_code, third.status_code) == (200, 200)
    assert third.get_json()["version"] == 3
    current = client.get(URL, headers=auth).get_json()
    assert current["version"] == 3
    assert current["variables"] == ["appointment_at", "code", "name"]
    assert [v["version"] for v in current["versions"]] == [1, 2, 3]
    first = client.get(f"{URL}?version=1", headers=auth).get_json()
    assert (first["version"], first["current_version"]) == (1, 3)
    assert first["content"] == APPOINTMENT_TEMPLATE["locales"]
    assert first["variables"] == ["appointment_at", "name"]
    assert_error(client.get(f"{URL}?version=4", headers=auth), 404)
    assert_error(client.get(f"{URL}?version=one", headers=auth), 422, "version")


def test_the_list_shows_each_live_template_by_key(client, auth, other_auth):
    put_appointment_template(client, auth)
    client.put("/v1/templates/booking.cancelled", headers=auth,
               json={"locales": {"en": {"sms": {"body": "Booking {{ ref }} cancelled"}}}})
    client.put("/v1/templates/theirs", headers=other_auth,
               json={"locales": {"en": {"sms": {"body": "Not yours"}}}})

    listed = client.get("/v1/templates", headers=auth).get_json()["data"]

    assert [(t["key"], t["version"], t["channels"]) for t in listed] == [
        (APPOINTMENT, 1, ["email", "push", "sms"]), ("booking.cancelled", 1, ["sms"])]
    assert_error(client.get(URL, headers=other_auth), 404)


def test_a_retired_key_is_hidden_and_sends_nothing_but_its_notifications_keep_their_text(client, auth):
    put_appointment_template(client, auth)
    at = days_ahead(5, hour=10, zone="Europe/Paris")
    sent = client.post("/v1/notifications", headers=auth, json={
        "channel": "sms", "to": "+33639980001", "timezone": "Europe/Paris", "locale": "fr",
        "template": {"key": APPOINTMENT}, "personalisation": {"name": "Zoé", "appointment_at": at.isoformat()}})
    assert sent.status_code == 202

    assert client.delete(URL, headers=auth).status_code == 204

    assert_error(client.get(URL, headers=auth), 404)
    assert client.get("/v1/templates", headers=auth).get_json()["data"] == []
    again = client.post("/v1/notifications", headers=auth, json={
        "channel": "sms", "to": "+33639980001", "template": {"key": APPOINTMENT},
        "personalisation": {"name": "Zoé", "appointment_at": at.isoformat()}})
    assert_error(again, 422, "template.key")
    kept = client.get(sent.headers["Location"], headers=auth).get_json()
    assert kept["content"]["body"] == expected_body("Zoé", at, "Europe/Paris", "fr")
    assert kept["template"] == {"key": APPOINTMENT, "version": 1, "locale": "fr"}
    assert_error(client.delete(URL, headers=auth), 404)
    assert put_appointment_template(client, auth)["version"] == 2  # a PUT brings it back


@pytest.mark.parametrize("body, field", [
    ({"locales": {"en": {"sms": {"body": "Hi {{ name"}}}}, "locales.en.sms.body"),
    ({"locales": {"en": {"email": {"subject": "Hi", "body": "ok", "html": "{% if x %}"}}}},
     "locales.en.email.html"),
    ({"locales": {"en": {"push": {"body": "ok", "data": {"k": "{{ x | nope }}"}}}}},
     "locales.en.push.data.k"),
])
def test_a_syntax_error_is_a_422_naming_the_field_and_saves_nothing(client, auth, body, field):
    error = assert_error(client.put(URL, json=body, headers=auth), 422, field)
    assert "syntax error" in error["fields"][field]
    assert template_rows() == {"templates": 0, "template_versions": 0}


@pytest.mark.parametrize("body, field", [
    ({"locales": {}}, "locales"),
    ({"locales": {"en": {}}}, "locales.en"),
    ({"locales": {"en": {"fax": {"body": "x"}}}}, "locales.en.fax.[key]"),
    ({"locales": {"xx-YY": {"sms": {"body": "x"}}}}, "locales.xx-YY.[key]"),
    ({"locales": {"en": {"sms": {"subject": "x", "body": "y"}}}}, "locales.en.sms.subject"),
    ({"locales": {"en": {"email": {"body": "no subject"}}}}, "locales.en.email.subject"),
    ({"locales": {"en": {"sms": {"body": "x" * 1601}}}}, "locales.en.sms.body"),
    ({"locales": {"en": {"sms": {"body": "x"}}, "EN": {"sms": {"body": "y"}}}}, "locales.EN"),
    ({"locales": {"en": {"sms": {"body": 42}}}}, "locales.en.sms.body"),
])
def test_a_block_the_channel_would_refuse_is_refused_when_saved(client, auth, body, field):
    response = client.put(URL, json=body, headers=auth)
    assert_error(response, response.status_code, field)
    assert response.status_code in (413, 422)
    assert template_rows() == {"templates": 0, "template_versions": 0}


def test_a_key_outside_the_allowed_characters_is_refused(client, auth):
    assert_error(client.put("/v1/templates/a%20b", json=APPOINTMENT_TEMPLATE, headers=auth), 422, "key")
    assert_error(client.get("/v1/templates/" + "k" * 101, headers=auth), 422, "key")


def test_a_preview_renders_for_the_locale_and_lists_what_is_missing(client, auth):
    put_appointment_template(client, auth)
    at = days_ahead(4, hour=9, zone="America/Montreal")
    before = stored_counts(), template_rows()

    full = client.post(f"{URL}/preview", headers=auth, json={
        "channel": "sms", "locale": "fr-CA", "timezone": "America/Montreal",
        "personalisation": {"name": "Zoé", "appointment_at": at.isoformat()}}).get_json()
    partial = client.post(f"{URL}/preview", headers=auth, json={
        "channel": "email", "locale": "de", "personalisation": {"name": "<Max>"}}).get_json()

    assert (full["locale"], full["version"], full["missing"]) == ("fr", 1, [])
    assert full["content"] == {"body": expected_body("Zoé", at, "America/Montreal", "fr")}
    assert (partial["locale"], partial["timezone"], partial["missing"]) == ("en", "UTC", ["appointment_at"])
    assert partial["content"] == {
        "subject": "Your appointment, <Max>",
        "body": "Hi <Max>, see you on {{ appointment_at }}.",
        "html": "<p>Hi &lt;Max&gt;, see you on {{ appointment_at }}.</p>"}
    assert (stored_counts(), template_rows()) == before == (NOTHING_STORED, {"templates": 1, "template_versions": 1})


def test_a_preview_uses_a_stored_recipients_locale_and_zone(client, auth):
    put_appointment_template(client, auth)
    client.put("/v1/recipients/zoe", headers=auth, json={"timezone": "Europe/Paris", "locale": "fr-FR"})
    at = days_ahead(4, hour=18, zone="Europe/Paris")

    shown = client.post(f"{URL}/preview", headers=auth, json={
        "channel": "push", "recipient_id": "zoe",
        "personalisation": {"name": "Zoé", "appointment_at": at.isoformat()}}).get_json()

    assert (shown["locale"], shown["timezone"]) == ("fr", "Europe/Paris")
    assert shown["content"]["body"] == expected_body("Zoé", at, "Europe/Paris", "fr")
    assert shown["content"]["data"] == {"kind": "rendez-vous"}


@pytest.mark.parametrize("body, status, field", [
    ({"channel": "fax"}, 422, "channel"),
    ({"channel": "sms", "version": 9}, 422, "version"),
    ({"channel": "sms", "timezone": "Mars/Olympus"}, 422, "timezone"),
    ({"channel": "sms", "recipient_id": "nobody"}, 422, "recipient_id"),
])
def test_a_bad_preview_names_its_field(client, auth, body, status, field):
    put_appointment_template(client, auth, {"locales": {"en": {"email": {"subject": "s", "body": "b"},
                                                               "sms": {"body": "b"}}}})
    assert_error(client.post(f"{URL}/preview", json=body, headers=auth), status, field)
    if field == "channel":
        no_block = client.post(f"{URL}/preview", json={"channel": "push"}, headers=auth)
        assert_error(no_block, 422, "channel")


def test_each_answer_of_a_templates_day_matches_the_document(app, client, auth):
    """The answers schemathesis cannot reach by chance: a saved key, its versions, a preview."""
    contract = schemathesis.openapi.from_wsgi("/openapi.json", app)
    one, checked = "/v1/templates/{key}", []

    def call(method: str, path: str, template: str, **kwargs):
        response = getattr(client, method)(path, headers=auth, **kwargs)
        contract[template][method.upper()].validate_response(response)
        checked.append(response.status_code)

    call("put", URL, one, json=APPOINTMENT_TEMPLATE)
    call("put", URL, one, json=APPOINTMENT_TEMPLATE)
    call("get", URL, one)
    call("get", f"{URL}?version=1", one)
    call("get", "/v1/templates", "/v1/templates")
    call("post", f"{URL}/preview", one + "/preview", json={"channel": "push", "locale": "fr"})
    call("post", "/v1/notifications", "/v1/notifications", json={
        "channel": "sms", "to": "+447700900123", "template": {"key": APPOINTMENT},
        "personalisation": {"name": "Ada", "appointment_at": days_ahead(2).isoformat()}})
    sent = client.get("/v1/notifications?limit=1", headers=auth).get_json()["data"][0]["id"]
    call("get", f"/v1/notifications/{sent}", "/v1/notifications/{notification_id}")
    call("delete", URL, one)
    assert checked == [201, 200, 200, 200, 200, 200, 202, 200, 204]
