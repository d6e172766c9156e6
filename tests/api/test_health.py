"""/health says the process answers; /ready says whether the database and the broker do, and how deep each queue is."""

from __future__ import annotations

import socket
import time

import pytest

from api import create_app
from api.health import service as health
from common.celery_app import create_celery
from common.config import SmtpSettings, TwilioSettings, settings
from common.topology import delivery_task_name
from tests.support.broker import purge
from tests.support.factories import email_body, sms_body
from tests.support.settings import replace

QUEUES = ("push", "email", "sms", "inapp", "maintenance")

# Port 1 refuses connections at once, so the checks fail fast.
DEAD_DATABASE = "postgresql+psycopg2://postgres@127.0.0.1:1/herald"
DEAD_BROKER = "amqp://guest:guest@127.0.0.1:1/herald"


def test_health_is_ok_without_credentials(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_when_the_database_and_the_broker_answer(client):
    response = client.get("/ready")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["checks"]) == ("ready", {"database": "ok", "broker": "ok"})
    # No vendor is configured in the test environment: every channel uses the sandbox,
    # but in-app, whose inbox is Herald's own.
    assert {channel: p["provider"] for channel, p in body["providers"].items()} == {
        "push": "sandbox", "email": "sandbox", "sms": "sandbox", "inapp": "inbox"}


def test_ready_is_loud_about_a_provider_credential_problem(app, db):
    from common.models import ProviderHealth, utcnow

    config = replace(settings(), twilio=TwilioSettings(account_sid="AC1", auth_token="t"))
    db.session.add(ProviderHealth(channel="sms", provider="twilio", updated_at=utcnow(),
                                  problem="Twilio rejected the credentials (20003)"))
    db.session.commit()

    response = create_app(config).test_client().get("/ready")

    body = response.get_json()
    assert response.status_code == 200  # still accepting notifications
    assert body["status"] == "degraded"
    assert body["providers"]["sms"]["problem"] == "credentials_rejected"
    assert body["providers"]["push"] == {"provider": "sandbox", "problem": None, "reported_at": None}


def test_ready_shows_a_code_not_what_the_worker_wrote(app, db):
    # /ready asks no key: the user name, host and port a worker reported must not show.
    from common.models import ProviderHealth, utcnow

    smtp = SmtpSettings(host="mail.internal.example", port=2525, security="starttls",
                        from_address="herald@example.com", username="mailer-7f3a", password="secret")
    problem = "SMTP login as mailer-7f3a at mail.internal.example:2525 rejected: 535 bad"
    db.session.add(ProviderHealth(channel="email", provider="smtp", updated_at=utcnow(),
                                  problem=problem))
    db.session.commit()

    response = create_app(replace(settings(), smtp=smtp)).test_client().get("/ready")

    text = response.get_data(as_text=True)
    assert response.get_json()["providers"]["email"]["problem"] == "credentials_rejected"
    for detail in ("mailer-7f3a", "mail.internal.example", "2525", "535"):
        assert detail not in text


def test_not_ready_when_the_database_is_down(app):
    app = create_app(replace(settings(), database_url=DEAD_DATABASE))

    response = app.test_client().get("/ready")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["broker"] == "ok"
    assert body["down"] == ["database"]


def test_not_ready_when_the_broker_is_down(client, monkeypatch):
    # The process-wide Celery app is built once from the environment; give the
    # check a real one pointed at a port where no broker listens.
    dead = create_celery(replace(settings(), broker_url=DEAD_BROKER))
    monkeypatch.setattr(health, "celery_app", lambda: dead)

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable")
    assert body["down"] == ["broker"]
    # With the broker gone, nothing is known about its queues.
    assert body["queues"] == {q: {"messages": "unknown", "consumers": "unknown"} for q in QUEUES}


@pytest.fixture
def empty_queues(broker):
    """The run's queues emptied of other tests' leftovers, and emptied again afterwards."""
    purge(*QUEUES)
    yield
    purge(*QUEUES)


def test_ready_reports_each_queues_backlog_and_its_consumers(client, auth, empty_queues):
    # No worker runs in the API tests: what the API publishes stays in the queues.
    for i in range(7):
        assert client.post("/v1/notifications", json=email_body(f"user{i}@example.com"),
                           headers=auth).status_code == 202
    for _ in range(3):
        assert client.post("/v1/notifications", json=sms_body(), headers=auth).status_code == 202

    response = client.get("/ready")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["down"]) == ("ready", [])
    assert body["queues"] == {
        "push": {"messages": 0, "consumers": 0},
        "email": {"messages": 7, "consumers": 0},
        "sms": {"messages": 3, "consumers": 0},
        "inapp": {"messages": 0, "consumers": 0},
        "maintenance": {"messages": 0, "consumers": 0},
    }


def test_ready_on_the_embedded_broker_counts_messages_but_not_consumers(client, monkeypatch):
    # kombu's server-less filesystem:// transport counts its message files, but
    # has no idea which processes consume them.
    embedded = create_celery(replace(settings(), broker_url="filesystem://"))
    monkeypatch.setattr(health, "celery_app", lambda: embedded)
    with embedded.connection_for_write() as connection:
        for queue in embedded.amqp.queues.values():
            queue(connection.default_channel).purge()
    embedded.send_task(delivery_task_name("push"), args=["id", "token"], queue="push",
                       routing_key="push")

    response = client.get("/ready")

    assert response.status_code == 200
    body = response.get_json()
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["queues"]["push"] == {"messages": 1, "consumers": "unknown"}
    assert body["queues"]["email"] == {"messages": 0, "consumers": "unknown"}


def test_ready_answers_fast_when_the_broker_accepts_and_never_answers(client, monkeypatch):
    # A listening socket nobody accepts from: TCP connects, AMQP never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        stalled = create_celery(replace(settings(), broker_url=f"amqp://guest:guest@127.0.0.1:{port}//"))
        monkeypatch.setattr(health, "celery_app", lambda: stalled)

        started = time.monotonic()
        response = client.get("/ready")
        took = time.monotonic() - started

    assert response.status_code == 503
    assert response.get_json()["down"] == ["broker"]
    assert took < health.BROKER_CHECK_TIMEOUT + 1, f"/ready took {took:.1f}s"


def test_wrong_method_gets_the_json_error_and_the_allow_header(client):
    response = client.delete("/health")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]
