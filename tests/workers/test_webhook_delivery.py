"""The webhooks task called as a function against a local receiver: signing, retries, the log.

Every callback the receiver got is checked by the independent `standardwebhooks`
package, with the secret the API gave out.
"""

from __future__ import annotations

import socket
import threading
import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api import create_app
from common.config import settings
from common.db import db as handle
from common.models import utcnow
from common.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from tests.support.broker import purge
from tests.support.factories import push_body
from tests.support.settings import replace
from tests.support.webhook_receiver import WebhookReceiver
from workers.webhooks import send_message


@pytest.fixture(autouse=True)
def webhooks_queue(broker):
    purge("webhooks")
    yield
    purge("webhooks")


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def endpoint_for(client, auth, url: str) -> dict:
    response = client.post("/v1/webhooks", json={"url": url,
                                                  "event_types": ["notification.cancelled"]},
                           headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def cancelled_message(client, auth) -> WebhookMessage:
    """A notification cancelled: one message for the endpoint, as its change committed it."""
    later = (utcnow() + timedelta(days=1)).isoformat()
    nid = client.post("/v1/notifications", json=push_body(send_at=later), headers=auth
                      ).get_json()["id"]
    assert client.post(f"/v1/notifications/{nid}/cancel", headers=auth).status_code == 200
    return current(nid=nid)


def current(message_id=None, nid=None) -> WebhookMessage:
    handle.session.rollback()
    query = select(WebhookMessage)
    query = query.where(WebhookMessage.id == message_id) if message_id else query.where(
        WebhookMessage.notification_id == uuid.UUID(nid))
    message = handle.session.execute(query).scalar_one()
    handle.session.expunge(message)  # a snapshot: the task closes the session
    return message


def attempt(message: WebhookMessage, config=None) -> str:
    return send_message(message.id, message.dispatch_token, config or settings())


def attempts_of(message: WebhookMessage) -> list[WebhookAttempt]:
    handle.session.rollback()
    rows = list(handle.session.execute(select(WebhookAttempt).where(
        WebhookAttempt.message_id == message.id).order_by(WebhookAttempt.id)).scalars())
    handle.session.expunge_all()
    return rows


def attempts_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("herald_webhook_attempts_total", {"outcome": outcome}) or 0.0


def test_a_callback_is_signed_as_the_standard_says_and_logged(client, auth, receiver):
    endpoint = endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    before = attempts_counted("success")

    assert attempt(message) == "delivered"

    [got] = receiver.snapshot()
    assert Webhook(endpoint["secret"]).verify(got.body, got.headers) == got.payload
    assert got.headers["webhook-id"] == f"msg_{message.id.hex}"
    assert got.payload["data"] == {"notification_id": str(message.notification_id),
                                   "status": "cancelled", "error_code": None, "reference": None,
                                   "at": got.payload["timestamp"], "sequence": 2}
    [logged] = attempts_of(message)
    assert (logged.status_code, logged.error, logged.next_attempt_at) == (204, None, None)
    assert current(message.id).status == "delivered"
    assert attempts_counted("success") == before + 1


def test_a_failed_attempt_is_retried_later_under_the_same_webhook_id(client, auth, receiver):
    endpoint = endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    receiver.answer = 503

    assert attempt(message) == "pending"
    waiting = current(message.id)
    [first] = attempts_of(message)
    receiver.answer = 200
    assert attempt(waiting) == "delivered"

    assert (first.status_code, first.response_excerpt) == (503, "receiver unavailable")
    wait = (first.next_attempt_at - first.at).total_seconds()
    assert 5 * 0.8 <= wait <= 5 * 1.2  # the schedule's first step, with jitter
    assert waiting.dispatch_token != message.dispatch_token
    ids = [r.headers["webhook-id"] for r in receiver.snapshot()]
    assert ids == [f"msg_{message.id.hex}"] * 2
    for got in receiver.snapshot():
        Webhook(endpoint["secret"]).verify(got.body, got.headers)


def test_after_the_last_step_of_the_schedule_the_message_fails(client, auth, receiver):
    endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    receiver.answer = 500
    config = replace(settings(), webhook_retry_schedule=(0.01,))

    assert attempt(message, config) == "pending"
    assert attempt(current(message.id), config) == "failed"

    assert [a.status_code for a in attempts_of(message)] == [500, 500]
    assert attempts_of(message)[-1].next_attempt_at is None


def test_the_log_keeps_the_first_bytes_of_any_answer(client, auth, receiver):
    endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    receiver.answer, receiver.reply = 500, b"\x00\xffbroken" + b"x" * 1000

    assert attempt(message) == "pending"

    [logged] = attempts_of(message)
    assert logged.response_excerpt == "\ufffd\ufffdbroken" + "x" * 248  # 256 bytes read


def test_a_stale_task_sends_nothing(client, auth, receiver):
    endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)

    assert send_message(message.id, uuid.uuid4(), settings()) == "stale"
    assert receiver.snapshot() == []


