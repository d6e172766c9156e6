"""Telegram end to end: API -> PostgreSQL -> RabbitMQ -> a real telegram@ pool -> the Bot API over HTTPS.

The pool is a real Celery worker configured through the environment alone
(TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE, and REQUESTS_CA_BUNDLE for the fake's
private CA), talking to a local fake of the Bot API through the real provider.
Run with -s to see the measured figures.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from datetime import datetime

import pytest

from tests.support.broker import purge
from tests.support.certificates import create_self_signed_certificate
from tests.support.factories import fetch, status_counts
from tests.support.fake_telegram import FakeTelegram, blocked, chat_not_found, throttled, unavailable
from tests.support.outbox import Outbox
from tests.support.processes import start_worker
from tests.support.waiting import wait_until

TELEGRAM_BOT_TOKEN = f"{secrets.randbelow(9 * 10 ** 9) + 10 ** 9}:AA{secrets.token_urlsafe(26)}"
MESSAGES = 100
RETRY_AFTER = 2  # seconds, as the Bot API's parameters.retry_after says
POOL_ENV = {"PROVIDER_TIMEOUT_SECONDS": "2", "RETRY_BASE_DELAY_SECONDS": "0.1"}


def new_chat() -> str:
    """A private chat id no other test uses (a user's id: positive, ten digits)."""
    return str(5_500_000_000 + secrets.randbelow(10 ** 8))


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    certificate = create_self_signed_certificate(tmp_path_factory.mktemp("telegram-tls"))
    with FakeTelegram(TELEGRAM_BOT_TOKEN, certificate=certificate) as server:
        yield server


@pytest.fixture(scope="module")
def outbox_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def telegram_pool(app, log_dir, fake, outbox_dir):
    """A telegram@ pool, four threads, with the bot configured as an operator would."""
    purge("telegram")  # tasks left by earlier test modules, whose rows are gone
    env = {**POOL_ENV, "TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN, "TELEGRAM_API_BASE": fake.url,
           "REQUESTS_CA_BUNDLE": str(fake.certificate.cert_file), "OUTBOX_DIR": str(outbox_dir)}
    worker = start_worker("telegram", log_dir, concurrency=4, env=env)
    yield worker
    worker.stop()


def create(client, auth, body: dict) -> str:
    response = client.post("/v1/notifications", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def message(chat: str, text: str = "Your table is booked for 19:30.") -> dict:
    return {"channel": "telegram", "to": chat, "content": {"text": text}}


def finished(client, auth, nid: str, timeout: float = 60) -> dict:
    def done():
        body = client.get(f"/v1/notifications/{nid}", headers=auth).get_json()
        return body if body["status"] in ("sent", "failed") else None

    return wait_until(done, timeout=timeout, interval=0.05, message=f"{nid} never finished")


def trail(body: dict) -> list[tuple[str, str | None]]:
    return [(e["status"], e["error_code"]) for e in body["events"]]


def statuses(body: dict) -> list[str]:
    return [e["status"] for e in body["events"]]


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))


def test_a_hundred_messages_each_reach_the_bot_api_once(client, auth, telegram_pool, fake):
    asked = {}  # notification id -> (chat, text)
    started = time.monotonic()
    for i in range(MESSAGES):
        chat = new_chat()
        text = f"Reminder {i}: your appointment is tomorrow at {9 + i % 8}:00. Привет 👋"
        asked[create(client, auth, message(chat, text))] = (chat, text)
    posted = time.monotonic() - started
    wait_until(lambda: status_counts().get("sent") == MESSAGES, timeout=120, interval=0.1,
               message=f"not all sent: {status_counts()}")
    delivered = time.monotonic() - started

    chats = {chat for chat, _ in asked.values()}
    counts = fake.delivered_counts()
    assert {chat: counts[chat] for chat in chats} == {chat: 1 for chat in chats}
    sends = [s for s in list(fake.sends) if str(s.chat_id) in chats]
    assert len(sends) == MESSAGES
    by_chat = {str(s.chat_id): s for s in sends}
    for nid, (chat, text) in asked.items():
        sent = by_chat[chat]
        assert sent.token == TELEGRAM_BOT_TOKEN
        assert sent.body == {"chat_id": int(chat), "text": text}
        row = fetch(nid)
        assert (row.status, row.attempts, row.error_code) == ("sent", 1, None)
        assert row.provider_message_id == "1"  # the first message the bot sent to that chat
    latencies = sorted((fetch(nid).sent_at - fetch(nid).created_at).total_seconds() * 1000 for nid in asked)
    print(f"\n[e] telegram: posted {MESSAGES} messages in {posted:.2f}s; all {MESSAGES} sent "
          f"{delivered:.2f}s after the first post; Bot API sendMessage calls {len(sends)} for "
          f"{len(chats)} chats, each chat's count {sorted(set(counts[c] for c in chats))}; created -> sent "
          f"median {latencies[len(latencies) // 2]:.0f} ms, p95 {latencies[int(len(latencies) * 0.95)]:.0f} ms")


