"""Every status change of a notification: one conditional UPDATE plus one event row.

`transition` is the single door: its WHERE clause admits only the source
statuses that `common.statuses` allows for the target, so two racing writers
(a worker and a cancel, a worker and the sweeper) can never both win. Callers
own the transaction and commit it; a change that issues a dispatch token
registers its publication (`common.dispatch`), which the commit sends, and
every change adds the webhook messages its service listens for.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update

from common import dispatch
from common.db import db
from common.models import Notification, NotificationEvent, utcnow
from common.round_trip import FRESH_ROW, changed_with_event, prepared_change
from common.statuses import PENDING, Status, allowed_sources
from common.webhooks.emission import announce_row


def record_event(
    notification: Notification,
    *,
    at: datetime,
    worker: str | None = None,
    detail: str | None = None,
) -> None:
    """Append the notification's current state to its history.

    Call it after the UPDATE that changed the row, so the row lock is held: the
    event's id (history's order) then follows the order the changes committed
    in. Its time is when the change happened: `at` is read before a request may
    wait for that lock, so a later clock reading wins.
    """
    db.session.add(
        NotificationEvent(
            notification_id=notification.id,
            at=max(at, utcnow()),
            status=notification.status,
            attempt=notification.attempts,
            worker=worker,
            error_code=notification.error_code,
            detail=detail,
        )
    )


def transition(
    notification_id: uuid.UUID,
    target: Status,
    *,
    now: datetime,
    where=(),
    worker: str | None = None,
    detail: str | None = None,
    **values,
) -> Notification | None:
    """Move one notification to `target` if its current status allows it.

    Returns the updated row, or None when the row is missing or in a status
    (or with a token, via `where`) that does not allow the move.
    """
    change = (
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status.in_([s.value for s in allowed_sources(target)]),
            *where,
        )
        .values(status=target.value, updated_at=now, **values)
    )
    if _one_round_trip():
        # The UPDATE and its event row in one statement.
        statement = changed_with_event(change, at=now, worker=worker, detail=detail)
        notification = db.session.execute(statement.execution_options(**FRESH_ROW)
                                          ).scalar_one_or_none()
    else:
        notification = db.session.execute(
            change.returning(Notification).execution_options(**FRESH_ROW)).scalar_one_or_none()
        if notification is not None:
            record_event(notification, at=now, worker=worker, detail=detail)
    announce_row(notification, now)  # callbacks, in this same transaction
    return notification


def _one_round_trip() -> bool:
    """PostgreSQL runs a change and its event as one statement; SQLite (make run) takes two."""
    return db.session.get_bind().dialect.name == "postgresql"


def _prepared(target: Status, notification_id: uuid.UUID, token: uuid.UUID, *, now: datetime,
              worker: str | None, detail: str | None = None, claim: bool = False,
              **values) -> Notification | None:
    """A token-guarded change through its statement built once; the row as written, plain."""
    statement = prepared_change(target, tuple(sorted(values)), claim)
    parameters = {"nid": notification_id, "token": token, "now": now, "worker": worker,
                  "detail": detail, **{f"set_{name}": value for name, value in values.items()}}
    changed = db.session.execute(statement, parameters).one_or_none()
    announce_row(changed, now)
    return changed


def claim_for_delivery(
    notification_id: uuid.UUID, token: uuid.UUID, *, worker: str, now: datetime, lease: timedelta
) -> Notification | None:
    """Take a due notification for one attempt (counted), if this task's token is current.

    On PostgreSQL a recipient inside quiet hours now is not claimed at all
    (`round_trip.quiet_now`): the task defers the row with `defer_unclaimed`.
    """
    if _one_round_trip():
        return _prepared(Status.SENDING, notification_id, token, now=now, worker=worker,
                         claim=True, lease_expires_at=now + lease)
    return transition(
        notification_id,
        Status.SENDING,
        now=now,
        worker=worker,
        where=(
            Notification.dispatch_token == token,
            # Never early: a task that arrives before its time is republished.
            Notification.deliver_at <= now,
        ),
        attempts=Notification.attempts + 1,
        lease_expires_at=now + lease,
    )


def mark_sent(
    notification_id: uuid.UUID, token: uuid.UUID, *, provider_message_id: str | None,
    worker: str, now: datetime, segments: int | None = None,
) -> Notification | None:
    values = dict(sent_at=now, provider_message_id=provider_message_id, segments=segments,
                  lease_expires_at=None, error_code=None, error_message=None)
    if _one_round_trip():
        return _prepared(Status.SENT, notification_id, token, now=now, worker=worker, **values)
    return transition(notification_id, Status.SENT, now=now, worker=worker,
                      where=(Notification.dispatch_token == token,), **values)


def mark_retrying(
    notification_id: uuid.UUID, *, error_code: str, error_message: str, deliver_at: datetime,
    horizon: timedelta, now: datetime, where=(), worker: str | None = None,
    token: uuid.UUID | None = None,
) -> Notification | None:
    """Schedule the next attempt with a fresh token, published after the commit or by the relay.

    `token`: only while the row is still this claim's.
    """
    values = dict(deliver_at=deliver_at, dispatch_token=uuid.uuid4(),
                  enqueued_at=dispatch.enqueue_time(deliver_at, now, horizon),
                  lease_expires_at=None, error_code=error_code, error_message=error_message)
    if token is not None and not where and _one_round_trip():
        # The new token is a value; the claim's token guards the change.
        retried = _prepared(Status.RETRYING, notification_id, token, now=now, worker=worker,
                            **values)
    else:
        guard = () if token is None else (Notification.dispatch_token == token,)
        retried = transition(notification_id, Status.RETRYING, now=now, worker=worker,
                             where=(*where, *guard), **values)
    return _published_after_commit(retried, now)


def mark_failed(
    notification_id: uuid.UUID, *, error_code: str, error_message: str, now: datetime,
    where=(), worker: str | None = None, token: uuid.UUID | None = None,
) -> Notification | None:
    """`token`: only while the row is still this claim's."""
    values = dict(lease_expires_at=None, error_code=error_code, error_message=error_message)
    if token is not None and not where and _one_round_trip():
        return _prepared(Status.FAILED, notification_id, token, now=now, worker=worker, **values)
    guard = () if token is None else (Notification.dispatch_token == token,)
    return transition(notification_id, Status.FAILED, now=now, worker=worker,
                      where=(*where, *guard), **values)