def test_a_redirect_is_not_followed(client, auth, receiver):
    with WebhookReceiver() as elsewhere:
        endpoint_for(client, auth, receiver.url())
        message = cancelled_message(client, auth)
        receiver.answer, receiver.location = 302, elsewhere.url()

        assert attempt(message) == "pending"

        assert elsewhere.snapshot() == []
        assert attempts_of(message)[0].status_code == 302


def test_an_answer_later_than_the_timeout_is_a_failed_attempt(client, auth, receiver):
    endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    receiver.delay = 2.0

    assert attempt(message, replace(settings(), webhook_timeout=0.3)) == "pending"

    [logged] = attempts_of(message)
    assert (logged.status_code, logged.error) == (None, "timeout")
    assert logged.latency_ms >= 300


def test_an_endpoint_failing_for_five_days_is_disabled_and_says_so(client, auth, receiver):
    endpoint = endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    handle.session.execute(WebhookEndpoint.__table__.update().values(
        failing_since=utcnow() - timedelta(days=5, minutes=1)))
    handle.session.commit()
    receiver.answer = 503

    assert attempt(message) == "pending"
    shown = client.get(f"/v1/webhooks/{endpoint['id']}", headers=auth).get_json()
    after = attempt(current(message.id))

    assert shown["status"] == "disabled"
    assert shown["disabled_reason"].startswith("disabled: every attempt failed from ")
    assert after == "failed"
    assert len(receiver.snapshot()) == 1  # nothing is sent to a disabled endpoint


def test_during_the_overlap_both_secrets_sign(client, auth, receiver):
    endpoint = endpoint_for(client, auth, receiver.url())
    rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", headers=auth).get_json()
    message = cancelled_message(client, auth)

    attempt(message)

    [got] = receiver.snapshot()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint["secret"]).verify(got.body, got.headers)
    Webhook(rotated["secret"]).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(got.body, got.headers)


def test_production_refuses_a_loopback_url_at_send_time(client, auth, receiver):
    endpoint_for(client, auth, receiver.url().replace("http://", "https://"))
    message = cancelled_message(client, auth)

    attempt(message, replace(settings(), webhook_allow_private=False))

    assert receiver.snapshot() == []
    assert attempts_of(message)[0].error == "address_refused"


def test_the_post_goes_to_the_vetted_address_with_the_name_as_host(client, auth, receiver,
                                                                    monkeypatch):
    endpoint_for(client, auth, f"http://hooks.example.net:{receiver.port}/in")
    message = cancelled_message(client, auth)
    real = socket.getaddrinfo
    lookups = []

    def resolver(host, port, *args, **kwargs):  # the DNS answer: this name is the receiver
        if host == "hooks.example.net":
            lookups.append(host)
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    attempt(message)

    [got] = receiver.snapshot()
    assert got.headers["host"] == f"hooks.example.net:{receiver.port}"
    assert lookups == ["hooks.example.net"]  # resolved once: the connection used that answer


def test_an_endpoint_deleted_during_the_post_leaves_nothing_to_record(client, auth, receiver):
    endpoint = endpoint_for(client, auth, receiver.url())
    message = cancelled_message(client, auth)
    receiver.delay = 0.5
    deleter = threading.Timer(0.2, lambda: client.delete(f"/v1/webhooks/{endpoint['id']}",
                                                         headers=auth))
    deleter.start()

    outcome = attempt(message)
    deleter.join()

    assert outcome == "superseded"
    assert len(receiver.snapshot()) == 1
    handle.session.rollback()
    assert handle.session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0


def test_dns_rebinding_is_refused_in_production(client, auth, receiver, monkeypatch):
    """Created while the name resolved to a public address; at the attempt it points at us."""
    production = replace(settings(), webhook_allow_private=False)
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"])

    def resolver(host, port, *args, **kwargs):
        if host == "rebind.example.net":  # public once, then the receiver on loopback
            return real(next(answers, "127.0.0.1"), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    created = create_app(production).test_client().post("/v1/webhooks", headers=auth, json={
        "url": f"https://rebind.example.net:{receiver.port}/in",
        "event_types": ["notification.cancelled"]})
    message = cancelled_message(client, auth)

    assert created.status_code == 201
    assert attempt(message, production) == "pending"
    assert attempts_of(message)[0].error == "address_refused"
    assert receiver.snapshot() == []
