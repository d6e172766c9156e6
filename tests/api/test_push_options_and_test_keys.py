"""Push `options` (ttl_seconds, collapse_key) through the API, and test-mode keys landing on the sandbox."""

from __future__ import annotations

import uuid

import pytest

from common.config import TwilioSettings, settings
from common.models import Notification
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.broker import purge
from tests.support.factories import email_body, fetch, push_body, sms_body
from tests.support.settings import replace

TWENTY_EIGHT_DAYS = 28 * 24 * 3600


@pytest.fixture
def test_auth(db):
    """A test-mode key of the same service as `auth`."""
    from api.keys.service import create_api_key

    _key, secret = create_api_key("test-service", kind="test")
    return {"Authorization": f"Bearer {secret}"}


def create(client, headers, body) -> dict:
    response = client.post("/v1/notifications", json=body, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def show(client, headers, notification_id: str) -> dict:
    response = client.get(f"/v1/notifications/{notification_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# --- push options ------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {"ttl_seconds": 3600, "collapse_key": "order-42"},
    {"ttl_seconds": 0},  # deliver now or never
    {"ttl_seconds": TWENTY_EIGHT_DAYS},  # FCM's maximum
    {"collapse_key": "k" * 64},
])
def test_push_options_are_stored_and_shown(client, auth, options):
    created = create(client, auth, push_body(options=options))

    assert fetch(created["id"]).options == options
    assert show(client, auth, created["id"])["options"] == options


@pytest.mark.parametrize("options", [None, {}, {"ttl_seconds": None, "collapse_key": None}])
def test_no_options_are_stored_as_none(client, auth, options):
    created = create(client, auth, push_body(options=options))

    assert fetch(created["id"]).options is None
    assert show(client, auth, created["id"])["options"] is None


@pytest.mark.parametrize(("options", "field"), [
    ({"ttl_seconds": -1}, "options.ttl_seconds"),
    ({"ttl_seconds": TWENTY_EIGHT_DAYS + 1}, "options.ttl_seconds"),
    ({"ttl_seconds": True}, "options.ttl_seconds"),
    ({"ttl_seconds": False}, "options.ttl_seconds"),
    ({"ttl_seconds": "60"}, "options.ttl_seconds"),
    ({"ttl_seconds": 60.5}, "options.ttl_seconds"),
    ({"ttl_seconds": 60.0}, "options.ttl_seconds"),
    ({"collapse_key": ""}, "options.collapse_key"),
    ({"collapse_key": "k" * 65}, "options.collapse_key"),
    ({"collapse_key": 42}, "options.collapse_key"),
    ({"collapse_key": "a\x00b"}, "options.collapse_key"),
    ({"priority": "high"}, "options.priority"),
    ({"ttl_seconds": 60, "time_to_live": 60}, "options.time_to_live"),
    ("fast", "options"),
    ([], "options"),
])
def test_invalid_push_options_are_422_naming_the_option(client, auth, options, field):
    response = client.post("/v1/notifications", json=push_body(options=options), headers=auth)

    error = assert_error(response, 422, field)
    assert error["code"] == "invalid_request"
    assert stored_counts() == NOTHING_STORED


def test_an_unknown_option_is_called_unknown(client, auth):
    response = client.post("/v1/notifications", json=push_body(options={"priority": "high"}), headers=auth)

    assert assert_error(response, 422)["fields"] == {"options.priority": "unknown field"}


@pytest.mark.parametrize("body", [email_body, sms_body], ids=["email", "sms"])
@pytest.mark.parametrize("options", [{"ttl_seconds": 60}, {"collapse_key": "x"}, {}])
def test_options_on_email_or_sms_are_422_naming_options(client, auth, body, options):
    response = client.post("/v1/notifications", json=body(options=options), headers=auth)

    error = assert_error(response, 422, "options")
    assert error["fields"]["options"].startswith("not used by the")
    assert stored_counts() == NOTHING_STORED


