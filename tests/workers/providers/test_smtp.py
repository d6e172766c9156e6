"""The SMTP provider: real smtplib against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from contextlib import ExitStack
from typing import Callable, NamedTuple

import pytest

from common.config import SmtpSettings
from tests.support.certificates import SelfSignedCertificate, create_self_signed_certificate
from tests.support.fake_smtp import FakeSmtpServer, GreetingServer
from workers.providers.base import DeliveryRequest, PermanentError, TransientError
from workers.providers.smtp import SmtpProvider

USERNAME = "herald"
PASSWORD = "correct-horse-battery-staple"
RECIPIENT = "alice@example.com"
TIMEOUT = 5.0
HANG_TIMEOUT = 0.5  # the client's timeout when the server stalls (it stalls for 30 s)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> SelfSignedCertificate:
    return create_self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def server(certificate):
    """STARTTLS required, AUTH required: the shape of a real submission server."""
    with FakeSmtpServer("starttls", certificate=certificate, credentials=(USERNAME, PASSWORD)) as server:
        yield server


@pytest.fixture
def make_provider():
    providers = []

    def make(settings: SmtpSettings, timeout: float = TIMEOUT) -> SmtpProvider:
        provider = SmtpProvider(settings, timeout=timeout)
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


def settings_for(server, certificate: SelfSignedCertificate | None = None, **overrides) -> SmtpSettings:
    values = dict(
        host=server.host,
        port=server.port,
        security="starttls",
        from_address="notify@herald.test",
        from_name="Herald Alerts",
        reply_to="support@herald.test",
        username=USERNAME,
        password=PASSWORD,
        ca_file=str(certificate.cert_file) if certificate else None,
    )
    values.update(overrides)
    return SmtpSettings(**values)


def delivery(recipient: str = RECIPIENT, **fields) -> DeliveryRequest:
    values = dict(
        notification_id=uuid.uuid4(),
        channel="email",
        recipient=recipient,
        title="Your sign-in code",
        body="Your code is 123456.",
        html="<p>Your code is <b>123456</b>.</p>",
        data=None,
        priority="normal",
        attempt=1,
    )
    values.update(fields)
    return DeliveryRequest(**values)


# -- delivering ----------------------------------------------------------------


def test_starttls_and_auth_deliver_a_text_and_html_message(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))
    request = delivery(attempt=2)

    receipt = provider.send(request)

    assert receipt.provider_message_id == f"<{request.notification_id}@herald.test>"
    [received] = server.messages
    assert received.tls and received.authenticated
    assert received.mail_from == "notify@herald.test"
    assert received.rcpt_tos == [RECIPIENT]
    message = received.message
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Herald Alerts", "notify@herald.test")
    assert message["Reply-To"].addresses[0].addr_spec == "support@herald.test"
    assert message["To"].addresses[0].addr_spec == RECIPIENT
    assert message["Subject"] == "Your sign-in code"
    assert message["Message-ID"] == receipt.provider_message_id
    assert str(request.notification_id) in message["Message-ID"]
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == "Your code is 123456."
    assert message.get_body(("html",)).get_content().strip() == "<p>Your code is <b>123456</b>.</p>"


def test_without_html_the_message_is_plain_text_and_non_ascii_survives(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate, from_name="Hérald", reply_to=None))

    provider.send(delivery(title="Rappel : café à 10 h", body="Naïve café – ☕", html=None))

    message = server.messages[0].message
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "Naïve café – ☕"
    assert message["Subject"] == "Rappel : café à 10 h"
    assert message["From"].addresses[0].display_name == "Hérald"
    assert "Reply-To" not in message
    assert server.messages[0].content.isascii()  # 7-bit clean on the wire


def test_the_services_sender_name_and_reply_to_on_the_row_win_over_the_configured_ones(
        server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))

    provider.send(delivery(options={"from_name": "Clinique du Parc", "reply_to": "desk@example.com"}))
    provider.send(delivery(options={"from_name": "Clinique du Parc"}))

    chosen, name_only = (received.message for received in server.messages)
    assert (chosen["From"].addresses[0].display_name, chosen["From"].addresses[0].addr_spec) == (
        "Clinique du Parc", "notify@herald.test")  # the address stays the deployment's
    assert chosen["Reply-To"].addresses[0].addr_spec == "desk@example.com"
    assert name_only["From"].addresses[0].display_name == "Clinique du Parc"
    assert name_only["Reply-To"].addresses[0].addr_spec == "support@herald.test"


def test_a_sender_name_with_line_breaks_stays_one_header(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))

    provider.send(delivery(options={"from_name": "Clinic\r\nBcc: victim@example.com"}))

    received = server.messages[0]
    assert received.rcpt_tos == [RECIPIENT]
    assert "Bcc" not in received.message
    assert received.message["From"].addresses[0].addr_spec == "notify@herald.test"


def test_a_non_ascii_recipient_goes_out_with_smtputf8(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))

    provider.send(delivery("zoë@example.com"))

    assert server.messages[0].rcpt_tos == ["zoë@example.com"]
    assert server.messages[0].message["To"].addresses[0].addr_spec == "zoë@example.com"


def test_the_certificate_is_verified_with_ca_file(server, certificate, make_provider):
    # The fixture's certificate is trusted only through ca_file; without it the
    # system trust store rejects it, and nothing is sent, encrypted or not.
    provider = make_provider(settings_for(server, ca_file=None))

    with pytest.raises(TransientError) as raised:
        provider.send(delivery())

    assert raised.value.code == "smtp_connection_error"
    assert "CERTIFICATE_VERIFY_FAILED" in raised.value.message
    assert server.messages == []


def test_implicit_tls(certificate, make_provider):
    with FakeSmtpServer("ssl", certificate=certificate, credentials=(USERNAME, PASSWORD)) as server:
        provider = make_provider(settings_for(server, certificate, security="ssl"))
        provider.send(delivery())

    [received] = server.messages
    assert received.tls and received.authenticated


def test_plain_smtp(make_provider):
    with FakeSmtpServer("plain") as server:
        provider = make_provider(settings_for(server, security="plain", username=None, password=None))
        provider.send(delivery())

    [received] = server.messages
    assert not received.tls and not received.authenticated


# -- the kept connection -------------------------------------------------------


def test_one_connection_serves_many_messages(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))

    for _ in range(3):
        provider.send(delivery())

    assert len(server.messages) == 3
    assert server.connections == 1
    assert len({m.peer for m in server.messages}) == 1


def test_a_dropped_connection_is_reopened_for_the_next_message(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))
    provider.send(delivery())

    server.drop_connections()
    provider.send(delivery())

    assert len(server.messages) == 2
    assert server.connections == 2


def test_a_421_goodbye_at_mail_is_a_dropped_connection_too(server, certificate, make_provider):
    # What Postfix says to a connection that sat idle past its timeout.
    provider = make_provider(settings_for(server, certificate))
    provider.send(delivery())

    server.handler.mail_replies.append("421 4.4.2 fake-smtp.test Error: timeout exceeded")
    provider.send(delivery())

    assert len(server.messages) == 2
    assert server.connections == 2


def test_a_refused_recipient_leaves_the_connection_usable(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))
    server.handler.script("nobody@example.com", "rcpt", reply="550 5.1.1 no such user")

    with pytest.raises(PermanentError):
        provider.send(delivery("nobody@example.com"))
    provider.send(delivery())

    assert [m.rcpt_tos for m in server.messages] == [[RECIPIENT]]
    assert server.connections == 1


def test_close_says_goodbye_and_the_next_send_reconnects(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate))
    provider.send(delivery())

    provider.close()
    provider.close()
    provider.send(delivery())

    assert len(server.messages) == 2
    assert server.connections == 2


# -- failures ------------------------------------------------------------------


def test_a_stalled_server_times_out_within_the_timeout(server, certificate, make_provider):
    provider = make_provider(settings_for(server, certificate), timeout=HANG_TIMEOUT)
    server.handler.script(RECIPIENT, "rcpt", hang=30, reply="250 OK")

    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        provider.send(delivery())
    elapsed = time.monotonic() - started

    assert raised.value.code == "smtp_timeout"
    assert elapsed < 3
    # The stalled connection was abandoned; the next message gets a fresh one.
    server.handler.scripts.clear()
    provider.send(delivery())
    assert len(server.messages) == 1
    assert server.connections == 2


def test_a_wrong_password_is_a_credential_problem(server, certificate, make_provider, caplog):
    caplog.set_level(logging.INFO)
    provider = make_provider(settings_for(server, certificate, password="wrong-password"))
    assert provider.credential_problem() is None

    with pytest.raises(TransientError) as raised:
        provider.send(delivery())

    assert raised.value.code == "smtp_auth_failed"
    problem = provider.credential_problem()
    assert problem is not None and "535" in problem and USERNAME not in problem
    errors = [r for r in caplog.records if r.name == "workers.providers.smtp" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "credentials" in errors[0].getMessage()
    assert "wrong-password" not in caplog.text

    server.authenticator.accept(USERNAME, "wrong-password")  # the operator changes it server-side
    provider.send(delivery())
    assert provider.credential_problem() is None


def test_logs_mask_the_recipient_and_never_show_the_password(server, certificate, make_provider, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(settings_for(server, certificate))
    server.handler.script("bob@example.com", "rcpt", reply="550 5.1.1 <bob@example.com>: no such user")

    provider.send(delivery())
    with pytest.raises(PermanentError):
        provider.send(delivery("bob@example.com"))
    with pytest.raises(TransientError):
        make_provider(settings_for(server, certificate, password=PASSWORD + "-old")).send(delivery())

    ours = [r.getMessage() for r in caplog.records if r.name == "workers.providers.smtp"]
    assert any("a***@example.com" in line for line in ours)
    assert any("b***@example.com" in line and "smtp_550" in line for line in ours)
    assert not any(RECIPIENT in line or "bob@example.com" in line for line in ours)
    assert PASSWORD not in caplog.text  # nor in the server's logs


# -- the failure table: each mode arranges its server and settings -------------


class Address(NamedTuple):
    host: str
    port: int


class Setup(NamedTuple):
    settings: SmtpSettings
    recipient: str = RECIPIENT
    timeout: float = TIMEOUT


Arrange = Callable[[ExitStack, SelfSignedCertificate], Setup]


def _submission_server(stack: ExitStack, certificate: SelfSignedCertificate, **options) -> FakeSmtpServer:
    return stack.enter_context(
        FakeSmtpServer("starttls", certificate=certificate, credentials=(USERNAME, PASSWORD), **options)
    )


def refuse_at(stage: str, reply: str) -> Arrange:
    def arrange(stack, certificate):
        server = _submission_server(stack, certificate)
        if stage == "mail":
            server.handler.mail_replies.append(reply)
        else:
            server.handler.script(RECIPIENT, stage, reply=reply)
        return Setup(settings_for(server, certificate))

    return arrange


def hang_at(stage: str) -> Arrange:
    def arrange(stack, certificate):
        server = _submission_server(stack, certificate)
        server.handler.script(RECIPIENT, stage, hang=30, reply="250 OK")
        return Setup(settings_for(server, certificate), timeout=HANG_TIMEOUT)

    return arrange


def greeting(reply: str) -> Arrange:
    def arrange(stack, certificate):
        return Setup(settings_for(stack.enter_context(GreetingServer(reply)), certificate))

    return arrange


def wrong_password(stack, certificate):
    return Setup(settings_for(_submission_server(stack, certificate), certificate, password="nope"))


def nothing_listening(stack, certificate):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        address = Address(*probe.getsockname())
    return Setup(settings_for(address, certificate))


def unknown_certificate(stack, certificate):
    return Setup(settings_for(_submission_server(stack, certificate), ca_file=None))


def no_starttls_offered(stack, certificate):
    return Setup(settings_for(stack.enter_context(FakeSmtpServer("plain")), certificate, username=None))


def non_ascii_recipient_without_smtputf8(stack, certificate):
    server = _submission_server(stack, certificate, smtputf8=False)
    return Setup(settings_for(server, certificate), recipient="zoë@example.com")


AUTH, TIMEOUT_CODE = "smtp_auth_failed", "smtp_timeout"
CONNECTION, UTF8 = "smtp_connection_error", "smtp_utf8_unsupported"

FAILURE_MODES = [
    # mode                        arrange                                          error           code
    ("greeting 421",              greeting("421 4.3.2 too busy"),                  TransientError, "smtp_421"),
    ("greeting 554",              greeting("554 5.7.1 no service"),                PermanentError, "smtp_554"),
    ("MAIL 451",                  refuse_at("mail", "451 4.3.0 try later"),        TransientError, "smtp_451"),
    ("MAIL 553",                  refuse_at("mail", "553 5.7.1 sender rejected"),  PermanentError, "smtp_553"),
    ("RCPT 451",                  refuse_at("rcpt", "451 4.7.1 try later"),        TransientError, "smtp_451"),
    ("RCPT 550",                  refuse_at("rcpt", "550 5.1.1 no such user"),     PermanentError, "smtp_550"),
    ("DATA 451",                  refuse_at("data", "451 4.3.0 try later"),        TransientError, "smtp_451"),
    ("DATA 554",                  refuse_at("data", "554 5.6.0 content rejected"), PermanentError, "smtp_554"),
    ("wrong password (535)",      wrong_password,                                  TransientError, AUTH),
    ("server stalls at RCPT",     hang_at("rcpt"),                                 TransientError, TIMEOUT_CODE),
    ("server stalls at DATA",     hang_at("data"),                                 TransientError, TIMEOUT_CODE),
    ("connection refused",        nothing_listening,                               TransientError, CONNECTION),
    ("unknown certificate",       unknown_certificate,                             TransientError, CONNECTION),
    ("STARTTLS not offered",      no_starttls_offered,                             TransientError, CONNECTION),
    ("non-ASCII address, no UTF8", non_ascii_recipient_without_smtputf8,           PermanentError, UTF8),
]


@pytest.mark.parametrize(
    "arrange, error, code", [row[1:] for row in FAILURE_MODES], ids=[row[0] for row in FAILURE_MODES]
)
def test_failure_modes(arrange, error, code, certificate, make_provider):
    with ExitStack() as stack:
        setup = arrange(stack, certificate)
        provider = make_provider(setup.settings, setup.timeout)
        started = time.monotonic()

        with pytest.raises((TransientError, PermanentError)) as raised:
            provider.send(delivery(setup.recipient))
        elapsed = time.monotonic() - started

    assert (type(raised.value), raised.value.code) == (error, code)
    assert elapsed < 3
