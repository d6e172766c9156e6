"""Creating notifications: idempotency, the plan written in one transaction, published after it."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict
from datetime import datetime
from functools import partial

from sqlalchemy.exc import IntegrityError

from api.errors import ApiError
from api.planning import SUPPRESSION_MESSAGES, Plan, PlannedNotification, plan_request
from api.responses import accepted, accepted_group
from api.schemas import NotificationRequest
from common import dispatch, lifecycle, metrics
from common.config import Settings
from common.db import db
from common.models import ApiKey, IdempotencyKey, Notification, NotificationGroup
from common.statuses import Status


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
        raise ApiError(409, "idempotency_key_reused",
                       "this Idempotency-Key was used with a different request",
                       {"Idempotency-Key": "already used with a different request body"})
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
        options=request.options, priority=request.priority, timezone=plan.timezone,
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
    rows = []
    for planned in plan.notifications:
        row = Notification(**notification_values(api_key, plan, planned, config, now,
                                                 group_id=group.id if group else None,
                                                 reminder_offset=reminder_offset))
        db.session.add(row)
        lifecycle.record_event(row, at=now, detail=first_event_detail(planned))
        shifted = planned.status is Status.SCHEDULED and planned.schedule.reason == "quiet_hours"
        metrics.on_commit(db.session, partial(metrics.notification_accepted, row.channel, shifted))
        dispatch.publish_after_commit(row, now)
        rows.append(row)
    return rows


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
    config: Settings, now: datetime,
) -> tuple[dict, bool]:
    """Persist and commit (which publishes). Returns (response body, whether it was a replay)."""
    fingerprint = request_fingerprint(request, api_key.kind)
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
    if request.recipient_id is None:
        response = accepted(rows[0])
    else:
        response = accepted_group(group.id if group else None, rows)
    if idempotency_key:
        # The models declare no relationship, so the unit of work orders inserts by
        # class name and would write the key before the rows it references.
        db.session.flush()
        db.session.add(IdempotencyKey(service=api_key.service, key=idempotency_key,
                                      request_hash=fingerprint, notification_id=rows[0].id,
                                      response=response, created_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race.
        db.session.rollback()
        replay = replayed_response(api_key.service, idempotency_key, fingerprint, now,
                                   config.idempotency_ttl)
        if replay is None:
            raise
        return replay, True
    return response, False
