"""Worker-side tests: rows written straight into PostgreSQL, tasks and jobs called as functions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from common import topology
from common.models import Notification, utcnow
from tests.support.broker import purge


@pytest.fixture
def queues(broker):
    """The run's queues emptied before and after the test: nothing consumes them here."""
    names = (*topology.CHANNELS, topology.MAINTENANCE_QUEUE)
    purge(*names)
    yield
    purge(*names)


@pytest.fixture
def owner(db):
    from api.keys.service import create_api_key

    key, _secret = create_api_key("test-service")
    return key


@pytest.fixture
def make_notification(db, owner):
    """Insert one committed notification row; keyword arguments override its columns.

    By default: a push notification, scheduled, due a second ago, already enqueued.
    It returns a detached snapshot of the row as inserted; read the row again with
    `tests.support.factories.fetch`.
    """

    def make(**columns) -> Notification:
        now = utcnow()
        values = dict(
            id=uuid.uuid4(), service=owner.service, api_key_id=owner.id, channel="push",
            recipient="device-token-1", title="Hi", body="Hello", priority="normal",
            deliver_at=now - timedelta(seconds=1), schedule_reason="immediate",
            status="scheduled", attempts=0, dispatch_token=uuid.uuid4(), enqueued_at=now,
            created_at=now - timedelta(seconds=1), updated_at=now - timedelta(seconds=1),
        )
        values.update(columns)
        notification = Notification(**values)
        db.session.add(notification)
        db.session.commit()
        db.session.refresh(notification)
        # A detached snapshot: tasks commit and close the session, which would expire it.
        db.session.expunge(notification)
        return notification

    return make