def cancel(notification_id: uuid.UUID, *, now: datetime,
           detail: str = "cancelled by caller") -> Notification | None:
    return transition(notification_id, Status.CANCELLED, now=now, detail=detail)


def hurry(notification_id: uuid.UUID, *, now: datetime) -> Notification | None:
    """Make a pending notification due now, under a fresh token published after the commit.

    Not a status change, so it bypasses `transition`, but it is recorded.
    """
    statement = (
        update(Notification)
        .where(Notification.id == notification_id, Notification.status.in_(list(PENDING)))
        .values(deliver_at=now, dispatch_token=uuid.uuid4(), enqueued_at=now, updated_at=now,
                schedule_reason="send_now")
        .returning(Notification)
        .execution_options(**FRESH_ROW)
    )
    notification = db.session.execute(statement).scalar_one_or_none()
    if notification is not None:
        record_event(notification, at=now, detail="send-now requested")
    return _published_after_commit(notification, now)


def reschedule(
    notification_id: uuid.UUID, *, send_at: datetime, deliver_at: datetime, reason: str,
    detail: dict, quiet_hours: dict | None, timezone: str | None, horizon: timedelta,
    now: datetime, note: str,
) -> Notification | None:
    """Give a pending notification a new time under a fresh token (its event moved).

    The new token makes any task already in the broker stale; the new one is
    published after the commit when it is due within the horizon, otherwise by
    the relay when it comes due. Not a status change, so it bypasses
    `transition`, but it is recorded.
    """
    statement = (
        update(Notification)
        .where(Notification.id == notification_id, Notification.status.in_(list(PENDING)))
        .values(send_at=send_at, deliver_at=deliver_at, schedule_reason=reason,
                schedule_detail=detail, quiet_hours=quiet_hours, timezone=timezone,
                dispatch_token=uuid.uuid4(),
                enqueued_at=dispatch.enqueue_time(deliver_at, now, horizon), updated_at=now)
        .returning(Notification)
        .execution_options(**FRESH_ROW)
    )
    notification = db.session.execute(statement).scalar_one_or_none()
    if notification is not None:
        record_event(notification, at=now, detail=note)
    return _published_after_commit(notification, now)


def record_receipt(
    notification_id: uuid.UUID, target: Status, *, provider_message_id: str | None,
    error_code: str | None, now: datetime, detail: str,
) -> Notification | None:
    """A provider's delivery receipt: `sent` moves on to `delivered` or `failed`, once."""
    values = {"error_code": error_code, "error_message": detail} if target is Status.FAILED else {}
    return transition(notification_id, target, now=now, detail=detail,
                      where=(Notification.provider_message_id == provider_message_id,), **values)


def defer(
    notification_id: uuid.UUID, token: uuid.UUID, *, deliver_at: datetime, reason: str,
    detail: dict, horizon: timedelta, worker: str, now: datetime,
) -> Notification | None:
    """Hand a claim back unsent (quiet hours began): scheduled again, the attempt not counted."""
    deferred = transition(
        notification_id,
        Status.SCHEDULED,
        now=now,
        worker=worker,
        detail=f"deferred: {reason}",
        # Only a claim is handed back (a failure reaches `scheduled` by a replay alone).
        where=(Notification.dispatch_token == token, Notification.status == Status.SENDING.value),
        attempts=Notification.attempts - 1,
        deliver_at=deliver_at,
        dispatch_token=uuid.uuid4(),
        enqueued_at=dispatch.enqueue_time(deliver_at, now, horizon),
        lease_expires_at=None,
        schedule_reason=reason,
        schedule_detail=detail,
    )
    return _published_after_commit(deferred, now)


def defer_unclaimed(
    notification_id: uuid.UUID, token: uuid.UUID, *, deliver_at: datetime, reason: str,
    detail: dict, horizon: timedelta, worker: str, now: datetime,
) -> Notification | None:
    """Move a due, unclaimed notification out of quiet hours under a fresh token; no attempt made.

    Not a status change (it stays scheduled or retrying, waiting), so it
    bypasses `transition`, but it is recorded.
    """
    statement = (
        update(Notification)
        .where(Notification.id == notification_id, Notification.dispatch_token == token,
               Notification.status.in_(list(PENDING)))
        .values(deliver_at=deliver_at, dispatch_token=uuid.uuid4(), schedule_reason=reason,
                schedule_detail=detail, enqueued_at=dispatch.enqueue_time(deliver_at, now, horizon),
                updated_at=now)
        .returning(Notification)
        .execution_options(**FRESH_ROW)
    )
    notification = db.session.execute(statement).scalar_one_or_none()
    if notification is not None:
        record_event(notification, at=now, worker=worker, detail=f"deferred: {reason}")
    return _published_after_commit(notification, now)


def _published_after_commit(notification: Notification | None,
                            now: datetime) -> Notification | None:
    """A row just given a fresh token: its task goes to the broker when the caller commits."""
    if notification is not None:
        dispatch.publish_after_commit(notification, now)
    return notification
