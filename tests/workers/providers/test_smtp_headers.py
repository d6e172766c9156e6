"""Hostile subjects, From names and addresses through the real SMTP provider to a real SMTP server.

Whatever the text holds (encoded words in q or b encoding, raw CR/LF,
Unicode line separators, header-like text, long lines), the message parsed
on arrival has exactly the headers Herald meant to write, and the text
decodes back to what was sent, on one line.
"""

from __future__ import annotations

import base64
import unicodedata
import uuid
from itertools import groupby

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.config import SmtpSettings
from tests.support.fake_smtp import FakeSmtpServer
from workers.providers.base import DeliveryRequest, PermanentError
from workers.providers.email_headers import display_name_text, one_line
from workers.providers.smtp import SmtpProvider

RECIPIENT = "alice@example.com"
BODY = "Your code is 123456."
HTML = "<p>Your code is <b>123456</b>.</p>"
# Every header Herald writes, in order, for a text + HTML message with a Reply-To.
HERALD_HEADERS = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]


def b_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


INJECTION = "Hi\r\nBcc: victim@example.com"
HOSTILE_TEXT = {
    "q-encoded CRLF": "=?utf-8?q?Hi=0D=0ABcc:_victim@example.com?=",
    "Q-encoded, upper case": "=?UTF-8?Q?Hi=0D=0ABcc:_victim@example.com?=",
    "b-encoded CRLF": b_word(INJECTION),
    "latin-1 encoded LF": "=?iso-8859-1?q?Hi=0ABcc:_victim@example.com?=",
    "encoded word mid-text": "Hello =?utf-8?q?=0D=0ABcc:_victim@example.com?= world",
    "adjacent encoded words": b_word("Hi\r\n") + " " + b_word("Bcc: victim@example.com"),
    "takeover": "=?utf-8?q?x=0D=0AReply-To:_evil@example.com=0D=0AContent-Type:_text/html"
                "=0D=0A=0D=0A<h1>replaced</h1>?=",
    "b-encoded takeover": b_word("x\r\nReply-To: evil@example.com\r\nContent-Type: text/html\r\n\r\n<h1>replaced</h1>"),
    "raw CRLF": INJECTION,
    "raw LF": "Hi\nBcc: victim@example.com",
    "raw CR": "Hi\rBcc: victim@example.com",
    "raw blank line": "Hi\r\n\r\n<h1>replaced</h1>",
    "folding whitespace": "Hi\r\n Bcc: victim@example.com",
    "U+2028": "Hi\u2028Bcc: victim@example.com",
    "U+2029": "Hi\u2029Bcc: victim@example.com",
    "U+0085": "Hi\u0085Bcc: victim@example.com",
    "vertical tab, form feed, separators": "Hi\x0b\x0c\x1c\x1d\x1eBcc: victim@example.com",
    "tab": "Hi\tBcc: victim@example.com",
    "header-like text": "Bcc: victim@example.com",
    "unterminated encoded word": "=?utf-8?q?Hi=0D=0ABcc:_victim@example.com",
    "=? fragment": "Total =? 42 ?= done",
    "long line without spaces": "x" * 255,
    "long line of words": " ".join(["word"] * 50),
    "long non-ASCII": "Rappel : café à 10 h ☕ " * 10,
    "quotes and backslashes": 'He said "hi" \\ <bye@example.com>, ok',
}


@pytest.fixture(scope="module")
def server():
    with FakeSmtpServer("plain") as server:
        yield server


def provider_for(server, **overrides) -> SmtpProvider:
    values = dict(host=server.host, port=server.port, security="plain", from_address="notify@herald.test",
                  from_name="Herald Alerts", reply_to="support@herald.test")
    values.update(overrides)
    return SmtpProvider(SmtpSettings(**values), timeout=5.0)


def delivery(title: str = "Your sign-in code", recipient: str = RECIPIENT) -> DeliveryRequest:
    return DeliveryRequest(notification_id=uuid.uuid4(), channel="email", recipient=recipient, title=title,
                           body=BODY, html=HTML, data=None, priority="normal", attempt=1)


def send_one(server, provider: SmtpProvider, request: DeliveryRequest):
    server.messages.clear()
    try:
        provider.send(request)
    finally:
        provider.close()
    [received] = server.messages
    return received


def assert_only_herald_headers(received) -> None:
    message = received.message
    assert list(message.keys()) == HERALD_HEADERS
    assert received.rcpt_tos == [RECIPIENT]
    assert [a.addr_spec for a in message["To"].addresses] == [RECIPIENT]
    assert [a.addr_spec for a in message["Reply-To"].addresses] == ["support@herald.test"]
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == BODY
    assert message.get_body(("html",)).get_content().strip() == HTML
    # No line of the header block is anything but a header Herald wrote or its continuation.
    header_block = received.content.split(b"\r\n\r\n", 1)[0].decode()
    for line in header_block.split("\r\n"):
        assert line.startswith(" ") or line.split(":", 1)[0] in HERALD_HEADERS, line
        assert len(line) <= 998


