"""The precedence of every setting, request > recipient > service > Herald's default, through the API.

Each case sets a setting at some levels and checks the value that won. The
sender settings are checked here on the stored row (what the pool reads); the
SMTP and Twilio ends are in tests/e2e/test_settings_vendors.py. Run with -s
to see the table of what won.
"""

from __future__ import annotations

import pytest

from common.config import settings
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.api.reminder_helpers import in_days, reminders_body
from tests.support.clock import days_ahead, naive, utc_z
from tests.support.factories import email_body, sms_body
from tests.support.settings import replace

SENDER = "+15005550006"
SETTINGS_URL = "/v1/service/settings"
RECIPIENT = "patient-7"
LEVELS = ("request", "recipient", "service")

# One distinct value per level, so the winner is plain to see.
TIMEZONES = {"request": "America/New_York", "recipient": "Europe/London", "service": "Asia/Tokyo"}
WINDOWS = {"request": {"start": "20:00", "end": "06:00"}, "recipient": {"start": "21:00", "end": "07:00"},
           "service": {"start": "23:30", "end": "09:15"}}
LOCALES = {"recipient": "fr-CA", "service": "de"}


def _herald_window() -> dict:
    window = settings().quiet_hours
    return {"start": window.start.strftime("%H:%M"), "end": window.end.strftime("%H:%M")}


def _down_the_levels(levels: tuple[str, ...]) -> list[tuple[str, ...]]:
    """All levels set, then the top one taken away each time, down to none: each level wins once."""
    return [levels[i:] for i in range(len(levels) + 1)]


@pytest.fixture(autouse=True)
def allowed_senders(app, monkeypatch):
    monkeypatch.setitem(app.config, "HERALD_SETTINGS", replace(settings(), sms_senders=(SENDER,)))


def save_settings(client, auth, body: dict) -> None:
    response = client.put(SETTINGS_URL, json=body, headers=auth)
    assert response.status_code == 200, response.get_json()


def save_recipient(client, auth, body: dict) -> None:
    response = client.put(f"/v1/recipients/{RECIPIENT}", json={"email": "ada@example.com", **body},
                          headers=auth)
    assert response.status_code in (200, 201), response.get_json()


