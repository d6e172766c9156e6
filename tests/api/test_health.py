"""/health says the process answers; /ready says whether the database and the broker do."""

from __future__ import annotations

from dataclasses import replace

from api import create_app, health
from common.celery_app import create_celery
from common.config import TwilioSettings, settings

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
    # No vendor is configured in the test environment: every channel uses the sandbox.
    assert {channel: p["provider"] for channel, p in body["providers"].items()} == {
        "push": "sandbox", "email": "sandbox", "sms": "sandbox"}


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
    assert body["providers"]["sms"]["problem"] == "Twilio rejected the credentials (20003)"
    assert body["providers"]["push"] == {"provider": "sandbox", "problem": None, "reported_at": None}


def test_not_ready_when_the_database_is_down(app):
    app = create_app(replace(settings(), database_url=DEAD_DATABASE))

    response = app.test_client().get("/ready")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["broker"] == "ok"


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


def test_wrong_method_gets_the_json_error_and_the_allow_header(client):
    response = client.delete("/health")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]