# --- test keys and the sandbox flag ------------------------------------------------------------

@pytest.mark.parametrize("body", [push_body, email_body, sms_body], ids=["push", "email", "sms"])
def test_a_test_key_makes_a_sandbox_notification(client, test_auth, body):
    created = create(client, test_auth, body())

    assert fetch(created["id"]).sandbox is True
    assert show(client, test_auth, created["id"])["sandbox"] is True


@pytest.mark.parametrize("body", [push_body, email_body, sms_body], ids=["push", "email", "sms"])
def test_a_live_key_makes_a_live_notification(client, auth, body):
    created = create(client, auth, body())

    assert fetch(created["id"]).sandbox is False
    assert show(client, auth, created["id"])["sandbox"] is False


def test_test_and_live_notifications_of_one_service_are_told_apart(client, auth, test_auth):
    live = create(client, auth, push_body())
    test = create(client, test_auth, push_body())

    # Each key sees its own kind, flagged; the other kind is 404 (tests/api/test_key_kinds.py).
    assert show(client, auth, live["id"])["sandbox"] is False
    assert show(client, test_auth, test["id"])["sandbox"] is True
    assert_error(client.get(f"/v1/notifications/{live['id']}", headers=test_auth), 404)


def test_an_idempotency_key_used_in_test_mode_never_answers_a_live_request(client, auth, test_auth):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    sandboxed = create(client, {**test_auth, **key}, sms_body())

    response = client.post("/v1/notifications", json=sms_body(), headers={**auth, **key})

    # A replay would hand the live caller the sandbox notification, which never reaches the phone.
    assert_error(response, 409, "Idempotency-Key")
    [row] = Notification.query.all()
    assert (str(row.id), row.sandbox) == (sandboxed["id"], True)


# --- the worker side: a sandbox row never reaches the vendor -----------------------------------

@pytest.fixture
def fake_twilio():
    from tests.support.fake_twilio import FakeTwilio

    with FakeTwilio("AC" + "0123456789abcdef" * 2, "auth-token-" + uuid.uuid4().hex) as server:
        yield server


@pytest.fixture
def twilio_live(fake_twilio):
    """The workers' settings with real Twilio credentials (the fake), and no providers kept from before."""
    from common import channels
    from workers.providers import close_all

    twilio = TwilioSettings(account_sid=fake_twilio.account_sid, auth_token=fake_twilio.auth_token,
                            from_number="+15005550006", api_base=fake_twilio.url)
    config = replace(settings(), twilio=twilio)
    assert channels.channel("sms").provider_name(config) == "twilio"
    close_all()
    yield config
    close_all()


def deliver_now(notification_id: str, config):
    from workers import delivery

    row = fetch(notification_id)
    purge("sms")  # the API published the task; it is called here as a function instead
    return delivery.deliver("sms", notification_id, str(row.dispatch_token), "sms@test-host",
                            config)


def test_a_sandbox_notification_goes_to_the_outbox_even_with_twilio_configured(
        client, test_auth, twilio_live, fake_twilio, outbox):
    created = create(client, test_auth, sms_body("+447700900555", priority="critical"))

    assert deliver_now(created["id"], twilio_live).kind == "sent"

    row = fetch(created["id"])
    assert (row.status, row.provider_message_id) == ("sent", f"sandbox-{created['id']}-1")
    assert outbox.counts("sms") == {created["id"]: 1}
    assert fake_twilio.requests == []


def test_a_live_notification_with_the_same_settings_reaches_twilio(client, auth, twilio_live, fake_twilio, outbox):
    # The contrast that makes the test above mean something: these settings do send.
    created = create(client, auth, sms_body("+447700900556", priority="critical"))

    assert deliver_now(created["id"], twilio_live).kind == "sent"

    row = fetch(created["id"])
    assert row.status == "sent" and row.provider_message_id.startswith("SM")
    assert [r.form["To"] for r in fake_twilio.requests] == ["+447700900556"]
    assert outbox.counts("sms") == {}
