"""The status rules as production enforces them: `common.lifecycle` moving real rows in PostgreSQL.

The expected moves are written out here from the product's lifecycle (claim,
outcome, receipt, cancel, deferral), not read from `common.statuses`, so a
wrong entry in the transition table fails a test.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from common import lifecycle, replay
from common.models import Notification, NotificationEvent, utcnow
from common.statuses import Status

S = Status
# source -> the statuses it may move to.
EXPECTED_MOVES: dict[Status, set[Status]] = {
    S.SCHEDULED: {S.SENDING, S.CANCELLED},
    S.RETRYING: {S.SENDING, S.CANCELLED},
    # Sent, a retry, a failure, or handed back unsent when quiet hours began.
    S.SENDING: {S.SENT, S.RETRYING, S.FAILED, S.SCHEDULED},
    # A provider's receipt, once.
    S.SENT: {S.DELIVERED, S.FAILED},
    S.DELIVERED: set(),
    # Only a caller's replay, which schedules it again.
    S.FAILED: {S.SCHEDULED},
    S.CANCELLED: set(),
    S.SUPPRESSED: set(),
}
TERMINAL = [S.DELIVERED, S.CANCELLED, S.SUPPRESSED]
# Suppressed is decided when a notification is created; no update ever moves a row there.
TARGETS = [s for s in Status if s is not S.SUPPRESSED]
MESSAGE_ID = "provider-message-1"
LEASE = timedelta(minutes=2)


@pytest.fixture
def row_in(db):
    """Insert one committed, due notification in the given status; returns its id and token."""
    from api.keys.service import create_api_key

    owner, _secret = create_api_key("test-service")

    def make(status: Status) -> tuple[uuid.UUID, uuid.UUID]:
        now = utcnow()
        notification = Notification(
            id=uuid.uuid4(), service=owner.service, api_key_id=owner.id, channel="push",
            recipient="device-token-1", title="Hi", body="Hello", priority="normal",
            deliver_at=now - timedelta(seconds=1), schedule_reason="immediate",
            status=status.value, attempts=1 if status is not S.SCHEDULED else 0,
            dispatch_token=uuid.uuid4(), provider_message_id=MESSAGE_ID,
            created_at=now - timedelta(seconds=1), updated_at=now - timedelta(seconds=1))
        db.session.add(notification)
        db.session.commit()
        return notification.id, notification.dispatch_token

    return make


def stored(db, notification_id: uuid.UUID) -> tuple[str, int]:
    """The row's committed status and how many events it has."""
    db.session.rollback()
    status = db.session.scalar(
        select(Notification.status).where(Notification.id == notification_id))
    events = db.session.scalar(select(func.count()).select_from(NotificationEvent)
                               .where(NotificationEvent.notification_id == notification_id))
    return status, events


def every_pair() -> list:
    return [pytest.param(source, target, target in EXPECTED_MOVES[source],
                         id=f"{source}->{target} {verdict(target in EXPECTED_MOVES[source])}")
            for source in Status for target in TARGETS]


def verdict(allowed: bool) -> str:
    return "allowed" if allowed else "refused"


@pytest.mark.parametrize("source,target,allowed", every_pair())
def test_a_status_update_succeeds_exactly_when_the_move_is_allowed(db, row_in, source, target,
                                                                   allowed):
    notification_id, _token = row_in(source)

    moved = lifecycle.transition(notification_id, target, now=utcnow())
    db.session.commit()

    assert (moved is not None) == allowed
    # An allowed move writes the new status and one event; a refused one writes nothing.
    assert stored(db, notification_id) == ((target.value, 1) if allowed else (source.value, 0))


# Each function production calls to change a status, and the status it moves to.
def _claim(notification_id, token):
    return lifecycle.claim_for_delivery(notification_id, token, worker="push@test", now=utcnow(),
                                        lease=LEASE)


def _sent(notification_id, token):
    return lifecycle.mark_sent(notification_id, token, provider_message_id=MESSAGE_ID,
                               worker="push@test", now=utcnow())


