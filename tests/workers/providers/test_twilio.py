"""The Twilio SMS provider: the real twilio client against a local server that speaks the Messages API."""

from __future__ import annotations

import base64
import logging
import re
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.datastructures import MultiDict

from common.config import TwilioSettings
from common.statuses import Status
from common.twilio_signature import callback_outcome, valid_callback
from tests.support.fake_twilio import (
    FakeTwilio,
    accepted,
    hang,
    stall_body,
    send_status_callback,
    status_callback_params,
    throttled,
    twilio_error,
    unavailable,
)
from workers.providers.base import DeliveryRequest, PermanentError, TransientError
from workers.providers.twilio_sms import TwilioSmsProvider, mask_phone

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token-" + uuid.uuid4().hex
FROM_NUMBER = "+15005550006"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
PUBLIC_URL = "https://herald.example"
TO = "+447700900123"
TO_MASKED = "+4477******23"


@pytest.fixture
def fake():
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def make_provider(fake):
    def make(timeout: float = 5.0, retry_after_cap: float = 300.0, **overrides) -> TwilioSmsProvider:
        settings = dict(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number=FROM_NUMBER,
            public_base_url=PUBLIC_URL,
            api_base=fake.url,
        )
        settings.update(overrides)
        return TwilioSmsProvider(TwilioSettings(**settings), timeout=timeout, retry_after_cap=retry_after_cap)

    return make


def sms(recipient: str = TO, body: str = "Your code is 123456") -> DeliveryRequest:
    return DeliveryRequest(
        notification_id=uuid.uuid4(),
        channel="sms",
        recipient=recipient,
        title=None,
        body=body,
        html=None,
        data=None,
        priority="normal",
        attempt=1,
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


# -- success --


def test_sends_with_basic_auth_from_number_and_status_callback(fake, make_provider):
    request = sms()
    receipt = make_provider().send(request)

    assert re.fullmatch(r"SM[0-9a-f]{32}", receipt.provider_message_id)
    assert receipt.segments == 1
    [seen] = fake.requests
    assert seen.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert seen.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form == {
        "To": TO,
        "From": FROM_NUMBER,
        "Body": "Your code is 123456",
        "StatusCallback": f"{PUBLIC_URL}/v1/receipts/twilio/{request.notification_id}",
    }


def test_messaging_service_instead_of_a_from_number(fake, make_provider):
    make_provider(from_number=None, messaging_service_sid=SERVICE_SID).send(sms())

    [seen] = fake.requests
    assert seen.form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in seen.form


@pytest.mark.parametrize("chosen, expected", [
    ("+15005550006", {"From": "+15005550006"}),
    ("MG" + "e" * 32, {"MessagingServiceSid": "MG" + "e" * 32}),
], ids=["number", "messaging service"])
def test_the_services_sender_on_the_row_wins_over_the_configured_one(fake, make_provider, chosen, expected):
    request = replace(sms(), options={"sender": chosen})

    make_provider(messaging_service_sid=SERVICE_SID).send(request)

    [seen] = fake.requests
    assert {name: seen.form[name] for name in ("From", "MessagingServiceSid") if name in seen.form} == expected


def test_messaging_service_wins_when_both_are_configured(fake, make_provider):
    make_provider(messaging_service_sid=SERVICE_SID).send(sms())

    [seen] = fake.requests
    assert seen.form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in seen.form


def test_no_status_callback_without_a_public_url(fake, make_provider):
    make_provider(public_base_url=None).send(sms())

    [seen] = fake.requests
    assert "StatusCallback" not in seen.form


def test_status_callback_url_with_a_trailing_slash_on_the_public_url(fake, make_provider):
    request = sms()
    make_provider(public_base_url="https://herald.example/").send(request)

    [seen] = fake.requests
    assert seen.form["StatusCallback"] == f"https://herald.example/v1/receipts/twilio/{request.notification_id}"


def test_segments_are_what_twilio_reports(fake, make_provider):
    fake.script(TO, accepted(num_segments="3"))

    assert make_provider().send(sms(body="short")).segments == 3


@pytest.mark.parametrize("reported", [None, "0"], ids=["field absent", "not counted yet"])
def test_segments_are_counted_locally_when_twilio_does_not_say(fake, make_provider, reported):
    fake.script(TO, accepted(num_segments=reported))

    assert make_provider().send(sms(body="ж" * 71)).segments == 2


def test_one_client_is_reused_across_sends(fake, make_provider):
    provider = make_provider()
    client = provider._client
    for _ in range(3):
        provider.send(sms())

    assert provider._client is client
    assert len(fake.requests) == 3


# -- failures --

WRONG_TOKEN = "wrong auth token"
NOTHING_LISTENING = "nothing listening"

# mode -> (how the server answers, error class, error code, retry_after)
FAILURES = {
    "21211 invalid To": (twilio_error(21211), PermanentError, "twilio_21211", None),
    "21610 unsubscribed (STOP)": (twilio_error(21610), PermanentError, "twilio_21610", None),
    "21614 not a mobile number": (twilio_error(21614), PermanentError, "twilio_21614", None),
    "21408 region not enabled": (twilio_error(21408), PermanentError, "twilio_21408", None),
    "21612 cannot route": (twilio_error(21612), PermanentError, "twilio_21612", None),
    "unknown 4xx code 21617": (twilio_error(21617, message="Body too long"), PermanentError, "twilio_21617", None),
    "429 with Retry-After: 2": (throttled("2"), TransientError, "twilio_throttled", 2),
    "429 without Retry-After": (throttled(), TransientError, "twilio_throttled", None),
    "429 with Retry-After over the cap": (throttled("86400"), TransientError, "twilio_throttled", 300),
    "500": (unavailable(500), TransientError, "twilio_unavailable", None),
    "503": (unavailable(503), TransientError, "twilio_unavailable", None),
    "401 / 20003 wrong auth token": (WRONG_TOKEN, TransientError, "twilio_auth_failed", None),
    "hang (no answer)": (hang(), TransientError, "twilio_timeout", None),
    "stall in the middle of the body": (stall_body(), TransientError, "twilio_timeout", None),
    "connection refused": (NOTHING_LISTENING, TransientError, "twilio_connection_error", None),
}


@pytest.mark.parametrize(("reply", "error_class", "code", "retry_after"), FAILURES.values(), ids=FAILURES.keys())
def test_failure_modes(fake, make_provider, reply, error_class, code, retry_after):
    if reply == WRONG_TOKEN:
        provider = make_provider(auth_token="not-the-token", timeout=0.5)
    elif reply == NOTHING_LISTENING:
        provider = make_provider(api_base=closed_port_url(), timeout=0.5)
    else:
        fake.script(TO, reply)
        provider = make_provider(timeout=0.5)

    with pytest.raises(error_class) as raised:
        provider.send(sms())

    assert type(raised.value) is error_class
    assert raised.value.code == code
    if error_class is TransientError:
        assert raised.value.retry_after == retry_after
    # The library never retries on its own: at most the one request we made.
    assert len(fake.requests) == (0 if reply == NOTHING_LISTENING else 1)


def test_a_503_reaches_the_server_exactly_once(fake, make_provider):
    fake.script(TO, unavailable(503))

    with pytest.raises(TransientError):
        make_provider().send(sms())

    assert len(fake.requests_to(TO)) == 1


def test_a_hang_times_out_within_the_timeout(fake, make_provider):
    fake.script(TO, hang())
    provider = make_provider(timeout=0.5)

    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        provider.send(sms())
    elapsed = time.monotonic() - started

    assert raised.value.code == "twilio_timeout"
    assert 0.4 <= elapsed < 3


def test_retry_after_as_an_http_date(fake, make_provider):
    fake.script(TO, throttled(format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)))

    with pytest.raises(TransientError) as raised:
        make_provider().send(sms())

    assert 25 <= raised.value.retry_after <= 30


