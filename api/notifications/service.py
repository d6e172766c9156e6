"""What the API does with notifications: create (idempotently), find, list, cancel, send now.

Creating writes the plan (`api.notifications.planning`) in one transaction;
the commit publishes. Every refusal is a domain error (common.errors).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from api.notifications.cursor import encode_cursor
from api.notifications.planning import SUPPRESSION_MESSAGES, Plan, PlannedNotification, plan_request
from api.notifications.schema import ListFilters, NotificationRequest
from api.visibility import visible_notifications
from common import dispatch, lifecycle, metrics
from common.config import Settings
from common.db import db
from common.errors import Conflict, NotFound
from common.models import ApiKey, IdempotencyKey, Notification, NotificationEvent, NotificationGroup
from common.round_trip import created_with_event
from common.statuses import Status
from common.webhooks.emission import announce_row


@dataclass(frozen=True)
class Acceptance:
    """What one request made: its notifications, and their group for a recipient's devices."""

    rows: list[Notification]
    group: NotificationGroup | None
    for_recipient: bool  # a stored recipient's request is answered as a group


def request_fingerprint(request: NotificationRequest, key_kind: str) -> str:
    """The request as an idempotency key remembers it; a test key's never matches a live one's."""
    canonical = json.dumps({"key_kind": key_kind, **asdict(request)}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed_response(service: str, key: str, fingerprint: str, now: datetime, ttl) -> dict | None:
    """The first response for this idempotency key, if it is still live."""
    record = db.session.get(IdempotencyKey, (service, key))
    if record is None:
        return None
    if record.created_at < now - ttl:
        db.session.delete(record)
        db.session.flush()
        return None
    if record.request_hash != fingerprint:
        raise Conflict("this Idempotency-Key was used with a different request",
                       {"Idempotency-Key": "already used with a different request body"},
                       code="idempotency_key_reused")
    return record.response


def notification_values(api_key: ApiKey, plan: Plan, planned: PlannedNotification,
                        config: Settings, now: datetime, *, group_id: uuid.UUID | None = None,
                        reminder_offset: int | None = None) -> dict:
    """The columns of one planned notification's row (a batch inserts many at once)."""
    request, schedule = plan.request, planned.schedule
    enqueued_at = (dispatch.enqueue_time(schedule.deliver_at, now, config.eta_horizon)
                   if planned.status is Status.SCHEDULED else None)
    return dict(
        id=planned.id, service=api_key.service, api_key_id=api_key.id,
        channel=request.channel, recipient=planned.to, recipient_ref=request.recipient_id,
        title=request.title, body=request.body, html=request.html, data=request.data,
        options=plan.options, priority=request.priority, timezone=plan.timezone,
        template_key=request.template.key if request.template else None,
        template_version=request.template.version if request.template else None,
        locale=request.locale if request.template else None,
        sandbox=api_key.kind == "test", reference=request.reference,
        group_id=group_id, reminder_offset=reminder_offset,
        send_at=plan.send_at, deliver_at=schedule.deliver_at,
        schedule_reason=schedule.reason, schedule_detail=schedule.detail,
        quiet_hours=plan.rule.as_json() if plan.rule else None,
        status=planned.status.value, attempts=0, dispatch_token=uuid.uuid4(),
        enqueued_at=enqueued_at, created_at=now, updated_at=now,
        error_code=planned.suppressed_because,
        error_message=SUPPRESSION_MESSAGES.get(planned.suppressed_because),
    )


def add_planned(api_key: ApiKey, plan: Plan, config: Settings, now: datetime, *,
                group: NotificationGroup | None = None,
                reminder_offset: int | None = None) -> list[Notification]:
    """Add the plan's notifications (and their first events) to the session, uncommitted.

    Those due within the ETA horizon are published when the caller commits.
    """
    if db.session.new:  # the group: no relationship is declared, so its row must exist first
        db.session.flush()
    rows = []
    for planned in plan.notifications:
        values = notification_values(api_key, plan, planned, config, now,
                                     group_id=group.id if group else None,
                                     reminder_offset=reminder_offset)
        insert_with_first_event(values, first_event_detail(planned), now)
        row = Notification(**values)  # not in the session: what the answer and the publish read
        if planned.status is Status.SUPPRESSED:
            announce_row(row, now)  # the one status a notification is created in that callers hear
        shifted = planned.status is Status.SCHEDULED and planned.schedule.reason == "quiet_hours"
        metrics.on_commit(db.session, partial(metrics.notification_accepted, row.channel, shifted))
        dispatch.publish_after_commit(row, now)
        rows.append(row)
    return rows


def insert_with_first_event(values: dict, detail: str, now: datetime) -> None:
    """Write a new row and its first event: one statement on PostgreSQL, two Core INSERTs elsewhere.

    Core, not the unit of work: building a flush costs more than the INSERT itself.
    """
    session = db.session
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(Notification.__table__), values)
        session.execute(insert(NotificationEvent.__table__), dict(
            notification_id=values["id"], at=now, status=values["status"], attempt=0,
            error_code=values["error_code"], detail=detail))
        return
    parameters = {f"new_{name}": values.get(name) for name in _COLUMNS}
    session.execute(created_with_event(), {**parameters, "event_at": now, "event_detail": detail})


_COLUMNS = tuple(column.name for column in Notification.__table__.c)


