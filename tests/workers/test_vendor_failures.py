"""Each vendor failure mode, end to end through the delivery task: the status, reason code and retry it leads to.

Every case inserts a notification row, calls `workers.delivery.deliver` in this
process with real FCM, SMTP and Twilio settings pointing at the local fakes
(real pyfcm/google-auth, smtplib and twilio clients on the wire), then reads
the row, its events and the broker. The module ends by printing the table the
cases produced (run with `pytest -s` to see it):
each failure mode -> status, reason code, whether and when it is retried.
"""

from __future__ import annotations

import re
import secrets
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import workers.health
from common import channels
from common.config import Settings, SmtpSettings, TwilioSettings, settings
from common.db import db
from common.models import ProviderHealth
from tests.support import fake_fcm, fake_twilio
from tests.support.broker import take_published
from tests.support.certificates import create_self_signed_certificate
from tests.support.factories import events_of, fetch
from tests.support.fake_fcm import FakeFcm, Hang
from tests.support.fake_smtp import FakeSmtpServer
from tests.support.fake_twilio import FakeTwilio
from tests.support.settings import replace
from workers import delivery
from workers.providers import close_all

WORKER = "vendors@test-host"
PROVIDER_TIMEOUT = 0.5
BASE_DELAY, MAX_DELAY, MAX_ATTEMPTS = 5.0, 300.0, 6
SMTP_USER, SMTP_PASSWORD = "herald", "correct-horse-battery-staple"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "auth-token-" + uuid.uuid4().hex
LONG_SMS = "Your order has shipped and will arrive tomorrow between 9am and 1pm. " * 3  # 207 GSM-7 chars


# --- the vendors -------------------------------------------------------------------------------

@dataclass
class Vendors:
    fcm: FakeFcm
    smtp: FakeSmtpServer
    twilio: FakeTwilio
    config: Settings  # all three vendors configured, pointing at the fakes


@pytest.fixture(scope="module")
def vendors(tmp_path_factory):
    directory = tmp_path_factory.mktemp("vendors")
    certificate = create_self_signed_certificate(directory / "tls")
    with FakeFcm() as fcm, \
            FakeSmtpServer("starttls", certificate=certificate, credentials=(SMTP_USER, SMTP_PASSWORD)) as smtp, \
            FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio:
        config = replace(
            settings(),
            fcm=fcm.settings_file(fcm.service_account(), directory),
            smtp=_smtp_settings(smtp, certificate),
            twilio=_twilio_settings(twilio),
            provider_timeout=PROVIDER_TIMEOUT, retry_base_delay=BASE_DELAY, retry_max_delay=MAX_DELAY,
            max_attempts=MAX_ATTEMPTS,
        )
        yield Vendors(fcm, smtp, twilio, config)


def _smtp_settings(server, certificate):
    return SmtpSettings(host=server.host, port=server.port, security="starttls",
                        from_address="notify@herald.test", username=SMTP_USER, password=SMTP_PASSWORD,
                        ca_file=str(certificate.cert_file))


def _twilio_settings(server):
    return TwilioSettings(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, from_number="+15005550006",
                          public_base_url="https://herald.example.test", api_base=server.url)


def closed_port() -> int:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- how each case arranges its failure ----------------------------------------------------------
# An arrangement scripts the fake for this case's own recipient and returns the
# settings that differ from the module's (a wrong password, a closed port).

Arrange = Callable[[Vendors, str], dict]


def fcm_replies(reply) -> Arrange:
    def arrange(v, to):
        v.fcm.messages.script(to, reply)
        return {}
    return arrange


def fcm_unknown_service_account(v, to):
    # A key Google never heard of: the OAuth token exchange is refused (invalid_grant).
    return {"fcm": v.fcm.settings_json(v.fcm.service_account(trusted=False))}


def fcm_nothing_listening(v, to):
    return {"fcm": replace(v.config.fcm, endpoint=f"http://127.0.0.1:{closed_port()}")}


def smtp_replies(stage: str, reply: str) -> Arrange:
    def arrange(v, to):
        v.smtp.handler.script(to, stage, reply=reply)
        return {}
    return arrange


def smtp_stalls(stage: str) -> Arrange:
    def arrange(v, to):
        v.smtp.handler.script(to, stage, hang=30, reply="250 OK")
        return {}
    return arrange


def smtp_wrong_password(v, to):
    return {"smtp": replace(v.config.smtp, password="not-the-password")}


def smtp_nothing_listening(v, to):
    return {"smtp": replace(v.config.smtp, port=closed_port())}