def preview(client, auth, request: dict) -> dict:
    body = {"channel": "email", "recipient_id": RECIPIENT,
            "content": {"subject": "Your appointment", "body": "See you soon"}, **request}
    response = client.post("/v1/notifications/preview", json=body, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def report(setting: str, given: tuple[str, ...], won) -> None:
    print(f"\n  {setting:<16} set at {'+'.join(given) or 'no level':<26} -> {won}")


def _at_levels(client, auth, given, field: str, values: dict) -> dict:
    """Set `field` at each level in `given`; the preview request carries the request's."""
    save_settings(client, auth, {field: values["service"]} if "service" in given else {})
    save_recipient(client, auth, {field: values["recipient"]} if "recipient" in given else {})
    return {field: values["request"]} if "request" in given else {}


@pytest.mark.parametrize("given", _down_the_levels(LEVELS), ids="+".join)
def test_timezone(client, auth, given):
    request = _at_levels(client, auth, given, "timezone", TIMEZONES)
    won = preview(client, auth, request)["timezone"]
    report("timezone", given, won)
    assert won == (TIMEZONES[given[0]] if given else None)


def test_a_naive_send_at_is_read_in_the_service_timezone_when_nothing_else_names_one(client, auth):
    save_settings(client, auth, {"timezone": "Asia/Tokyo"})
    local = days_ahead(hour=14, zone="Asia/Tokyo")
    response = client.post("/v1/notifications/preview",
                           json=email_body(send_at=naive(local)), headers=auth)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["send_at"] == utc_z(local)


@pytest.mark.parametrize("given", _down_the_levels(LEVELS), ids="+".join)
def test_quiet_hours(client, auth, given):
    request = {"timezone": "Europe/Paris", **_at_levels(client, auth, given, "quiet_hours", WINDOWS)}
    window = preview(client, auth, request)["quiet_hours"]
    won = {"start": window["start"], "end": window["end"]}
    report("quiet_hours", given, f"{won['start']}-{won['end']} ({window['source']})")
    assert won == (WINDOWS[given[0]] if given else _herald_window())
    # Herald's default is the service's window until the service saves one of its own.
    assert window["source"] == (given[0] if given else "service")


@pytest.mark.parametrize("given", _down_the_levels(("recipient", "service")), ids="+".join)
def test_locale(client, auth, given):
    _at_levels(client, auth, given, "locale", {**LOCALES, "request": None})
    won = preview(client, auth, {})["locale"]
    report("locale", given, won)
    assert won == (LOCALES[given[0]] if given else settings().default_locale)


# --- sender settings: what the row carries to the pool -------------------------------------------

def _stored_options(client, auth, body: dict) -> dict | None:
    created = client.post("/v1/notifications", json=body, headers=auth)
    assert created.status_code == 202, created.get_json()
    return client.get(f"/v1/notifications/{created.get_json()['id']}", headers=auth).get_json()["options"]


@pytest.mark.parametrize("given", [("service",), ()], ids=["service", "no level"])
def test_email_sender_name_and_reply_to(client, auth, given):
    chosen = {"from_name": "Clinique du Parc", "reply_to": "accueil@example.com"}
    save_settings(client, auth, {"email": chosen} if given else {})
    options = _stored_options(client, auth, email_body())
    report("email sender", given, options or "Herald's EMAIL_FROM_NAME / EMAIL_REPLY_TO")
    assert options == (chosen if given else None)


@pytest.mark.parametrize("given", [("service",), ()], ids=["service", "no level"])
def test_sms_sender(client, auth, given):
    save_settings(client, auth, {"sms": {"sender": SENDER}} if given else {})
    options = _stored_options(client, auth, sms_body())
    report("sms sender", given, options or "Herald's TWILIO_FROM_NUMBER / MESSAGING_SERVICE_SID")
    assert options == ({"sender": SENDER} if given else None)


# --- reminder offsets ----------------------------------------------------------------------------

@pytest.mark.parametrize("given", _down_the_levels(("request", "service")), ids="+".join)
def test_reminder_offsets(client, auth, given, db):
    save_settings(client, auth, {"reminder_offsets": {"push": ["2d", "30m"]}} if "service" in given else {})
    body = reminders_body(in_days(5), ("24h", "2h"))
    if "request" not in given:
        del body["remind_before"]
    response = client.post("/v1/reminders", json=body, headers=auth)
    if not given:
        report("reminder offsets", given, "422 remind_before")
        assert_error(response, 422, "remind_before")
        assert stored_counts() == NOTHING_STORED
        return
    assert response.status_code == 201, response.get_json()
    won = response.get_json()["remind_before"]
    report("reminder offsets", given, won)
    assert won == (["24h", "2h"] if given[0] == "request" else ["48h", "30m"])


# --- channel switches ----------------------------------------------------------------------------

def test_a_channel_switched_off_refuses_new_notifications_naming_channel(client, auth, db):
    save_settings(client, auth, {"disabled_channels": ["sms"]})

    single = client.post("/v1/notifications", json=sms_body(), headers=auth)
    reminders = client.post("/v1/reminders", json={**reminders_body(in_days(2)), "notification": sms_body()},
                            headers=auth)
    preview_answer = client.post("/v1/notifications/preview", json=sms_body(), headers=auth)

    assert assert_error(single, 422, "channel")["code"] == "channel_disabled"
    assert_error(reminders, 422, "notification.channel")
    assert_error(preview_answer, 422, "channel")
    assert stored_counts() == NOTHING_STORED
    report("channel switch", ("service",), "sms: 422 channel_disabled")


def test_in_a_batch_only_the_switched_off_channel_is_refused(client, auth, db):
    save_settings(client, auth, {"disabled_channels": ["sms"]})
    response = client.post("/v1/notifications/batch",
                           json={"items": [email_body(), sms_body()]}, headers=auth)
    assert response.status_code == 202, response.get_json()
    items = response.get_json()["items"]
    assert "error" not in items[0] and items[0]["status"] == "scheduled"
    assert items[1]["error"]["fields"] == {"items.1.channel": items[1]["error"]["fields"]["items.1.channel"]}
    assert items[1]["error"]["code"] == "channel_disabled"
    assert stored_counts()["notifications"] == 1


def test_a_channel_switched_back_on_accepts_again(client, auth):
    save_settings(client, auth, {"disabled_channels": ["sms"]})
    save_settings(client, auth, {})
    response = client.post("/v1/notifications", json=sms_body(), headers=auth)
    report("channel switch", (), "sms: 202 accepted")
    assert response.status_code == 202
