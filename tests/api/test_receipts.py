"""Twilio's delivery receipts: POST /v1/receipts/twilio/<id>, signed status callbacks on real PostgreSQL.

The app under test has Twilio settings with a public base URL; callbacks are
signed the way Twilio signs them (twilio's RequestValidator over the public
URL and the form). The test client itself reaches the app as http://localhost,
as a request forwarded by a proxy would.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from twilio.request_validator import RequestValidator

from common.config import TwilioSettings, settings
from common.models import Notification, utcnow
from tests.api.helpers import assert_error
from tests.support.factories import events_of, fetch
from tests.support.fake_twilio import status_callback_params
from tests.support.settings import replace

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token-" + uuid.uuid4().hex
PUBLIC_URL = "https://herald.example.test"
FROM_NUMBER = "+15005550006"
TO = "+447700900123"
SID = "SM" + "ab" * 16


@pytest.fixture(scope="module")
def receipts_app(database, broker):
    """The API with Twilio receipts configured, on the run's test database."""
    from api import create_app

    twilio = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER,
                            public_base_url=PUBLIC_URL)
    return create_app(replace(settings(), twilio=twilio))


@pytest.fixture
def twilio_client(receipts_app, db):
    return receipts_app.test_client()


@pytest.fixture
def make_sms(db):
    """Insert one committed SMS row, by default `sent` with Twilio's message SID; returns its id."""
    from api.keys.service import create_api_key

    owner, _secret = create_api_key("receipts-test")

    def make(**columns) -> str:
        now = utcnow()
        ten_seconds_ago, five_seconds_ago = now - timedelta(seconds=10), now - timedelta(seconds=5)
        values = {
            "id": uuid.uuid4(), "service": owner.service, "api_key_id": owner.id,
            "channel": "sms", "recipient": TO, "body": "Your code is 1234", "priority": "normal",
            "deliver_at": ten_seconds_ago, "schedule_reason": "immediate", "enqueued_at": ten_seconds_ago,
            "status": "sent", "attempts": 1, "dispatch_token": uuid.uuid4(),
            "sent_at": five_seconds_ago, "provider_message_id": SID, "segments": 1,
            "created_at": ten_seconds_ago, "updated_at": five_seconds_ago,
        }
        values.update(columns)
        db.session.add(Notification(**values))
        db.session.commit()
        return str(values["id"])

    return make


def callback_url(notification_id: str, base: str = PUBLIC_URL) -> str:
    return f"{base}/v1/receipts/twilio/{notification_id}"


def params(status: str, *, sid: str = SID, error_code: str | None = None) -> dict[str, str]:
    return status_callback_params(sid, status, account_sid=ACCOUNT_SID, to=TO, from_=FROM_NUMBER,
                                  error_code=error_code)


def post_receipt(client, notification_id: str, form: dict[str, str], *, sign_url: str | None = None,
                 token: str = AUTH_TOKEN, signed_form: dict[str, str] | None = None, signature: str | None = ""):
    """POST `form` as Twilio would, signed over `sign_url` (the public URL by default)."""
    if signature == "":
        signature = RequestValidator(token).compute_signature(
            sign_url or callback_url(notification_id), signed_form if signed_form is not None else form)
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return client.post(f"/v1/receipts/twilio/{notification_id}", data=form, headers=headers)


def snapshot(notification_id: str) -> tuple:
    row = fetch(notification_id)
    return (row.status, row.error_code, row.error_message, row.provider_message_id, row.sent_at,
            row.updated_at, row.attempts)


# --- receipts that change the notification -----------------------------------------------------

def test_delivered_moves_a_sent_notification_to_delivered_with_an_event(twilio_client, make_sms):
    nid = make_sms()
    before = snapshot(nid)

    response = post_receipt(twilio_client, nid, params("delivered"))

    assert response.status_code == 200
    assert response.get_json() == {"id": nid, "status": "delivered"}
    row = fetch(nid)
    assert row.status == "delivered"
    assert (row.error_code, row.provider_message_id, row.sent_at, row.attempts) == (None, SID, before[4], 1)
    assert row.updated_at > before[5]
    [event] = events_of(nid)
    assert (event.status, event.error_code, event.detail, event.attempt) == (
        "delivered", None, "receipt: delivered", 1)