def twilio_replies(reply) -> Arrange:
    def arrange(v, to):
        v.twilio.script(to, reply)
        return {}
    return arrange


def twilio_wrong_token(v, to):
    return {"twilio": replace(v.config.twilio, auth_token="not-the-auth-token")}


def twilio_nothing_listening(v, to):
    return {"twilio": replace(v.config.twilio, api_base=f"http://127.0.0.1:{closed_port()}")}


def as_is(v, to):
    return {}


# --- the cases ---------------------------------------------------------------------------------

CHANNEL = {"FCM": "push", "SMTP": "email", "Twilio": "sms"}


@dataclass(frozen=True)
class Case:
    vendor: str
    mode: str
    arrange: Arrange
    status: str  # sent | retrying | failed
    code: str | None = None
    retry_after: float | None = None  # what the vendor's Retry-After header said
    last_attempt: bool = False  # the row is on its final allowed attempt
    credential_problem: bool = False  # the failure must show up as a provider credential problem
    vendor_requests: int | None = 1  # requests the vendor saw (None: not counted for SMTP)

    @property
    def id(self) -> str:
        return f"{self.vendor}: {self.mode}"


FAILED, RETRYING = "failed", "retrying"

CASES = [
    # FCM (HTTP v1) through pyfcm's payload, google-auth's token exchange and one requests POST
    Case("FCM", "accepted", as_is, "sent"),
    Case("FCM", "404 UNREGISTERED", fcm_replies(fake_fcm.UNREGISTERED), FAILED, "fcm_unregistered"),
    Case("FCM", "400 INVALID_ARGUMENT", fcm_replies(fake_fcm.INVALID_ARGUMENT), FAILED, "fcm_invalid_argument"),
    Case("FCM", "403 SENDER_ID_MISMATCH", fcm_replies(fake_fcm.SENDER_ID_MISMATCH), FAILED,
         "fcm_sender_id_mismatch"),
    Case("FCM", "429 QUOTA_EXCEEDED, Retry-After: 2", fcm_replies(fake_fcm.quota_exceeded("2")), RETRYING,
         "fcm_throttled", retry_after=2),
    Case("FCM", "429 QUOTA_EXCEEDED, Retry-After: 60", fcm_replies(fake_fcm.quota_exceeded("60")), RETRYING,
         "fcm_throttled", retry_after=60),
    Case("FCM", "503 UNAVAILABLE", fcm_replies(fake_fcm.UNAVAILABLE), RETRYING, "fcm_unavailable"),
    Case("FCM", "500 INTERNAL", fcm_replies(fake_fcm.INTERNAL), RETRYING, "fcm_unavailable"),
    Case("FCM", "503 UNAVAILABLE on the last attempt", fcm_replies(fake_fcm.UNAVAILABLE), FAILED,
         "fcm_unavailable", last_attempt=True),
    Case("FCM", "auth: token exchange refused (invalid_grant)", fcm_unknown_service_account, RETRYING,
         "fcm_auth_failed", credential_problem=True, vendor_requests=0),
    Case("FCM", "auth: 401 UNAUTHENTICATED on send", fcm_replies(fake_fcm.UNAUTHENTICATED), RETRYING,
         "fcm_auth_failed", credential_problem=True),
    Case("FCM", f"no answer (timeout {PROVIDER_TIMEOUT} s)", fcm_replies(Hang(2)), RETRYING, "fcm_timeout"),
    Case("FCM", "connection refused", fcm_nothing_listening, RETRYING, "fcm_connection_error",
         vendor_requests=0),

    # SMTP through smtplib: STARTTLS, AUTH, one kept connection
    Case("SMTP", "accepted", as_is, "sent", vendor_requests=None),
    Case("SMTP", "451 at RCPT", smtp_replies("rcpt", "451 4.7.1 try again later"), RETRYING, "smtp_451",
         vendor_requests=None),
    Case("SMTP", "550 at RCPT", smtp_replies("rcpt", "550 5.1.1 no such user"), FAILED, "smtp_550",
         vendor_requests=None),
    Case("SMTP", "452 at DATA", smtp_replies("data", "452 4.3.1 insufficient storage"), RETRYING, "smtp_452",
         vendor_requests=None),
    Case("SMTP", "554 at DATA", smtp_replies("data", "554 5.6.0 content rejected"), FAILED, "smtp_554",
         vendor_requests=None),
    Case("SMTP", "451 at RCPT on the last attempt", smtp_replies("rcpt", "451 4.7.1 try again later"), FAILED,
         "smtp_451", last_attempt=True, vendor_requests=None),
    Case("SMTP", "auth: 535 wrong password", smtp_wrong_password, RETRYING, "smtp_auth_failed",
         credential_problem=True, vendor_requests=None),
    Case("SMTP", f"server stalls at RCPT (timeout {PROVIDER_TIMEOUT} s)", smtp_stalls("rcpt"), RETRYING,
         "smtp_timeout", vendor_requests=None),
    Case("SMTP", "connection refused", smtp_nothing_listening, RETRYING, "smtp_connection_error",
         vendor_requests=None),

    # Twilio Messages API through the twilio client
    Case("Twilio", "accepted (207 chars: 2 segments)", as_is, "sent"),
    Case("Twilio", "21211 invalid 'To'", twilio_replies(fake_twilio.twilio_error(21211)), FAILED, "twilio_21211"),
    Case("Twilio", "21610 unsubscribed (STOP)", twilio_replies(fake_twilio.twilio_error(21610)), FAILED,
         "twilio_21610"),
    Case("Twilio", "21614 not a mobile number", twilio_replies(fake_twilio.twilio_error(21614)), FAILED,
         "twilio_21614"),
    Case("Twilio", "21408 region not enabled", twilio_replies(fake_twilio.twilio_error(21408)), FAILED,
         "twilio_21408"),
    Case("Twilio", "429 / 20429, Retry-After: 2", twilio_replies(fake_twilio.throttled("2")), RETRYING,
         "twilio_throttled", retry_after=2),
    Case("Twilio", "429 / 20429, Retry-After: 60", twilio_replies(fake_twilio.throttled("60")), RETRYING,
         "twilio_throttled", retry_after=60),
    Case("Twilio", "500 / 20500", twilio_replies(fake_twilio.unavailable(500)), RETRYING, "twilio_unavailable"),
    Case("Twilio", "503 / 20503", twilio_replies(fake_twilio.unavailable(503)), RETRYING, "twilio_unavailable"),
    Case("Twilio", "503 / 20503 on the last attempt", twilio_replies(fake_twilio.unavailable(503)), FAILED,
         "twilio_unavailable", last_attempt=True),
    Case("Twilio", "auth: 401 / 20003 wrong auth token", twilio_wrong_token, RETRYING, "twilio_auth_failed",
         credential_problem=True),
    Case("Twilio", f"no answer (timeout {PROVIDER_TIMEOUT} s)", twilio_replies(fake_twilio.hang()), RETRYING,
         "twilio_timeout"),
    Case("Twilio", "connection refused", twilio_nothing_listening, RETRYING, "twilio_connection_error",
         vendor_requests=0),
]


