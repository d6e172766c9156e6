"""The webhook messages' relay called as a function: what it publishes, what it leaves waiting."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from common import dispatch, topology
from common.dispatch import broker
from common.celery_app import create_celery
from common.config import settings
from common.confirms import ConfirmedPipe
from common.db import db as handle
from common.models import utcnow
from common.webhooks.models import WebhookEndpoint, WebhookMessage
from common.webhooks.relay import relay_messages
from tests.support.broker import purge, take_published
from tests.support.processes import free_port
from tests.support.settings import replace


@pytest.fixture(autouse=True)
def webhooks_queue(broker):
    purge("webhooks")
    yield
    purge("webhooks")


@pytest.fixture
def make_message(db, make_notification):
    notification = make_notification(status="cancelled")
    endpoint = WebhookEndpoint(id=uuid.uuid4(), service=notification.service,
                               url="https://example.com/in", event_types=["notification.cancelled"],
                               secret="whsec_" + "A" * 44, status="enabled")
    handle.session.add(endpoint)
    handle.session.commit()

    def make(**columns) -> uuid.UUID:
        now = utcnow()
        values = dict(id=uuid.uuid4(), endpoint_id=endpoint.id, notification_id=notification.id,
                      event_type="notification.cancelled", sequence=2, event_at=now,
                      payload="{}", status="pending", attempts=1, next_attempt_at=now,
                      dispatch_token=uuid.uuid4(), enqueued_at=now, created_at=now)
        values.update(columns)
        handle.session.add(WebhookMessage(**values))
        handle.session.commit()
        return values["id"]

    return make


def token_of(message_id: uuid.UUID) -> uuid.UUID:
    handle.session.rollback()
    return handle.session.scalar(select(WebhookMessage.dispatch_token)
                                 .where(WebhookMessage.id == message_id))


def test_the_relay_publishes_what_came_due_and_what_a_dead_worker_held(make_message):
    now = utcnow()
    came_due = make_message(enqueued_at=None, next_attempt_at=now + timedelta(minutes=2))
    far_away = make_message(enqueued_at=None, next_attempt_at=now + timedelta(hours=2))
    lease_ran_out = make_message(lease_expires_at=now - timedelta(seconds=1))
    being_sent = make_message(lease_expires_at=now + timedelta(seconds=30))
    in_the_broker = make_message()
    delivered = make_message(status="delivered", enqueued_at=None)

    published = relay_messages(settings(), now)

    tasks = {uuid.UUID(task.args[0]): task for task in take_published("webhooks")}
    assert published == 2
    assert set(tasks) == {came_due, lease_ran_out}
    assert tasks[came_due].eta is not None  # held by the broker until its time
    assert all(uuid.UUID(t.args[1]) == token_of(m) for m, t in tasks.items())
    assert {far_away, being_sent, in_the_broker, delivered}.isdisjoint(tasks)


def test_the_relay_measures_the_oldest_pending_message(make_message):
    now = utcnow()
    make_message(created_at=now - timedelta(minutes=10))
    make_message(status="failed", created_at=now - timedelta(hours=3))

    relay_messages(settings(), now)

    assert REGISTRY.get_sample_value("herald_webhook_oldest_pending_seconds") == pytest.approx(600, abs=1)


def test_a_callback_the_broker_refuses_is_handed_back_to_the_relay(make_message, monkeypatch):
    message_id = make_message()
    unreachable = create_celery(replace(settings(),
                                        broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//"))
    monkeypatch.setattr(broker, "celery_app", lambda: unreachable)
    monkeypatch.setattr(broker, "_PIPE", ConfirmedPipe(lambda: unreachable.connection_for_write(
        transport_options={"confirm_publish": False})))
    now = utcnow()

    batch = dispatch.register(handle.session, [dispatch.publication(
        message_id, topology.WEBHOOKS_QUEUE, token_of(message_id), now, now)])
    handle.session.commit()

    handle.session.rollback()
    assert batch.published == 0
    assert handle.session.get(WebhookMessage, message_id).enqueued_at is None  # the relay's now