@pytest.mark.parametrize(("status", "error_code", "reason"), [
    ("undelivered", "30003", "twilio_30003"),  # unreachable handset
    ("failed", "30008", "twilio_30008"),
    ("undelivered", None, "twilio_undelivered"),
])
def test_undelivered_or_failed_fails_the_notification_with_twilios_error_code(
        twilio_client, make_sms, status, error_code, reason):
    nid = make_sms()

    response = post_receipt(twilio_client, nid, params(status, error_code=error_code))

    assert response.status_code == 200
    assert response.get_json() == {"id": nid, "status": "failed"}
    row = fetch(nid)
    assert (row.status, row.error_code, row.error_message) == ("failed", reason, f"receipt: {reason}")
    [event] = events_of(nid)
    assert (event.status, event.error_code) == ("failed", reason)


# --- forged or misdirected callbacks -------------------------------------------------------------

@pytest.mark.parametrize("forgery", ["another auth token", "no signature", "empty signature", "tampered form"])
def test_a_callback_whose_signature_does_not_match_is_refused_and_changes_nothing(
        twilio_client, make_sms, forgery):
    nid = make_sms()
    before = snapshot(nid)
    form = params("delivered")
    if forgery == "another auth token":
        response = post_receipt(twilio_client, nid, form, token="not-the-auth-token")
    elif forgery == "no signature":
        response = post_receipt(twilio_client, nid, form, signature=None)
    elif forgery == "empty signature":
        response = post_receipt(twilio_client, nid, form, signature=" ")
    else:  # signed as "undelivered", sent as "delivered"
        response = post_receipt(twilio_client, nid, form, signed_form=params("undelivered", error_code="30003"))

    error = assert_error(response, 403, "X-Twilio-Signature")
    assert "X-Twilio-Signature" in error["message"]
    assert snapshot(nid) == before
    assert events_of(nid) == []


@pytest.mark.parametrize("signed_for", [
    "http://localhost/v1/receipts/twilio/{id}",  # the URL the app itself sees behind the proxy
    "https://herald.example.test/v1/receipts/twilio/{other}",  # another notification's URL
    "https://evil.example.test/v1/receipts/twilio/{id}",
])
def test_a_signature_computed_for_another_url_is_refused(twilio_client, make_sms, signed_for):
    nid = make_sms()
    before = snapshot(nid)

    url = signed_for.format(id=nid, other=uuid.uuid4())
    response = post_receipt(twilio_client, nid, params("delivered"), sign_url=url)

    assert_error(response, 403, "X-Twilio-Signature")
    assert snapshot(nid) == before
    assert events_of(nid) == []


# --- receipts that change nothing ----------------------------------------------------------------

def test_a_repeated_delivered_receipt_is_accepted_once(twilio_client, make_sms):
    nid = make_sms()

    first = post_receipt(twilio_client, nid, params("delivered"))
    after_first = snapshot(nid)
    second = post_receipt(twilio_client, nid, params("delivered"))

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json() == {"id": nid, "status": "delivered"}
    assert snapshot(nid) == after_first
    assert [e.status for e in events_of(nid)] == ["delivered"]


@pytest.mark.parametrize(("final", "late"), [
    ("delivered", "sent"),  # Twilio's callbacks may arrive out of order
    ("delivered", "queued"),
    ("delivered", "undelivered"),
    ("undelivered", "delivered"),
])
def test_a_late_receipt_after_a_final_one_changes_nothing(twilio_client, make_sms, final, late):
    nid = make_sms()
    assert post_receipt(twilio_client, nid, params(final, error_code="30003" if final != "delivered" else None)
                        ).status_code == 200
    settled = snapshot(nid)

    response = post_receipt(twilio_client, nid, params(late, error_code="30005" if late == "undelivered" else None))

    assert response.status_code == 200
    assert response.get_json() == {"id": nid, "status": settled[0]}
    assert snapshot(nid) == settled
    assert len(events_of(nid)) == 1


@pytest.mark.parametrize("progress", ["queued", "sending", "sent", "accepted", "scheduled", "read"])
def test_progress_statuses_leave_a_sent_notification_sent(twilio_client, make_sms, progress):
    nid = make_sms()
    before = snapshot(nid)

    response = post_receipt(twilio_client, nid, params(progress))

    assert response.status_code == 200
    assert response.get_json() == {"id": nid, "status": "sent"}
    assert snapshot(nid) == before
    assert events_of(nid) == []