def recipient_for(vendor: str) -> str:
    """A recipient of this case's own, so scripts never leak between cases."""
    if vendor == "FCM":
        return f"device-{secrets.token_hex(8)}:APA91b{secrets.token_urlsafe(24)}"
    if vendor == "SMTP":
        return f"user-{secrets.token_hex(6)}@example.com"
    return f"+4477009{secrets.randbelow(10**5):05d}"


def vendor_requests(v: Vendors, vendor: str, to: str) -> int | None:
    if vendor == "FCM":
        return sum(1 for s in v.fcm.messages.sends if (s.body.get("message") or {}).get("token") == to)
    if vendor == "Twilio":
        return len(v.twilio.requests_to(to))
    return None


# --- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    order: int
    vendor: str
    mode: str
    status: str
    code: str | None
    attempts: int
    retried: str
    next_attempt: str
    published: str


@pytest.fixture(scope="module")
def table():
    rows: list[Row] = []
    yield rows
    if rows:
        print("\n\n" + render(sorted(rows, key=lambda r: r.order)) + "\n")


def render(rows: list[Row]) -> str:
    header = ("Vendor", "Failure mode", "Status", "Reason code", "Attempts", "Retried?",
              "Next attempt after", "Task published")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = (r.vendor, r.mode, f"`{r.status}`", f"`{r.code}`" if r.code else "-", str(r.attempts),
                 r.retried, r.next_attempt, r.published)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the test ----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_providers(monkeypatch):
    """No provider (kept SMTP connection, FCM token) and no health report carried between cases."""
    close_all()
    monkeypatch.setattr(workers.health, "_reported", {})
    yield
    close_all()


