"""/health says the process answers; /ready says whether the database and the broker do."""

from __future__ import annotations

from dataclasses import replace

from api import create_app, health
from common.celery_app import create_celery
from common.config import settings

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
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


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