def test_retry_after_belongs_to_the_thread_that_got_it(fake, make_provider):
    provider = make_provider()
    waits = {f"+44770090{n:04d}": str(n + 1) for n in range(8)}
    for number, wait in waits.items():
        fake.script(number, throttled(wait))
    seen: dict[str, float | None] = {}

    def send(number):
        try:
            provider.send(sms(recipient=number))
        except TransientError as error:
            seen[number] = error.retry_after

    threads = [threading.Thread(target=send, args=(number,)) for number in waits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert seen == {number: float(wait) for number, wait in waits.items()}


def test_permanent_code_list_wins_over_the_http_status(fake, make_provider):
    fake.script(TO, twilio_error(21610, status=500))

    with pytest.raises(PermanentError) as raised:
        make_provider().send(sms())

    assert raised.value.code == "twilio_21610"


# -- credentials and logs --


def test_auth_failure_is_loud_and_reported_until_the_next_success(fake, make_provider, caplog):
    provider = make_provider(auth_token="not-the-token")
    assert provider.credential_problem() is None

    with caplog.at_level(logging.ERROR, logger="workers.providers.twilio_sms"):
        with pytest.raises(TransientError):
            provider.send(sms())

    assert [r.levelno for r in caplog.records if r.name == "workers.providers.twilio_sms"] == [logging.ERROR]
    assert ACCOUNT_SID in provider.credential_problem()

    fake.auth_token = "not-the-token"  # the operator rotated the token on Twilio's side
    provider.send(sms())
    assert provider.credential_problem() is None


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"from_number": None, "messaging_service_sid": None}, "TWILIO_FROM_NUMBER"),
        ({"auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"account_sid": "SK" + "0" * 32}, "TWILIO_ACCOUNT_SID"),
    ],
    ids=["no sender", "no auth token", "not an account sid"],
)
def test_a_misconfiguration_is_reported_and_nothing_is_sent(fake, make_provider, caplog, overrides, problem):
    provider = make_provider(**overrides)

    assert problem in provider.credential_problem()
    with pytest.raises(TransientError) as raised:
        provider.send(sms())
    assert raised.value.code == "twilio_misconfigured"
    assert fake.requests == []
    assert any(r.levelno == logging.ERROR and problem in r.getMessage() for r in caplog.records)