def test_blocked_throttled_and_unknown_chats_end_as_telegram_says(client, auth, telegram_pool, fake):
    blocking, throttling, unknown, flaky = new_chat(), new_chat(), new_chat(), new_chat()
    fake.script(blocking, blocked())
    fake.script(throttling, throttled(RETRY_AFTER))
    fake.script(unknown, chat_not_found())
    fake.script(flaky, unavailable(502))
    ids = {chat: create(client, auth, message(chat)) for chat in (blocking, throttling, unknown, flaky)}

    outcomes = {chat: finished(client, auth, nid) for chat, nid in ids.items()}

    blocked_body = outcomes[blocking]
    assert (blocked_body["status"], blocked_body["attempts"]) == ("failed", 1)
    assert blocked_body["error"]["code"] == "telegram_bot_blocked"
    assert blocked_body["error"]["message"] == "Forbidden: bot was blocked by the user"
    assert trail(blocked_body) == [("scheduled", None), ("sending", None), ("failed", "telegram_bot_blocked")]
    assert fake.statuses_to(blocking) == [403]

    unknown_body = outcomes[unknown]
    assert (unknown_body["status"], unknown_body["attempts"]) == ("failed", 1)
    assert unknown_body["error"]["code"] == "telegram_chat_not_found"
    assert trail(unknown_body) == [("scheduled", None), ("sending", None), ("failed", "telegram_chat_not_found")]
    assert fake.statuses_to(unknown) == [400]

    throttled_body = outcomes[throttling]
    assert (throttled_body["status"], throttled_body["attempts"]) == ("sent", 2)
    assert statuses(throttled_body) == ["scheduled", "sending", "retrying", "sending", "sent"]
    retrying, second_claim = throttled_body["events"][2], throttled_body["events"][3]
    assert retrying["error_code"] == "telegram_throttled"
    waited = (at(second_claim) - at(retrying)).total_seconds()
    # The backoff alone would be 0.05-0.2 s: the wait is the Bot API's retry_after.
    assert waited >= RETRY_AFTER, waited
    assert fake.statuses_to(throttling) == [429, 200]
    assert throttled_body["provider_message_id"] == "1"

    flaky_body = outcomes[flaky]
    assert (flaky_body["status"], flaky_body["attempts"]) == ("sent", 2)
    assert statuses(flaky_body) == ["scheduled", "sending", "retrying", "sending", "sent"]
    assert flaky_body["events"][2]["error_code"] == "telegram_unavailable"
    assert fake.statuses_to(flaky) == [502, 200]

    print(f"\n[e] blocked (403): {blocked_body['status']} {blocked_body['error']['code']} after 1 call; "
          f"chat not found (400): {unknown_body['status']} {unknown_body['error']['code']} after 1 call; "
          f"throttled (429, retry_after {RETRY_AFTER}): {throttled_body['status']} on attempt "
          f"{throttled_body['attempts']}, {waited:.2f}s between the 429 and the next call; "
          f"502: {flaky_body['status']} on attempt {flaky_body['attempts']}")


def test_a_stored_recipients_chat_is_used_and_an_opt_out_never_reaches_telegram(client, auth, telegram_pool,
                                                                                fake):
    chat, opted_out_chat = new_chat(), new_chat()
    for external_id, fields in (("diner-1", {"telegram_chat_id": chat}),
                                ("diner-2", {"telegram_chat_id": opted_out_chat, "opted_out": ["telegram"]})):
        response = client.put(f"/v1/recipients/{external_id}", json=fields, headers=auth)
        assert response.status_code == 201, response.get_json()

    sent = client.post("/v1/notifications", headers=auth, json={
        "channel": "telegram", "recipient_id": "diner-1", "content": {"text": "See you tonight."}})
    suppressed = client.post("/v1/notifications", headers=auth, json={
        "channel": "telegram", "recipient_id": "diner-2", "content": {"text": "See you tonight."}})

    [delivered] = sent.get_json()["notifications"]
    assert finished(client, auth, delivered["id"])["status"] == "sent"
    assert [s.body for s in fake.sends_to(int(chat))] == [{"chat_id": int(chat), "text": "See you tonight."}]
    [quiet] = suppressed.get_json()["notifications"]
    assert quiet["status"] == "suppressed"
    assert fetch(quiet["id"]).error_code == "recipient_opted_out"
    assert fake.sends_to(int(opted_out_chat)) == []


def test_a_test_key_goes_to_the_sandbox_not_to_telegram(client, db, telegram_pool, fake, outbox_dir):
    from api.keys.service import create_api_key

    _key, secret = create_api_key("test-service", kind="test")
    test_auth = {"Authorization": f"Bearer {secret}"}
    chat = new_chat()
    before = len(fake.sends)

    nid = create(client, test_auth, message(chat, "Sandboxed"))
    body = finished(client, test_auth, nid)

    assert (body["status"], body["sandbox"], body["provider_message_id"]) == ("sent", True, f"sandbox-{nid}-1")
    assert Outbox(outbox_dir).counts("telegram")[nid] == 1
    assert len(fake.sends) == before and fake.sends_to(int(chat)) == []
    assert Counter(d["to"] for d in Outbox(outbox_dir).deliveries("telegram"))[chat] == 1
