"""A service's sender settings on the wire: real email@ and sms@ pools, the local SMTP server and Twilio API.

The API (in this process, on the run's PostgreSQL) stores the service's
choice on each notification; the pools, configured for SMTP and Twilio by the
environment alone, read it from the row. Each case sets the sender at the
service level or at none, and checks what smtplib and the twilio client put
on the wire. Run with -s to see what won.
"""

from __future__ import annotations

import secrets
import uuid
from email.utils import formataddr

import pytest

from common.config import settings
from tests.e2e import vendors
from tests.e2e.vendors import start_pools, start_vendors
from tests.support.broker import purge
from tests.support.factories import fetch
from tests.support.processes import stop_all
from tests.support.settings import replace
from tests.support.waiting import wait_until

SERVICE_NUMBER = "+15005550006"
SERVICE_MESSAGING = "MG" + secrets.token_hex(16)
SETTINGS_URL = "/v1/service/settings"


@pytest.fixture(scope="module")
def fakes(tmp_path_factory):
    servers = start_vendors(tmp_path_factory.mktemp("vendors"))
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def sender_pools(app, log_dir, fakes, tmp_path_factory):
    purge("email", "sms")  # tasks left by earlier test modules, whose rows are gone
    env = {**fakes.worker_env(), "OUTBOX_DIR": str(tmp_path_factory.mktemp("outbox"))}
    started = start_pools(("email", "sms"), log_dir, env, concurrency=2)
    try:
        yield started
    finally:
        stop_all(started.values())


@pytest.fixture(autouse=True)
def deployment(app, monkeypatch):
    """The API as this deployment runs it: the senders a service may choose."""
    monkeypatch.setitem(app.config, "HERALD_SETTINGS",
                        replace(settings(), sms_senders=(SERVICE_NUMBER, SERVICE_MESSAGING)))


def save_settings(client, auth, body: dict) -> None:
    response = client.put(SETTINGS_URL, json=body, headers=auth)
    assert response.status_code == 200, response.get_json()


def send_and_wait(client, auth, body: dict) -> str:
    response = client.post("/v1/notifications", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    nid = response.get_json()["id"]
    wait_until(lambda: fetch(nid).status == "sent", timeout=60, interval=0.05,
               message=f"{nid} not sent: {fetch(nid).status}")
    return nid


EMAIL_CASES = [
    pytest.param({"email": {"from_name": "Clinique du Parc", "reply_to": "accueil@example.com"}},
                 ("Clinique du Parc", "accueil@example.com"), id="service"),
    pytest.param({"email": {"from_name": "Clinique du Parc"}},
                 ("Clinique du Parc", vendors.EMAIL_REPLY_TO), id="service name, Herald's Reply-To"),
    pytest.param({}, (vendors.EMAIL_FROM_NAME, vendors.EMAIL_REPLY_TO), id="no level"),
]


@pytest.mark.parametrize("saved, expected", EMAIL_CASES)
def test_the_email_sender_name_and_reply_to_that_won_reach_the_smtp_server(
        client, auth, sender_pools, fakes, saved, expected):
    save_settings(client, auth, saved)
    address = f"patient-{uuid.uuid4().hex[:10]}@example.com"
    send_and_wait(client, auth, {"channel": "email", "to": address,
                                 "content": {"subject": "Your appointment", "body": "Tomorrow at 9"}})

    received = [m for m in list(fakes.smtp.messages) if m.rcpt_tos == [address]]
    assert len(received) == 1
    headers = received[0].message
    from_name, reply_to = expected
    print(f"\n  email sender set at {saved and 'service' or 'no level'}: "
          f"From {headers['From']}, Reply-To {headers['Reply-To']}")
    assert str(headers["From"]) == formataddr((from_name, vendors.EMAIL_FROM))
    assert str(headers["Reply-To"]) == reply_to


SMS_CASES = [
    pytest.param({"sms": {"sender": SERVICE_NUMBER}}, {"From": SERVICE_NUMBER}, id="service number"),
    pytest.param({"sms": {"sender": SERVICE_MESSAGING}}, {"MessagingServiceSid": SERVICE_MESSAGING},
                 id="service messaging service"),
    pytest.param({}, {"From": vendors.TWILIO_FROM_NUMBER}, id="no level"),
]


@pytest.mark.parametrize("saved, expected", SMS_CASES)
def test_the_sms_sender_that_won_reaches_twilio(client, auth, sender_pools, fakes, saved, expected):
    save_settings(client, auth, saved)
    number = f"+4477009{secrets.randbelow(10**5):05d}"
    send_and_wait(client, auth, {"channel": "sms", "to": number, "content": {"body": "See you at 9"}})

    requests = fakes.twilio.requests_to(number)
    assert len(requests) == 1
    form = requests[0].form
    sender = {name: form[name] for name in ("From", "MessagingServiceSid") if name in form}
    print(f"\n  sms sender set at {saved and 'service' or 'no level'}: {sender}")
    assert sender == expected