def test_a_receipt_for_a_notification_still_sending_is_dropped(twilio_client, make_sms):
    """Documented behaviour: a receipt that overtakes the worker's own `sent` is not kept.

    Only `sent` moves to `delivered`/`failed`, and only when the row's
    provider_message_id (written together with `sent`) equals MessageSid. While
    the row is `sending` neither holds, so the receipt is acknowledged (200,
    Twilio does not send it again) and the notification later stays `sent`.
    """
    nid = make_sms(status="sending", sent_at=None, provider_message_id=None, segments=None,
                   lease_expires_at=utcnow() + timedelta(minutes=2))
    before = snapshot(nid)

    response = post_receipt(twilio_client, nid, params("delivered"))

    assert response.status_code == 200
    assert response.get_json() == {"id": nid, "status": "sending"}
    assert snapshot(nid) == before
    assert events_of(nid) == []


@pytest.mark.parametrize("status", ["delivered", "undelivered"])
def test_a_message_sid_other_than_the_rows_changes_nothing(twilio_client, make_sms, status):
    nid = make_sms()
    before = snapshot(nid)

    response = post_receipt(twilio_client, nid, params(status, sid="SM" + "cd" * 16, error_code="30003"))

    assert response.status_code == 200
    assert response.get_json() == {"id": nid, "status": "sent"}
    assert snapshot(nid) == before
    assert events_of(nid) == []


def test_a_callback_without_a_message_sid_changes_nothing(twilio_client, make_sms):
    nid = make_sms()
    before = snapshot(nid)
    form = params("delivered")
    del form["MessageSid"], form["SmsSid"]

    response = post_receipt(twilio_client, nid, form)

    assert response.status_code == 200
    assert snapshot(nid) == before
    assert events_of(nid) == []


# --- what is not there ---------------------------------------------------------------------------

@pytest.mark.parametrize("notification_id", [str(uuid.uuid4()), "not-a-uuid", "12345"])
def test_a_correctly_signed_receipt_for_no_such_notification_is_404(twilio_client, db, notification_id):
    response = post_receipt(twilio_client, notification_id, params("delivered"))

    assert_error(response, 404)


def test_receipts_are_404_when_twilio_is_not_configured(client, make_sms):
    # The session's app has no Twilio settings: the endpoint does not exist for it.
    nid = make_sms()
    before = snapshot(nid)

    response = post_receipt(client, nid, params("delivered"))

    assert_error(response, 404)
    assert snapshot(nid) == before


def test_receipts_are_404_without_a_public_url_to_check_signatures_against(db, make_sms):
    from api import create_app

    twilio = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER)
    app = create_app(replace(settings(), twilio=twilio))
    nid = make_sms()

    response = post_receipt(app.test_client(), nid, params("delivered"))

    assert_error(response, 404)
    assert fetch(nid).status == "sent"
    with app.app_context():
        db.engine.dispose()


# --- signed but malformed callbacks ----------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("ErrorCode", "3" * 80),  # longer than the error_code column once prefixed
    ("ErrorCode", "30003\n"),
    ("ErrorCode", "３０００３"),  # full-width digits
    ("ErrorCode", "30003; DROP TABLE notifications"),
    ("MessageSid", SID + "\x00"),
    ("MessageSid", "S" * 300),
    ("MessageSid", SID + "\n"),
])
def test_a_signed_callback_with_a_malformed_value_is_refused_naming_it_and_changes_nothing(
        twilio_client, make_sms, name, value):
    nid = make_sms()
    before = snapshot(nid)
    form = {**params("failed", error_code="30003"), name: value}

    assert_error(post_receipt(twilio_client, nid, form), 422, name)
    assert snapshot(nid) == before
    assert events_of(nid) == []


def test_an_empty_error_code_reads_as_none(twilio_client, make_sms):
    nid = make_sms()

    response = post_receipt(twilio_client, nid, {**params("undelivered"), "ErrorCode": ""})

    assert response.status_code == 200
    assert fetch(nid).error_code == "twilio_undelivered"
