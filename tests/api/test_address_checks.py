"""Addresses are checked whole, in ASCII, wherever they enter: notifications and stored recipients.

`$` matches before a trailing newline and `\\d` matches every script's digits;
a comma or a control character in an email address makes it more than one
address, or more than one header line, on the wire.
"""

from __future__ import annotations

import pytest

from common.channels.email import email_problem
from common.channels.push import push_token_problem
from common.channels.sms import phone_problem
from common.db import db
from common.models import Recipient
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.factories import email_body, push_body, sms_body

BAD_PHONES = [
    "+447700900123\n", "+447700900123\r\n", "\n+447700900123", "+447700900123 ",
    "+44７７００９００１２３",  # full-width digits
    "+4٤٧٧٠٠٩٠٠١٢٣",  # Arabic-Indic digits
    "+44۷۷۰۰۹۰۰۱۲۳",  # extended Arabic-Indic digits
    "+44\u0967\u0968\u0969\u0966\u0966\u0966\u0966",  # Devanagari digits
    "+123456789012345\n",  # 17 characters: longer than the phone column
    "+1234567890123456",  # 16 digits
    "+44770090\x00123", "+44770090\u200b0123",
]
BAD_EMAILS = [
    "ada@example.com\n", "ada@example.com\r\nBcc: victim@example.com", "\nada@example.com",
    "a,b@example.com", "ada@example.com,eve@example.com", "a;b@example.com",
    "a\x07b@example.com", "a\tb@example.com", "a b@example.com", "ada@exa mple.com",
    '"a"@example.com', "a<b@example.com", "<ada@example.com>", "Ada <ada@example.com>",
    "a(b)@example.com", "a[b]@example.com", "a\\b@example.com", "ada@@example.com",
    "=?utf-8?q?a=0D=0ABcc=3A=20v=40evil.test?=@example.com",  # an encoded word as the local part
    "ada@example.com\x00", "ada\u2028@example.com", "ada@example.com\u200b", "ada@-example.com",
    ".ada@example.com", "ada.@example.com", "a..da@example.com", "ada@example", "ada@example..com",
    "a" * 65 + "@example.com", "ada@" + "d" * 64 + ".com",
]
BAD_TOKENS = ["device-token\n", "device-token\r\n", "\ndevice-token", "device token", "device\ttoken",
              "device-token\x7f", "device-tokén", "device-token\u200b", ""]

GOOD_PHONES = ["+447700900123", "+15005550006", "+123456789012345"]
GOOD_EMAILS = ["ada@example.com", "ada.lovelace+herald@mail.example.co.uk", "o'brien@example.ie",
               "x_y-z=1@sub-domain.example.com", "ada@xn--r8jz45g.jp"]
GOOD_TOKENS = ["device-token-1", "cYt8:APA91bH_" + "x" * 140]


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_a_malformed_phone_number_is_refused(phone):
    assert phone_problem(phone) is not None


@pytest.mark.parametrize("address", BAD_EMAILS)
def test_a_malformed_email_address_is_refused(address):
    assert email_problem(address) is not None


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_malformed_push_token_is_refused(token):
    assert push_token_problem(token) is not None


@pytest.mark.parametrize("check, address", [(phone_problem, a) for a in GOOD_PHONES]
                         + [(email_problem, a) for a in GOOD_EMAILS]
                         + [(push_token_problem, a) for a in GOOD_TOKENS])
def test_a_well_formed_address_passes(check, address):
    assert check(address) is None


NOTIFICATIONS = ([pytest.param(sms_body(p), id=f"sms {p!r}") for p in BAD_PHONES]
                 + [pytest.param(email_body(a), id=f"email {a!r}") for a in BAD_EMAILS]
                 + [pytest.param(push_body(t), id=f"push {t!r}") for t in BAD_TOKENS])


@pytest.mark.parametrize("body", NOTIFICATIONS)
def test_a_notification_to_a_malformed_address_is_refused_and_stores_nothing(client, auth, body):
    for path in ("/v1/notifications", "/v1/notifications/preview"):
        assert_error(client.post(path, json=body, headers=auth), 422, "to")
    assert stored_counts() == NOTHING_STORED


RECIPIENTS = ([pytest.param({"phone": p}, "phone", id=f"phone {p!r}") for p in BAD_PHONES]
              + [pytest.param({"email": a}, "email", id=f"email {a!r}") for a in BAD_EMAILS]
              + [pytest.param({"push_tokens": ["ok-token", t]}, "push_tokens.1", id=f"token {t!r}")
                 for t in BAD_TOKENS])


@pytest.mark.parametrize("body, field", RECIPIENTS)
def test_a_stored_recipient_with_a_malformed_address_is_refused(client, auth, body, field):
    assert_error(client.put("/v1/recipients/ada", json=body, headers=auth), 422, field)
    db.session.rollback()
    assert db.session.query(Recipient).count() == 0


def test_a_stored_address_that_no_longer_passes_is_never_used(client, auth):
    # Stored before the checks tightened: the recipient has no usable address now.
    assert client.put("/v1/recipients/ada", json={"phone": "+447700900123"}, headers=auth).status_code == 201
    db.session.rollback()
    recipient = db.session.query(Recipient).one()
    recipient.phone = "+447700900123\n"
    db.session.commit()

    response = client.post("/v1/notifications", headers=auth, json={
        "channel": "sms", "recipient_id": "ada", "content": {"body": "Hi"}})

    assert response.status_code == 202, response.get_data(as_text=True)
    [notification] = response.get_json()["notifications"]
    assert notification["status"] == "suppressed"
    shown = client.get(f"/v1/notifications/{notification['id']}", headers=auth).get_json()
    assert shown["to"] == ""
    assert shown["error"]["code"] == "recipient_has_no_address"


def test_rescheduling_reminders_whose_stored_address_no_longer_passes_is_refused(client, auth):
    from datetime import timedelta

    from common.models import NotificationGroup, utcnow

    event = (utcnow() + timedelta(days=3)).isoformat()
    created = client.post("/v1/reminders", headers=auth, json={
        "event_at": event, "remind_before": ["1h"], "notification": sms_body()})
    assert created.status_code == 201
    db.session.rollback()
    group = db.session.query(NotificationGroup).one()
    group.template = {**group.template, "to": "+447700900123\n"}  # stored before the checks tightened
    db.session.commit()

    moved = (utcnow() + timedelta(days=4)).isoformat()
    response = client.post(f"/v1/reminders/{created.get_json()['group_id']}/reschedule", headers=auth,
                           json={"event_at": moved})

    assert_error(response, 422, "notification.to")
