"""GET/PUT /v1/service/settings and its versions: the whole record, validated, versioned, per service."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from common.config import settings
from common.service_settings.models import ServiceSettingsVersion
from tests.api.helpers import assert_error
from tests.support.settings import replace

ALLOWED_SENDER = "+15005550006"
URL = "/v1/service/settings"
FULL = {
    "timezone": "Europe/Paris",
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "locale": "fr",
    "email": {"from_name": "Clinique du Parc", "reply_to": "accueil@example.com"},
    "sms": {"sender": ALLOWED_SENDER},
    "reminder_offsets": {"email": ["1d", "2h"], "sms": [7200]},
    "disabled_channels": ["push"],
}


@pytest.fixture(autouse=True)
def allowed_senders(app, monkeypatch):
    monkeypatch.setitem(app.config, "HERALD_SETTINGS",
                        replace(settings(), sms_senders=(ALLOWED_SENDER,)))


def versions_stored(db) -> int:
    db.session.rollback()  # read what the requests committed
    return db.session.scalar(select(func.count()).select_from(ServiceSettingsVersion))


def test_a_service_that_saved_nothing_sees_herald_defaults(client, auth):
    response = client.get(URL, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == 0 and body["updated_by"] is None and body["updated_at"] is None
    assert set(body["settings"].values()) == {None}
    config = settings()
    assert body["effective"]["locale"] == config.default_locale
    assert body["effective"]["quiet_hours"] == {
        "start": config.quiet_hours.start.strftime("%H:%M"), "end": config.quiet_hours.end.strftime("%H:%M")}
    assert body["effective"]["disabled_channels"] == []
    assert "sms" in body["effective"]["enabled_channels"]


def test_put_saves_a_version_and_get_shows_it_in_force(client, auth, api_key):
    saved = client.put(URL, json=FULL, headers=auth)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    body = saved.get_json()
    assert body["version"] == 1
    assert body["updated_by"]["api_key_prefix"] == api_key[:len(body["updated_by"]["api_key_prefix"])]
    # Durations come back in their canonical spelling, largest first.
    assert body["settings"] == {**FULL, "reminder_offsets": {"email": ["24h", "2h"], "sms": ["2h"]}}
    effective = body["effective"]
    assert effective["timezone"] == "Europe/Paris" and effective["locale"] == "fr"
    assert effective["email"] == FULL["email"] and effective["sms"] == FULL["sms"]
    assert effective["disabled_channels"] == ["push"] and "push" not in effective["enabled_channels"]
    assert client.get(URL, headers=auth).get_json() == body


def test_every_put_is_a_version_with_what_changed_and_who(client, auth, api_key):
    client.put(URL, json={"timezone": "Europe/Paris", "locale": "fr"}, headers=auth)
    client.put(URL, json={"timezone": "America/Chicago", "locale": "fr",
                          "reminder_offsets": {"sms": ["2h"]}}, headers=auth)
    client.put(URL, json={"timezone": "America/Chicago", "locale": "fr",
                          "reminder_offsets": {"sms": ["2h"]}}, headers=auth)

    versions = client.get(f"{URL}/versions", headers=auth).get_json()["versions"]

    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["changes"] == [{"field": "timezone", "before": None, "after": "Europe/Paris"},
                                      {"field": "locale", "before": None, "after": "fr"}]
    assert versions[1]["changes"] == [
        {"field": "timezone", "before": "Europe/Paris", "after": "America/Chicago"},
        {"field": "reminder_offsets", "before": None, "after": {"sms": ["2h"]}}]
    assert versions[0]["changes"] == []  # saved again unchanged: still a version, nothing changed
    assert {v["updated_by"]["api_key_prefix"] for v in versions} == {api_key[:len(versions[0]["updated_by"]["api_key_prefix"])]}
    assert versions[0]["created_at"] >= versions[2]["created_at"]


def test_settings_belong_to_the_keys_service(client, auth, other_auth):
    client.put(URL, json={"locale": "de"}, headers=auth)
    other = client.get(URL, headers=other_auth).get_json()
    assert other["version"] == 0 and other["settings"]["locale"] is None
    assert client.get(f"{URL}/versions", headers=other_auth).get_json() == {"versions": []}


@pytest.mark.parametrize("body, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"locale": "not a locale"}, "locale"),
    ({"email": {"reply_to": "not-an-address"}}, "email.reply_to"),
    ({"email": {"from_name": "x" * 101}}, "email.from_name"),
    ({"email": {"sender": "x"}}, "email.sender"),
    ({"sms": {"sender": "+15005550007"}}, "sms.sender"),
    ({"reminder_offsets": {"sms": ["soon"]}}, "reminder_offsets.sms.0"),
    ({"reminder_offsets": {"sms": ["1d", "24h"]}}, "reminder_offsets.sms.1"),
    ({"reminder_offsets": {"fax": ["1h"]}}, "reminder_offsets.fax.[key]"),
    ({"reminder_offsets": {"sms": []}}, "reminder_offsets.sms"),
    ({"disabled_channels": ["fax"]}, "disabled_channels.0"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_saved(client, auth, db, body, field):
    response = client.put(URL, json=body, headers=auth)
    assert_error(response, 422, field)
    assert versions_stored(db) == 0


def test_a_body_that_is_not_an_object_is_refused(client, auth, db):
    assert_error(client.put(URL, json=["locale", "fr"], headers=auth), 400, "body")
    assert versions_stored(db) == 0


def test_concurrent_puts_each_make_their_own_version_and_never_fail(app, db, api_key):
    """Each request on its own connection; they race for the next version number."""
    attempts = 8
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []
    lock = threading.Lock()
    zones = [f"Etc/GMT+{n}" for n in range(1, attempts + 1)]

    def put(zone: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.put(URL, json={"timezone": zone}, headers={"Authorization": f"Bearer {api_key}"})
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(zone,)) for zone in zones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200] * attempts
    versions = app.test_client().get(f"{URL}/versions",
                                     headers={"Authorization": f"Bearer {api_key}"}).get_json()["versions"]
    assert [v["version"] for v in versions] == list(range(attempts, 0, -1))
    assert sorted(v["settings"]["timezone"] for v in versions) == sorted(zones)
    # Each version's change starts from what the version before it saved.
    oldest_first = versions[::-1]
    for before, after in zip([None, *oldest_first], oldest_first):
        previous = before["settings"]["timezone"] if before else None
        assert after["changes"] == [{"field": "timezone", "before": previous,
                                     "after": after["settings"]["timezone"]}]


def test_a_put_that_keeps_losing_the_race_for_its_version_is_a_409_and_writes_nothing(
        client, auth, db, monkeypatch):
    from api.service_settings import service

    assert client.put(URL, json=FULL, headers=auth).status_code == 200
    # Every attempt reads no version yet, so each tries number 1, which is taken: as if
    # another save landed first every time.
    monkeypatch.setattr(service, "latest_version", lambda _service: None)

    response = client.put(URL, json={**FULL, "locale": "de"}, headers=auth)

    assert_error(response, 409)
    assert response.get_json()["error"]["code"] == "concurrent_update"
    assert versions_stored(db) == 1
