"""How notifications look in API responses."""

from __future__ import annotations

from datetime import datetime

from common.localtime import utc_iso
from common.models import Notification, NotificationEvent


def iso(moment: datetime | None) -> str | None:
    """Every time in every answer: UTC with `Z`, whatever offset the caller used."""
    return utc_iso(moment) if moment else None


def notification_summary(n: Notification) -> dict:
    return {
        "id": str(n.id),
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
        "error": {"code": n.error_code, "message": n.error_message} if n.error_code else None,
    }


def notification_detail(n: Notification, events: list[NotificationEvent]) -> dict:
    body = notification_summary(n)
    body["content"] = {
        key: value
        for key, value in {
            "title" if n.channel == "push" else "subject": n.title,
            "body": n.body,
            "html": n.html,
            "data": n.data,
        }.items()
        if value is not None
    }
    body["schedule"] = n.schedule_detail
    body["recipient_id"] = n.recipient_ref
    body["group_id"] = str(n.group_id) if n.group_id else None
    body["options"] = n.options
    body["timezone"] = n.timezone
    body["sandbox"] = n.sandbox
    body["provider_message_id"] = n.provider_message_id
    if n.channel == "sms":
        body["segments"] = n.segments
    body["events"] = [
        {
            "at": iso(e.at),
            "status": e.status,
            "attempt": e.attempt,
            "worker": e.worker,
            "error_code": e.error_code,
            "detail": e.detail,
        }
        for e in events
    ]
    return body


def accepted(n: Notification) -> dict:
    """The 202 body: enough for the caller to follow the notification."""
    return {
        "id": str(n.id),
        "status": n.status,
        "deliver_at": iso(n.deliver_at),
        "schedule_reason": n.schedule_reason,
        "quiet_hours_shifted": n.schedule_reason == "quiet_hours",
        "schedule": n.schedule_detail,
    }


def preview_of(plan) -> dict:
    """What POST /v1/notifications would make of a request, as a preview shows it."""
    return {
        "timezone": plan.timezone,
        "send_at": iso(plan.send_at),
        "quiet_hours": plan.rule.as_json() if plan.rule else None,
        "notifications": [
            {
                "to": planned.to,
                "status": planned.status.value,
                "suppressed_because": planned.suppressed_because,
                "deliver_at": iso(planned.schedule.deliver_at),
                "schedule_reason": planned.schedule.reason,
                "quiet_hours_shifted": planned.schedule.reason == "quiet_hours",
                "schedule": planned.schedule.detail,
            }
            for planned in plan.notifications
        ],
    }
