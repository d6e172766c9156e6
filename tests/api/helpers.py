"""Assertions shared by the API tests."""

from __future__ import annotations

from sqlalchemy import func, select

from common.db import db
from common.models import IdempotencyKey, Notification, NotificationEvent


def assert_error(response, status: int, field: str | None = None) -> dict:
    """The one error shape; `field` must be named in error.fields. Returns the error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"status", "code", "message", "fields"}
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert field in error["fields"], error
    if "fields" in error:
        assert error["fields"] and all(isinstance(v, str) for v in error["fields"].values())
    return error


def stored_counts() -> dict[str, int]:
    db.session.rollback()  # read what the requests committed
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Notification, NotificationEvent, IdempotencyKey)
    }


NOTHING_STORED = {"notifications": 0, "notification_events": 0, "idempotency_keys": 0}