def _retrying(notification_id, token):
    return lifecycle.mark_retrying(notification_id, error_code="fcm_unavailable",
                                   error_message="503", deliver_at=utcnow() + timedelta(seconds=30),
                                   horizon=timedelta(0), now=utcnow(), worker="push@test")


def _failed(notification_id, token):
    return lifecycle.mark_failed(notification_id, error_code="fcm_unregistered",
                                 error_message="404", now=utcnow(), worker="push@test")


def _cancelled(notification_id, token):
    return lifecycle.cancel(notification_id, now=utcnow())


def _delivered_receipt(notification_id, token):
    return lifecycle.record_receipt(notification_id, S.DELIVERED, provider_message_id=MESSAGE_ID,
                                    error_code=None, now=utcnow(), detail="delivered")


def _failed_receipt(notification_id, token):
    return lifecycle.record_receipt(notification_id, S.FAILED, provider_message_id=MESSAGE_ID,
                                    error_code="undelivered", now=utcnow(), detail="undelivered")


def _deferred(notification_id, token):
    return lifecycle.defer(notification_id, token, deliver_at=utcnow() + timedelta(hours=8),
                           reason="quiet_hours", detail={}, horizon=timedelta(0),
                           worker="push@test", now=utcnow())


def _replayed(notification_id, token):
    return replay.replay_failed(notification_id, requested_by="hrd_test_abc", now=utcnow())


OPERATIONS = {
    "claim_for_delivery": (_claim, S.SENDING),
    "mark_sent": (_sent, S.SENT),
    "mark_retrying": (_retrying, S.RETRYING),
    "mark_failed": (_failed, S.FAILED),
    "cancel": (_cancelled, S.CANCELLED),
    "record_receipt delivered": (_delivered_receipt, S.DELIVERED),
    "record_receipt failed": (_failed_receipt, S.FAILED),
    "defer": (_deferred, S.SCHEDULED),
    "replay_failed": (_replayed, S.SCHEDULED),
}
# Two ways into `scheduled`, each from its own status: a claim handed back, a failure replayed.
ONLY_FROM = {"defer": S.SENDING, "replay_failed": S.FAILED}


def operation_allowed(name: str, source: Status, target: Status) -> bool:
    return target in EXPECTED_MOVES[source] and ONLY_FROM.get(name, source) is source


def every_operation_from_every_status() -> list:
    return [pytest.param(operation, source, target, operation_allowed(name, source, target),
                         id=f"{name} from {source} {verdict(operation_allowed(name, source, target))}")
            for name, (operation, target) in OPERATIONS.items() for source in Status]


@pytest.mark.parametrize("operation,source,target,allowed", every_operation_from_every_status())
def test_each_lifecycle_function_moves_only_from_the_statuses_allowed(db, row_in, operation, source,
                                                                      target, allowed):
    notification_id, token = row_in(source)

    moved = operation(notification_id, token)
    db.session.commit()

    assert (moved is not None) == allowed
    assert stored(db, notification_id) == ((target.value, 1) if allowed else (source.value, 0))


@pytest.mark.parametrize("terminal", TERMINAL)
def test_a_terminal_status_never_changes_whatever_production_asks(db, row_in, terminal):
    notification_id, token = row_in(terminal)

    refused = [name for name, (operation, _target) in OPERATIONS.items()
               if operation(notification_id, token) is None]
    # Send-now and a moved event are not status changes, but they must not revive it either.
    hurried = lifecycle.hurry(notification_id, now=utcnow())
    now = utcnow()
    rescheduled = lifecycle.reschedule(
        notification_id, send_at=now, deliver_at=now, reason="immediate", detail={},
        quiet_hours=None, timezone=None, horizon=timedelta(0), now=now, note="event moved")
    db.session.commit()

    assert refused == list(OPERATIONS)
    assert (hurried, rescheduled) == (None, None)
    assert stored(db, notification_id) == (terminal.value, 0)


def test_a_claim_needs_the_current_dispatch_token(db, row_in):
    notification_id, _token = row_in(S.SCHEDULED)

    stale = _claim(notification_id, uuid.uuid4())
    db.session.commit()

    assert stale is None
    assert stored(db, notification_id) == (S.SCHEDULED.value, 0)