@pytest.mark.parametrize("subject", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_a_hostile_subject_arrives_as_one_subject_of_text(server, subject):
    received = send_one(server, provider_for(server), delivery(subject))

    assert_only_herald_headers(received)
    assert received.message["Subject"] == one_line(subject)
    assert "\n" not in received.message["Subject"] and "\r" not in received.message["Subject"]


def test_the_subject_keeps_its_text_where_only_line_breaks_were_replaced(server):
    received = send_one(server, provider_for(server), delivery(HOSTILE_TEXT["q-encoded CRLF"]))

    # Not decoded: the caller's characters, exactly.
    assert received.message["Subject"] == "=?utf-8?q?Hi=0D=0ABcc:_victim@example.com?="
    assert send_one(server, provider_for(server), delivery(INJECTION)).message["Subject"] == \
        "Hi Bcc: victim@example.com"


@pytest.mark.parametrize("from_name", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_a_hostile_from_name_arrives_as_one_display_name(server, from_name):
    received = send_one(server, provider_for(server, from_name=from_name), delivery())

    assert_only_herald_headers(received)
    [sender] = received.message["From"].addresses
    assert sender.addr_spec == "notify@herald.test"
    assert sender.display_name == display_name_text(from_name)
    assert received.message["Subject"] == "Your sign-in code"


HOSTILE_ADDRESSES = [
    "ada@example.com\n",
    "ada@example.com\r\nBcc: victim@example.com",
    "ada@example.com\u2028",
    "a,b@example.com",
    "ada@example.com, victim@example.com",
    "Ada <ada@example.com>",
    "=?utf-8?q?ada=0D=0ABcc:_victim?=@example.com",
    "ada smith@example.com",
    '"ada"@example.com',
    "ada@example.com (comment)",
    "ada@@example.com",
    "ada@example..com",
    "ada\x00@example.com",
    "ada@exa_mple.com",
]


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_a_hostile_recipient_is_refused_before_anything_is_sent(server, address):
    server.messages.clear()
    provider = provider_for(server)

    with pytest.raises(PermanentError) as raised:
        provider.send(delivery(recipient=address))
    provider.close()

    assert raised.value.code == "smtp_invalid_address"
    assert server.messages == []


@pytest.mark.parametrize("address", ["o'brien+tag@example.com", "zoë@example.com", "ada@bücher.example"])
def test_unusual_but_valid_recipients_are_delivered(server, address):
    server.messages.clear()
    provider = provider_for(server)
    provider.send(delivery(recipient=address))
    provider.close()

    [received] = server.messages
    assert received.rcpt_tos == [address]
    assert [a.addr_spec for a in received.message["To"].addresses] == [address]


@pytest.mark.parametrize("setting", ["from_address", "reply_to"])
@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_a_hostile_configured_address_stops_the_provider_at_start(server, setting, address):
    with pytest.raises(ValueError) as raised:
        provider_for(server, **{setting: address})

    assert ("EMAIL_FROM" if setting == "from_address" else "EMAIL_REPLY_TO") in str(raised.value)


def test_a_from_name_too_long_for_one_header_line_stops_the_provider_at_start(server):
    with pytest.raises(ValueError):
        provider_for(server, from_name="é" * 351)
    provider_for(server, from_name="é" * 350)  # 700 bytes: still fine


# -- any text at all -------------------------------------------------------------

deterministic = settings(derandomize=True, database=None, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FRAGMENTS = ["=?", "?=", "=?utf-8?q?", "=?utf-8?b?", "=0D=0A", "=0A", "\r\n", "\n", "\r", "\u2028", "\u2029",
             "\u0085", "\t", " ", "Bcc: victim@example.com", "Content-Type: text/html", ":", "<", ">", '"', ",",
             "é", "☕", "\U0001f600", "\u200b", "\u00a0"]
hostile_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=30).map("".join)


def expected_on_one_line(text: str) -> str:
    """Each run of control characters or line/paragraph separators as one space, then trimmed."""
    breaks = lambda c: unicodedata.category(c) in ("Cc", "Zl", "Zp")  # noqa: E731
    return "".join(" " if is_break else "".join(run) for is_break, run in groupby(text, breaks)).strip()


@pytest.fixture(scope="module")
def kept_provider(server):
    provider = provider_for(server)
    yield provider
    provider.close()


@settings(deterministic, max_examples=300)
@given(subject=hostile_text)
def test_any_subject_arrives_as_one_subject_of_its_text(server, kept_provider, subject):
    server.messages.clear()
    kept_provider.send(delivery(subject))

    [received] = server.messages
    expected = expected_on_one_line(subject)
    if expected:
        assert list(received.message.keys()) == HERALD_HEADERS
        assert received.message["Subject"] == expected
    else:  # nothing left to show: no Subject at all
        assert list(received.message.keys()) == [h for h in HERALD_HEADERS if h != "Subject"]
    assert received.message.get_body(("plain",)).get_content().strip() == BODY


@settings(deterministic, max_examples=150)
@given(from_name=hostile_text)
def test_any_from_name_arrives_as_one_display_name_of_its_text(server, from_name):
    server.messages.clear()
    provider = provider_for(server, from_name=from_name)
    try:
        provider.send(delivery())
    finally:
        provider.close()

    [received] = server.messages
    assert list(received.message.keys()) == HERALD_HEADERS
    [sender] = received.message["From"].addresses
    assert sender.addr_spec == "notify@herald.test"
    # In a display name a run of whitespace reads as one space (RFC 5322 phrase).
    assert sender.display_name == " ".join(expected_on_one_line(from_name).split())
