"""How a reminder group looks in answers: its members, earliest first, and the reminders skipped."""

from __future__ import annotations

import uuid

from api.reminders.schema import describe
from api.reminders.service import ReminderGroupState, Skipped
from api.response_model import ResponseModel, Timestamp, body, iso
from common.models import Notification
from common.statuses import Status


class ReminderMember(ResponseModel):
    remind_before: str
    id: uuid.UUID
    to: str | None
    status: Status
    send_at: Timestamp | None
    deliver_at: Timestamp | None
    schedule_reason: str | None
    quiet_hours_shifted: bool


class SkippedReminder(ResponseModel):
    """A reminder not sent because its time was past; `id` and `status` when a member was cancelled."""

    remind_before: str
    send_at: Timestamp | None
    reason: str
    id: uuid.UUID | None = None
    status: Status | None = None


class ReminderGroupView(ResponseModel):
    group_id: uuid.UUID
    reference: str | None
    event_at: Timestamp | None
    remind_before: list[str]
    reminders: list[ReminderMember]
    skipped: list[SkippedReminder]
    created_at: Timestamp | None
    updated_at: Timestamp | None


class CancelledReminderGroup(ReminderGroupView):
    cancelled: int  # members this request cancelled


def member_view(n: Notification) -> ReminderMember:
    return ReminderMember(
        remind_before=describe(-n.reminder_offset),
        id=n.id,
        to=n.recipient,
        status=n.status,
        send_at=iso(n.send_at),
        deliver_at=iso(n.deliver_at),
        schedule_reason=n.schedule_reason,
        quiet_hours_shifted=n.schedule_reason == "quiet_hours",
    )


def skipped_view(skipped: Skipped) -> SkippedReminder:
    member = {"id": skipped.member_id, "status": skipped.member_status} if skipped.member_id else {}
    return SkippedReminder(remind_before=describe(skipped.seconds), send_at=iso(skipped.at),
                           reason=skipped.reason, **member)


def _group_fields(state: ReminderGroupState) -> dict:
    group = state.group
    return dict(
        group_id=group.id,
        reference=group.reference,
        event_at=iso(group.event_at),
        remind_before=[describe(-offset) for offset in group.offsets],
        reminders=[member_view(m) for m in state.members],
        skipped=[skipped_view(s) for s in state.skipped],
        created_at=iso(group.created_at),
        updated_at=iso(group.updated_at),
    )


def group_view(state: ReminderGroupState) -> dict:
    return body(ReminderGroupView(**_group_fields(state)))


def cancelled_group_view(state: ReminderGroupState) -> dict:
    return body(CancelledReminderGroup(**_group_fields(state), cancelled=state.cancelled))
