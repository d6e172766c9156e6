"""How notifications look in answers: the models that build every body and its schema.

A field left unset is left out of the body (the content of a notification
shows only what it has; `segments` only for SMS).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from api.notifications.service import Acceptance
from api.response_model import ResponseModel, Timestamp, body, iso
from common import channels
from common.models import Notification, NotificationEvent
from common.statuses import Status

Channel = Literal[channels.names()]
# The schedule explanation is built by common.scheduling; its keys depend on the reason.
ScheduleDetail = dict[str, Any]

class NotificationError(ResponseModel):
    code: str
    message: str | None


class NotificationSummary(ResponseModel):
    id: uuid.UUID
    status: Status
    channel: Channel
    to: str | None
    reference: str | None
    priority: Literal["normal", "critical"]
    send_at: Timestamp | None
    deliver_at: Timestamp | None
    schedule_reason: str | None
    attempts: int
    created_at: Timestamp | None
    sent_at: Timestamp | None
    error: NotificationError | None


class StoredContent(ResponseModel):
    """The content as stored; only the parts the notification has are shown."""

    title: str | None = None
    subject: str | None = None
    body: str | None = None
    html: str | None = None
    data: dict[str, str] | None = None
    text: str | None = None


class TemplateUsed(ResponseModel):
    """The template version and locale the content was rendered from."""

    key: str
    version: int
    locale: str


class NotificationEventView(ResponseModel):
    at: Timestamp | None
    status: Status
    attempt: int | None
    worker: str | None
    error_code: str | None
    detail: str | None


class NotificationDetail(NotificationSummary):
    content: StoredContent
    template: TemplateUsed | None = None  # only for content rendered from a template
    schedule: ScheduleDetail | None
    recipient_id: str | None
    group_id: uuid.UUID | None
    options: dict[str, Any] | None
    timezone: str | None
    sandbox: bool
    provider_message_id: str | None
    segments: int | None = None  # SMS only
    events: list[NotificationEventView]


class NotificationPage(ResponseModel):
    data: list[NotificationSummary]
    next_cursor: str | None


class Accepted(ResponseModel):
    """The 202 body: enough for the caller to follow the notification."""

    id: uuid.UUID
    status: Status
    deliver_at: Timestamp | None
    schedule_reason: str | None
    quiet_hours_shifted: bool
    schedule: ScheduleDetail | None


class AcceptedGroup(ResponseModel):
    """The 202 body for a stored recipient: one notification per device (push), or one."""

    group_id: uuid.UUID | None
    notifications: list[Accepted]


class PlannedNotification(ResponseModel):
    to: str | None
    status: Status
    suppressed_because: str | None
    deliver_at: Timestamp | None
    schedule_reason: str | None
    quiet_hours_shifted: bool
    schedule: ScheduleDetail | None


class Preview(ResponseModel):
    timezone: str | None
    locale: str  # the recipient's, else the service's default (see docs/api.md, What wins)
    send_at: Timestamp | None
    quiet_hours: dict[str, Any] | None
    notifications: list[PlannedNotification]


def _summary_fields(n: Notification) -> dict:
    return {
        "id": n.id,
        "status": n.status,
        "channel": n.channel,
        "to": n.recipient,
        "reference": n.reference,
        "priority": n.priority,
        "send_at": iso(n.send_at),
        "deliver_at": iso(n.deliver_at),
        "schedule_reason": n.schedule_reason,
        "attempts": n.attempts,
        "created_at": iso(n.created_at),
        "sent_at": iso(n.sent_at),
        "error": (NotificationError(code=n.error_code, message=n.error_message)
                  if n.error_code else None),
    }


def notification_summary(n: Notification) -> dict:
    return body(NotificationSummary(**_summary_fields(n)))


def notification_detail(n: Notification, events: list[NotificationEvent]) -> dict:
    channel = channels.channel(n.channel)
    content = {channel.body_field: n.body, "html": n.html, "data": n.data}
    if channel.title_field:
        content[channel.title_field] = n.title
    extra = {"segments": n.segments} if channel.reports_segments else {}
    if n.template_key is not None:
        extra["template"] = TemplateUsed(key=n.template_key, version=n.template_version,
                                         locale=n.locale)
    return body(NotificationDetail(
        **_summary_fields(n),
        content=StoredContent(**{key: value for key, value in content.items()
                                 if value is not None}),
        schedule=n.schedule_detail,
        recipient_id=n.recipient_ref,
        group_id=n.group_id,
        options=n.options,
        timezone=n.timezone,
        sandbox=n.sandbox,
        provider_message_id=n.provider_message_id,
        **extra,
        events=[
            NotificationEventView(at=iso(e.at), status=e.status, attempt=e.attempt, worker=e.worker,
                                  error_code=e.error_code, detail=e.detail)
            for e in events
        ],
    ))


def notification_page(page: list[Notification], next_cursor: str | None) -> dict:
    return body(NotificationPage(data=[NotificationSummary(**_summary_fields(n)) for n in page],
                                 next_cursor=next_cursor))


def _accepted(n: Notification) -> Accepted:
    return Accepted(
        id=n.id,
        status=n.status,
        deliver_at=iso(n.deliver_at),
        schedule_reason=n.schedule_reason,
        quiet_hours_shifted=n.schedule_reason == "quiet_hours",
        schedule=n.schedule_detail,
    )


def accepted(n: Notification) -> dict:
    """The 202 body: enough for the caller to follow the notification."""
    return body(_accepted(n))


def accepted_group(group_id: uuid.UUID | None, rows: list[Notification]) -> dict:
    return body(AcceptedGroup(group_id=group_id, notifications=[_accepted(row) for row in rows]))


def accepted_body(acceptance: Acceptance) -> dict:
    """One notification's 202 body; a stored recipient's request answers as a group."""
    if not acceptance.for_recipient:
        return accepted(acceptance.rows[0])
    group_id = acceptance.group.id if acceptance.group else None
    return accepted_group(group_id, acceptance.rows)


def preview_of(plan) -> dict:
    """What POST /v1/notifications would make of a request, as a preview shows it."""
    return body(Preview(
        timezone=plan.timezone,
        locale=plan.locale,
        send_at=iso(plan.send_at),
        quiet_hours=plan.rule.as_json() if plan.rule else None,
        notifications=[
            PlannedNotification(
                to=planned.to,
                status=planned.status,
                suppressed_because=planned.suppressed_because,
                deliver_at=iso(planned.schedule.deliver_at),
                schedule_reason=planned.schedule.reason,
                quiet_hours_shifted=planned.schedule.reason == "quiet_hours",
                schedule=planned.schedule.detail,
            )
            for planned in plan.notifications
        ],
    ))