def expected_window(retry_after: float | None) -> tuple[float, float]:
    """Attempt 1's delay: equal jitter in [base/2, base], never before Retry-After, never past the cap."""
    low, high = BASE_DELAY / 2, BASE_DELAY
    if retry_after is not None:
        low, high = max(low, retry_after), max(high, retry_after)
    return min(low, MAX_DELAY), min(high, MAX_DELAY)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_vendor_outcome(case, vendors, make_notification, queues, monkeypatch, table):
    to = recipient_for(case.vendor)
    config = replace(vendors.config, **case.arrange(vendors, to))
    channel = CHANNEL[case.vendor]
    columns = {"channel": channel, "recipient": to, "title": None if channel == "sms" else "Your order",
               "body": LONG_SMS if channel == "sms" else "It has shipped"}
    if case.last_attempt:
        columns.update(status="retrying", attempts=MAX_ATTEMPTS - 1)
    n = make_notification(**columns)

    outcome = delivery.deliver(channel, str(n.id), str(n.dispatch_token), WORKER, config)

    row = fetch(str(n.id))
    published = take_published(channel)
    attempt = MAX_ATTEMPTS if case.last_attempt else 1
    assert (row.status, row.error_code, row.attempts) == (case.status, case.code, attempt), outcome
    assert row.lease_expires_at is None
    assert [(e.status, e.attempt, e.error_code, e.worker) for e in events_of(str(n.id))] == [
        ("sending", attempt, None, WORKER), (case.status, attempt, case.code, WORKER)]
    if case.vendor_requests is not None:
        # One attempt is one request: no client library retried on its own.
        assert vendor_requests(vendors, case.vendor, to) == case.vendor_requests
    health = db.session.get(ProviderHealth, channel)
    assert health is not None and health.provider == channels.channel(channel).provider_name(config)
    assert (health.problem is not None) == case.credential_problem, health.problem

    next_attempt, retried, shown_published = "-", "-", "none"
    if case.status == "sent":
        assert outcome.kind == "sent"
        assert_receipt_stored(case.vendor, vendors, row)
        assert published == []
        stored = f"provider id `{row.provider_message_id}`"
        if row.segments is not None:
            stored += f", {row.segments} segments"
        retried = f"n/a (sent; {stored})"
    elif case.status == FAILED:
        assert row.provider_message_id is None and row.sent_at is None
        assert row.error_message
        assert published == []  # nothing comes back: the row is final
        retried = "no: attempts exhausted" if case.last_attempt else "no: permanent"
        if case.last_attempt:
            assert (outcome.kind, outcome.reason, outcome.exhausted) == ("failed", case.code, True)
            assert row.error_message.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
        else:
            assert (outcome.kind, outcome.reason, outcome.exhausted) == ("failed", case.code, False)
    else:
        assert (outcome.kind, outcome.reason) == ("retrying", case.code)
        assert row.dispatch_token != n.dispatch_token  # the failed task is now stale
        # deliver_at and updated_at were both written from the same `now`.
        delay = (row.deliver_at - row.updated_at).total_seconds()
        low, high = expected_window(case.retry_after)
        assert low - 1e-6 <= delay <= high + 1e-6
        [task] = published
        assert (task.task, task.args, task.eta) == (
            f"herald.deliver.{channel}", [str(n.id), str(row.dispatch_token)], row.deliver_at)
        assert row.enqueued_at == row.updated_at
        retried = "yes"
        window = f"{low:g}-{high:g} s" if low != high else f"{low:g} s"
        if case.retry_after is None:
            why = "backoff, attempt 1"
        elif case.retry_after < BASE_DELAY / 2:
            why = f"backoff; Retry-After {case.retry_after:g} s is sooner"
        else:
            why = f"Retry-After {case.retry_after:g} s"
        next_attempt = f"{delay:.2f} s (expected {window}: {why})"
        shown_published = "1, ETA = deliver_at"

    table.append(Row(CASES.index(case), case.vendor, case.mode, row.status, row.error_code, row.attempts,
                     retried, next_attempt, shown_published))


def assert_receipt_stored(vendor: str, v: Vendors, row) -> None:
    assert row.sent_at is not None and row.error_code is None
    if vendor == "FCM":
        assert re.fullmatch(r"projects/herald-test/messages/\d+", row.provider_message_id)
        assert row.segments is None
    elif vendor == "SMTP":
        assert row.provider_message_id == f"<{row.id}@herald.test>"
        [received] = [m for m in v.smtp.messages if m.message["Message-ID"] == row.provider_message_id]
        assert received.rcpt_tos == [row.recipient] and received.tls and received.authenticated
        assert row.segments is None
    else:
        assert re.fullmatch(r"SM[0-9a-f]{32}", row.provider_message_id)
        assert row.segments == 2  # as Twilio counted them
        [sent] = v.twilio.requests_to(row.recipient)
        assert sent.form["StatusCallback"] == f"https://herald.example.test/v1/receipts/twilio/{row.id}"