def test_logs_and_errors_hold_no_auth_token_and_no_full_phone_number(fake, make_provider, caplog):
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    fake.script("+447700900124", twilio_error(21211))  # Twilio's message quotes the number
    fake.script("+447700900125", hang())
    errors = []

    with caplog.at_level(logging.DEBUG):
        make_provider().send(sms())
        for number in ("+447700900124", "+447700900125"):
            with pytest.raises((PermanentError, TransientError)) as raised:
                make_provider(timeout=0.5).send(sms(recipient=number))
            errors.append(raised.value)
        with pytest.raises(TransientError):
            make_provider(api_base=closed_port_url()).send(sms(recipient="+447700900126"))
        fake.auth_token = "rotated"
        with pytest.raises(TransientError):
            make_provider().send(sms(recipient="+447700900127"))

    text = caplog.text + " ".join(e.message for e in errors)
    assert caplog.records, "expected the provider and the library to log"
    assert AUTH_TOKEN not in text and basic not in text
    for number in ("+447700900123", "+447700900124", "+447700900125", "+447700900126", "+447700900127"):
        assert number not in text
    assert TO_MASKED in caplog.text
    assert "+4477******24" in errors[0].message


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+447700900123", "+4477******23"), ("+15005550006", "+1500*****06"), ("12345", "***45"), ("", "")],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked


# -- status callbacks --


class _Receiver:
    """A bare HTTP endpoint that keeps what a status callback brought."""

    def __init__(self):
        self.received: list[tuple[str, dict, dict]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.append((self.path, dict(self.headers), dict(urllib.parse.parse_qsl(raw))))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def receiver():
    endpoint = _Receiver()
    endpoint.thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def _callback(receiver, valid_signature=True, **kwargs):
    url = receiver.url(f"/v1/receipts/twilio/{uuid.uuid4()}")
    params = status_callback_params(
        "SM" + "ab" * 16, "undelivered", account_sid=ACCOUNT_SID, to=TO, from_=FROM_NUMBER, error_code="30003"
    )
    status, _ = send_status_callback(url, AUTH_TOKEN, params, valid_signature=valid_signature)
    assert status == 204
    _path, headers, form = receiver.received[-1]
    return url, form, headers["X-Twilio-Signature"]


def test_callback_with_a_valid_signature(receiver):
    url, form, signature = _callback(receiver)

    assert form["MessageStatus"] == "undelivered" and form["ErrorCode"] == "30003"
    assert valid_callback(AUTH_TOKEN, url, form, signature)
    assert valid_callback(AUTH_TOKEN, url, MultiDict(form), signature)  # Flask's request.form


def test_callback_with_a_tampered_parameter(receiver):
    url, form, signature = _callback(receiver)

    assert not valid_callback(AUTH_TOKEN, url, {**form, "MessageStatus": "delivered"}, signature)
    assert not valid_callback(AUTH_TOKEN, url, {**form, "Extra": "1"}, signature)


def test_callback_checked_with_the_wrong_token(receiver):
    url, form, signature = _callback(receiver)

    assert not valid_callback("another-token", url, form, signature)


def test_callback_checked_against_the_wrong_url(receiver):
    url, form, signature = _callback(receiver)

    assert not valid_callback(AUTH_TOKEN, url.replace("/twilio/", "/twilio/x"), form, signature)
    assert not valid_callback(AUTH_TOKEN, url.replace("http://", "https://"), form, signature)


def test_callback_signed_with_another_token(receiver):
    url, form, signature = _callback(receiver, valid_signature=False)

    assert not valid_callback(AUTH_TOKEN, url, form, signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_callback_without_a_signature(receiver, signature):
    url, form, _ = _callback(receiver)

    assert not valid_callback(AUTH_TOKEN, url, form, signature)


@pytest.mark.parametrize(
    ("message_status", "error_code", "outcome"),
    [
        ("delivered", None, (Status.DELIVERED, None)),
        ("undelivered", "30003", (Status.FAILED, "twilio_30003")),
        ("failed", "30008", (Status.FAILED, "twilio_30008")),
        ("failed", None, (Status.FAILED, "twilio_failed")),
        ("queued", None, None),
        ("sending", None, None),
        ("sent", None, None),
        ("accepted", None, None),
        ("scheduled", None, None),
        (None, None, None),
    ],
)
def test_callback_outcome(message_status, error_code, outcome):
    assert callback_outcome(message_status, error_code) == outcome
