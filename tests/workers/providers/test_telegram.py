"""The Telegram provider: real requests sessions against a local server that speaks the Bot API."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid

import pytest
from pydantic import SecretStr

from common.channels.telegram import mask_chat
from common.config import TelegramSettings
from common.redaction import redact_every_log_record
from tests.support.certificates import create_self_signed_certificate
from tests.support.fake_telegram import (FakeTelegram, Reply, blocked, chat_not_found, hang, throttled,
                                         unavailable)
from workers.providers.base import DeliveryRequest, PermanentError, TransientError
from workers.providers.telegram import TelegramProvider

BOT_ID = "7012345678"
TELEGRAM_BOT_TOKEN = f"{BOT_ID}:AA{uuid.uuid4().hex}{uuid.uuid4().hex[:3]}"
CHAT = "5550123456"
CHAT_MASKED = "********56"


@pytest.fixture
def fake():
    with FakeTelegram(TELEGRAM_BOT_TOKEN) as server:
        yield server


@pytest.fixture
def make_provider(fake):
    def make(timeout: float = 5.0, retry_after_cap: float = 300.0, token: str | None = TELEGRAM_BOT_TOKEN,
             api_base: str | None = None) -> TelegramProvider:
        settings = TelegramSettings(bot_token=SecretStr(token) if token is not None else None,
                                    api_base=api_base or fake.url)
        return TelegramProvider(settings, timeout=timeout, retry_after_cap=retry_after_cap)

    return make


def message(chat: str = CHAT, text: str = "Your table is booked for 19:30.") -> DeliveryRequest:
    return DeliveryRequest(notification_id=uuid.uuid4(), channel="telegram", recipient=chat, title=None,
                           body=text, html=None, data=None, priority="normal", attempt=1)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_sends_the_text_as_json_to_the_bots_send_message(fake, make_provider):
    receipt = make_provider().send(message(text="Привет 👋 <b>not markup</b>"))

    [sent] = fake.sends
    assert sent.token == TELEGRAM_BOT_TOKEN
    assert sent.content_type.startswith("application/json")
    # A numeric chat id travels as a number; plain text, no parse_mode.
    assert sent.body == {"chat_id": int(CHAT), "text": "Привет 👋 <b>not markup</b>"}
    assert receipt.provider_message_id == "1"


@pytest.mark.parametrize("chat", ["-1001234567890", "-4012345678", "@herald_updates"])
def test_groups_supergroups_and_channel_usernames(fake, make_provider, chat):
    make_provider().send(message(chat=chat))
    make_provider().send(message(chat=chat))

    sent = fake.sends_to(int(chat) if chat[0] != "@" else chat)
    assert [s.chat_id for s in sent] == [chat if chat.startswith("@") else int(chat)] * 2
    assert fake.delivered_counts()[str(sent[0].chat_id)] == 2


def test_message_ids_are_the_bot_apis(fake, make_provider):
    provider = make_provider()

    ids = [provider.send(message()).provider_message_id for _ in range(3)]

    assert ids == ["1", "2", "3"]


def test_each_thread_keeps_one_session_and_reuses_it(fake, make_provider):
    provider = make_provider()
    sessions = {}

    def send_twice(name):
        provider.send(message())
        first = provider._session()
        provider.send(message())
        sessions[name] = (first, provider._session())

    threads = [threading.Thread(target=send_twice, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(first is second for first, second in sessions.values())
    assert len({id(first) for first, _ in sessions.values()}) == 3
    assert len(fake.sends) == 6
    provider.close()
    assert provider._sessions == []


@pytest.mark.parametrize(
    ("reply", "error_class", "code", "retry_after"),
    [
        (blocked(), PermanentError, "telegram_bot_blocked", None),
        (Reply(403, "Forbidden: user is deactivated"), PermanentError, "telegram_bot_blocked", None),
        (chat_not_found(), PermanentError, "telegram_chat_not_found", None),
        (Reply(400, "Bad Request: group chat was upgraded to a supergroup chat",
               {"migrate_to_chat_id": -1009876543210}), PermanentError, "telegram_chat_migrated", None),
        (Reply(400, "Bad Request: message is too long"), PermanentError, "telegram_400", None),
        (throttled(7), TransientError, "telegram_throttled", 7.0),
        (throttled(900), TransientError, "telegram_throttled", 300.0),  # capped
        (Reply(429, "Too Many Requests"), TransientError, "telegram_throttled", None),
        (unavailable(502), TransientError, "telegram_unavailable", None),
        (unavailable(500), TransientError, "telegram_unavailable", None),
        (Reply(401, "Unauthorized"), TransientError, "telegram_auth_failed", None),
    ],
)
def test_failure_modes(fake, make_provider, reply, error_class, code, retry_after):
    fake.script(CHAT, reply)

    with pytest.raises(error_class) as raised:
        make_provider().send(message())

    assert raised.value.code == code
    assert getattr(raised.value, "retry_after", None) == retry_after
    assert fake.statuses_to(CHAT) == [reply.status]


def test_a_502_reaches_the_server_exactly_once(fake, make_provider):
    fake.script(CHAT, unavailable(502))

    with pytest.raises(TransientError):
        make_provider().send(message())

    assert len(fake.sends) == 1  # no urllib3 retries behind Herald's back


def test_a_throttled_chat_is_delivered_once_the_wait_is_over(fake, make_provider):
    fake.script(CHAT, throttled(1))
    provider = make_provider()

    with pytest.raises(TransientError) as raised:
        provider.send(message())
    assert raised.value.retry_after == 1.0
    receipt = provider.send(message())

    assert fake.statuses_to(CHAT) == [429, 200]
    assert receipt.provider_message_id == "1"


def test_a_hang_times_out_within_the_timeout(fake, make_provider):
    fake.script(CHAT, hang(10))

    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        make_provider(timeout=0.5).send(message())
    elapsed = time.monotonic() - started

    assert raised.value.code == "telegram_timeout"
    assert 0.5 <= elapsed < 5, elapsed


def test_nothing_listening_is_a_connection_error(make_provider):
    with pytest.raises(TransientError) as raised:
        make_provider(api_base=closed_port_url()).send(message())

    assert raised.value.code == "telegram_connection_error"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_rejected_token_is_reported_until_the_next_success(fake, make_provider, caplog):
    replaced = f"{BOT_ID}:AAreplaced{uuid.uuid4().hex}"
    provider = make_provider(token=replaced)
    with pytest.raises(TransientError) as raised:
        provider.send(message())
    assert raised.value.code == "telegram_auth_failed"
    assert "rejected the bot token" in provider.credential_problem()
    assert any(r.levelno == logging.ERROR and "TELEGRAM_BOT_TOKEN" in r.getMessage() for r in caplog.records)

    fake.bot_token = replaced  # BotFather's new token reaches the Bot API
    provider.send(message())

    assert provider.credential_problem() is None


def test_a_malformed_token_is_an_auth_failure_not_the_recipients(fake, make_provider):
    with pytest.raises(TransientError) as raised:
        make_provider(token="not-a-token").send(message())

    assert raised.value.code == "telegram_auth_failed"
    assert "HTTP 404" in raised.value.message


def test_without_a_token_nothing_is_sent(fake, make_provider):
    provider = make_provider(token="")

    assert provider.credential_problem() == "TELEGRAM_BOT_TOKEN is empty"
    with pytest.raises(TransientError) as raised:
        provider.send(message())
    assert raised.value.code == "telegram_misconfigured"
    assert fake.sends == []


def test_a_success_without_a_message_id_is_still_sent(fake, make_provider, monkeypatch):
    monkeypatch.setattr(FakeTelegram, "_message", lambda self, chat_id, text: {"chat": {"id": chat_id}})

    receipt = make_provider().send(message())

    assert receipt.provider_message_id is None


def test_over_https_with_a_private_ca(make_provider, tmp_path, monkeypatch):
    certificate = create_self_signed_certificate(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.cert_file))
    with FakeTelegram(TELEGRAM_BOT_TOKEN, certificate=certificate) as secure:
        assert secure.url.startswith("https://")

        receipt = make_provider(api_base=secure.url).send(message())

        assert receipt.provider_message_id == "1"
        assert [s.chat_id for s in secure.sends] == [int(CHAT)]


def test_logs_and_errors_hold_no_bot_token_and_no_full_chat_id(fake, make_provider, caplog):
    redact_every_log_record()  # as every Herald process does at start (urllib3 logs URLs)
    chats = ["5550123457", "5550123458", "5550123459", "5550123460"]
    fake.script(chats[0], blocked())
    fake.script(chats[1], hang(10))
    fake.script(chats[2], Reply(400, "Bad Request: chat not found"))
    errors = []

    with caplog.at_level(logging.DEBUG):
        make_provider().send(message())
        for chat in chats[:3]:
            with pytest.raises((PermanentError, TransientError)) as raised:
                make_provider(timeout=0.5).send(message(chat=chat))
            errors.append(raised.value)
        with pytest.raises(TransientError) as raised:
            make_provider(api_base=closed_port_url()).send(message(chat=chats[3]))
        errors.append(raised.value)

    text = caplog.text + " ".join(e.message for e in errors)
    assert any(r.name.startswith("urllib3") for r in caplog.records), "expected urllib3's debug lines"
    assert TELEGRAM_BOT_TOKEN not in text
    assert TELEGRAM_BOT_TOKEN.partition(":")[2] not in text
    for chat in (CHAT, *chats):
        assert chat not in text
    assert CHAT_MASKED in caplog.text
    assert f"{BOT_ID}:[hidden]" in caplog.text  # urllib3's line, masked where the record was made


@pytest.mark.parametrize(("chat", "masked"), [
    ("123456789", "*******89"), ("-1001234567890", "-100********90"), ("-4012345678", "-********78"),
    ("@herald_news", "@h***"), ("7", "7"), ("", ""),
])
def test_mask_chat(chat, masked):
    assert mask_chat(chat) == masked