def first_event_detail(planned: PlannedNotification) -> str:
    """What the history says of a notification as it is created."""
    if planned.status is Status.SUPPRESSED:
        return "suppressed"
    schedule = planned.schedule
    detail = schedule.detail
    if schedule.reason == "quiet_hours":
        window = detail["quiet_hours"]
        return (f"scheduled: quiet hours {window['start']}-{window['end']} ({window['source']}, "
                f"{window['timezone']}); released {detail['local_window_end_at']} "
                f"+{detail['spread_seconds']:.0f}s spread")
    return f"scheduled: {schedule.reason}"


def create_notification(
    api_key: ApiKey, request: NotificationRequest, *, idempotency_key: str | None,
    config: Settings, now: datetime, answer: Callable[[Acceptance], dict],
) -> tuple[dict, bool]:
    """Persist and commit (which publishes). Returns (the answer, whether it was a replay).

    `answer` turns what was made into the response body; the idempotency key
    keeps that body, written in the same commit, to give it again.
    """
    fingerprint = request_fingerprint(request, api_key.kind) if idempotency_key else None
    if idempotency_key:
        replay = replayed_response(api_key.service, idempotency_key, fingerprint, now,
                                   config.idempotency_ttl)
        if replay is not None:
            return replay, True

    plan = plan_request(api_key.service, request, config, now)
    group = None
    if len(plan.notifications) > 1:  # a push to each of the recipient's devices
        group = NotificationGroup(service=api_key.service, kind="devices",
                                  sandbox=api_key.kind == "test", reference=request.reference,
                                  created_at=now, updated_at=now)
        db.session.add(group)
        db.session.flush()
    rows = add_planned(api_key, plan, config, now, group=group)
    response = answer(Acceptance(rows, group, for_recipient=request.recipient_id is not None))
    if idempotency_key:
        # The models declare no relationship, so the unit of work orders inserts by
        # class name and would write the key before the rows it references.
        db.session.flush()
    return commit_remembering(api_key, idempotency_key, fingerprint, rows[0].id, response,
                              config=config, now=now)


def commit_remembering(api_key: ApiKey, idempotency_key: str | None, fingerprint: str | None,
                       first_id: uuid.UUID, response: dict, *, config: Settings,
                       now: datetime) -> tuple[dict, bool]:
    """Commit what the session holds, with the idempotency key that remembers `response`.

    Returns (the answer, whether it was a replay): a concurrent request with the
    same key may have won the race, and then its answer is the one given.
    """
    if idempotency_key:
        db.session.add(IdempotencyKey(service=api_key.service, key=idempotency_key,
                                      request_hash=fingerprint, notification_id=first_id,
                                      response=response, created_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        replay = replayed_response(api_key.service, idempotency_key, fingerprint, now,
                                   config.idempotency_ttl) if idempotency_key else None
        if replay is None:
            raise
        return replay, True
    return response, False


def find_notification(api_key: ApiKey, notification_id: str) -> Notification:
    """The notification, if `api_key` may see it (api.visibility); NotFound otherwise."""
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise NotFound("no such notification") from None
    notification = db.session.execute(
        select(Notification).where(Notification.id == nid, *visible_notifications(api_key))
    ).scalar_one_or_none()
    if notification is None:
        raise NotFound("no such notification")
    return notification


def history(notification: Notification) -> list[NotificationEvent]:
    """Events in the order they were written: each is written under the row's lock
    (`common.lifecycle.record_event`), so ids follow commit order where times,
    read before a wait for that lock, might not."""
    return list(db.session.execute(
        select(NotificationEvent)
        .where(NotificationEvent.notification_id == notification.id)
        .order_by(NotificationEvent.id)
    ).scalars())


def _conflict(notification: Notification, action: str) -> Conflict:
    return Conflict(f"cannot {action} a notification that is {notification.status}",
                    {"status": notification.status})


def cancel_notification(api_key: ApiKey, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(api_key, notification_id)
    cancelled = lifecycle.cancel(notification.id, now=now)
    db.session.commit()
    if cancelled is None:
        db.session.refresh(notification)
        raise _conflict(notification, "cancel")
    return cancelled


def send_now(api_key: ApiKey, notification_id: str, now: datetime) -> Notification:
    notification = find_notification(api_key, notification_id)
    hurried = lifecycle.hurry(notification.id, now=now)
    if hurried is None:
        db.session.rollback()
        db.session.refresh(notification)
        raise _conflict(notification, "send now")
    db.session.commit()  # publishes the task under its new token
    return hurried


def list_notifications(api_key: ApiKey, filters: ListFilters) -> tuple[list[Notification], str | None]:
    """Those `api_key` may see, newest first; keyset pagination on (created_at, id)."""
    query = select(Notification).where(*visible_notifications(api_key))
    for column, value in ((Notification.status, filters.status),
                          (Notification.channel, filters.channel),
                          (Notification.recipient, filters.recipient),
                          (Notification.reference, filters.reference)):
        if value is not None:
            query = query.where(column == value)
    if filters.created_after:
        query = query.where(Notification.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Notification.created_at < filters.created_before)
    if filters.cursor:
        query = query.where(tuple_(Notification.created_at, Notification.id) < filters.cursor)
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = list(db.session.execute(query.limit(filters.limit + 1)).scalars())
    page = rows[: filters.limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > filters.limit else None
    return page, next_cursor
