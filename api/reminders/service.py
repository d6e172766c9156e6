"""Event-relative reminders: several notifications timed before one event, kept as one group.

The request is described in `api.reminders.schema`; its answers in `api.reminders.serialize`.

Decisions:
- `event_at` must be in the future, on creation and on reschedule: for an
  event that is over, cancel the reminders instead.
- Each reminder is planned exactly as POST /v1/notifications would plan the
  notification with `send_at = event_at - remind_before` (recipient resolution,
  quiet hours, one notification per device of a stored recipient: an offset can
  have several members). A reminder whose time is not in the future is skipped
  and reported, not created. The top-level `reference` names the group and is
  given to the notifications whose body has none.
- The group stores the event, the offsets (negative seconds, earliest first) and
  the notification body as its template; each member stores its offset.
- Cancel cancels every pending member (sent, failed, ... ones stay as they are)
  and withdraws the offsets that were never created, so no later reschedule can
  bring a cancelled group back. Cancelling again changes nothing and answers 200.
- Reschedule re-plans each pending member for the new event with the quiet hours
  in force now, under a fresh dispatch token (tasks already in the broker become
  stale); a member whose new time is past is cancelled and reported as skipped.
  An offset with no member at all (skipped because it was past) is created when
  its new time is in the future; an offset that has members, even cancelled
  ones, is never created again: a cancelled reminder stays cancelled. Members
  created by a reschedule belong to the API key that asked for it.
- No Idempotency-Key: a request that carries one is refused (422) rather than
  being silently not deduplicated.
- Every write is one transaction; the commit publishes to the broker (common.dispatch).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import timezone as tz

from sqlalchemy import select

from api.notifications.planning import Plan, beyond_tables_message, plan_request
from api.notifications.rendering import ReminderEvent, rerender
from api.notifications.schema import NotificationRequest, parse_notification
from api.notifications.service import add_planned
from api.reminders.schema import ReminderRequest, describe
from api.response_model import iso
from api.validators import schedulable_problem
from api.visibility import sandboxed, visible_groups
from common import lifecycle
from common.config import Settings
from common.db import db
from common.errors import Invalid, NotFound
from common.localtime import localize
from common.models import ApiKey, Notification, NotificationGroup
from common.scheduling import schedule_delivery
from common.service_settings import effective
from common.service_settings.values import ServiceSettings
from common.statuses import PENDING

IN_THE_PAST = "in the past"
UTC = tz.utc


@dataclass(frozen=True)
class Skipped:
    """A reminder not sent because its time was past; the member this request cancelled, if any."""

    seconds: int
    at: datetime
    member_id: uuid.UUID | None = None
    member_status: str | None = None
    reason: str = IN_THE_PAST


@dataclass(frozen=True)
class ReminderGroupState:
    """A group as a request leaves it: its members, earliest first, and the reminders skipped."""

    group: NotificationGroup
    members: list[Notification]
    skipped: list[Skipped]
    cancelled: int | None = None  # members this request cancelled (cancel only)


def _plan(service: str, request: NotificationRequest, config: Settings, now: datetime,
          in_force: ServiceSettings) -> Plan:
    """The plan of the group's notification without a time: for its timezone and quiet hours."""
    try:
        return plan_request(service, request, config, now, in_force=in_force, render=False)
    except Invalid as error:
        raise error.within("notification") from None


def _event_instant(event_at: datetime, timezone: str | None, now: datetime) -> datetime:
    """The event as an aware instant, which must be in the future."""
    if event_at.tzinfo is None:
        if timezone is None:
            raise Invalid({"event_at": "has no UTC offset, and neither notification.timezone, the "
                                       "recipient nor the service's settings have a timezone"})
        try:
            event_at = localize(event_at, timezone)
        except OverflowError:
            raise Invalid({"event_at": "out of range once converted to UTC"}) from None
    event_at = event_at.astimezone(UTC)
    if problem := schedulable_problem(event_at):
        raise Invalid({"event_at": problem})
    if event_at <= now:
        raise Invalid({"event_at": "must be in the future (to stop reminders for an event that "
                                   "is over, cancel them)"})
    return event_at


def _default_offsets(channel: str, in_force: ServiceSettings) -> list[int]:
    """The service's reminder offsets for `channel`, for a request that gives none."""
    offsets = list(in_force.reminder_offsets.get(channel, ()))
    if not offsets:
        raise Invalid({"remind_before": "required: this service's settings have no reminder_offsets "
                                        f"for {channel}"})
    return offsets


def _with_group_reference(request: NotificationRequest, reference: str | None) -> NotificationRequest:
    return replace(request, reference=request.reference or reference)


def _skipped(seconds: int, at: datetime, member: Notification | None = None) -> Skipped:
    if member is None:
        return Skipped(seconds, at)
    return Skipped(seconds, at, member.id, member.status)


def _add_reminder(api_key: ApiKey, group: NotificationGroup, request: NotificationRequest,
                  seconds: int, at: datetime, config: Settings, now: datetime,
                  in_force: ServiceSettings) -> None:
    try:
        event = ReminderEvent(at + timedelta(seconds=seconds), timedelta(seconds=seconds))
        plan = plan_request(api_key.service, replace(request, send_at=at), config, now,
                            in_force=in_force, event=event)
    except Invalid as error:
        # The reminder's time comes from event_at: a problem with it is event_at's.
        if "send_at" in error.fields:
            raise Invalid({"event_at": f"the {describe(seconds)} reminder: {error.fields['send_at']}"}) from None
        raise error.within("notification") from None
    add_planned(api_key, plan, config, now, group=group, reminder_offset=-seconds)


# --- reading -----------------------------------------------------------------------------------

def members_of(group: NotificationGroup) -> list[Notification]:
    """Earliest reminder first; a recipient's devices together."""
    return list(db.session.execute(
        select(Notification).where(Notification.group_id == group.id)
        .order_by(Notification.reminder_offset, Notification.deliver_at, Notification.id)
    ).scalars())


def find_group(api_key: ApiKey, group_id: str, *, for_update: bool = False) -> NotificationGroup:
    """The reminder group, if `api_key` may see it (api.visibility); NotFound otherwise."""
    try:
        gid = uuid.UUID(group_id)
    except ValueError:
        raise NotFound("no such reminder group") from None
    query = select(NotificationGroup).where(NotificationGroup.id == gid,
                                            NotificationGroup.kind == "reminders",
                                            *visible_groups(api_key))
    if for_update:  # cancel and reschedule of one group take turns
        query = query.with_for_update()
    group = db.session.execute(query).scalar_one_or_none()
    if group is None:
        raise NotFound("no such reminder group")
    return group


def past_offsets(group: NotificationGroup, members: list[Notification]) -> list[Skipped]:
    """The group's offsets that have no member: they were past when their turn came."""
    with_members = {m.reminder_offset for m in members}
    return [_skipped(-offset, group.event_at + timedelta(seconds=offset))
            for offset in group.offsets if offset not in with_members]


def _state(group: NotificationGroup, skipped: list[Skipped] | None = None,
           cancelled: int | None = None) -> ReminderGroupState:
    members = members_of(group)
    return ReminderGroupState(group, members, past_offsets(group, members) if skipped is None
                              else skipped, cancelled)


def show_reminders(api_key: ApiKey, group_id: str) -> ReminderGroupState:
    return _state(find_group(api_key, group_id))


# --- writing -----------------------------------------------------------------------------------

def create_reminders(api_key: ApiKey, request: ReminderRequest, *, config: Settings,
                     now: datetime) -> ReminderGroupState:
    """Plan every reminder, write the group and its members in one commit (which publishes)."""
    notification = _with_group_reference(request.notification, request.reference)
    in_force = effective(api_key.service, config)
    timezone = _plan(api_key.service, replace(notification, send_at=None), config, now,
                     in_force).timezone
    event_at = _event_instant(request.event_at, timezone, now)
    remind_before = request.remind_before or _default_offsets(notification.channel, in_force)

    group = NotificationGroup(
        id=uuid.uuid4(), service=api_key.service, kind="reminders", sandbox=sandboxed(api_key),
        reference=request.reference,
        event_at=event_at, offsets=[-seconds for seconds in remind_before],
        template=request.template, created_at=now, updated_at=now,
    )
    db.session.add(group)
    db.session.flush()  # no relationship is declared: the group's row must exist first
    skipped = []
    for seconds in remind_before:
        at = event_at - timedelta(seconds=seconds)
        if at <= now:
            skipped.append(_skipped(seconds, at))
            continue
        _add_reminder(api_key, group, notification, seconds, at, config, now, in_force)
    db.session.commit()
    return _state(group, skipped)


def cancel_reminders(api_key: ApiKey, group_id: str, now: datetime) -> ReminderGroupState:
    group = find_group(api_key, group_id, for_update=True)
    members = members_of(group)
    cancelled = sum(
        lifecycle.cancel(m.id, now=now, detail="cancelled with its reminder group") is not None
        for m in members if m.status in PENDING
    )
    # Offsets never created are withdrawn, so a later reschedule creates nothing.
    with_members = {m.reminder_offset for m in members}
    group.offsets = [offset for offset in group.offsets if offset in with_members]
    group.updated_at = now
    db.session.commit()
    return _state(group, cancelled=cancelled)


def reschedule_reminders(api_key: ApiKey, group_id: str, new_event_at: datetime, *,
                         config: Settings, now: datetime) -> ReminderGroupState:
    """Move the pending members with the event; cancel those now past; create those now due."""
    group = find_group(api_key, group_id, for_update=True)
    try:
        # Checked again: a template stored before a check tightened may no longer pass.
        template = parse_notification(group.template)
    except Invalid as error:
        raise error.within("notification") from None
    notification = _with_group_reference(template, group.reference)
    in_force = effective(api_key.service, config)
    base = _plan(api_key.service, replace(notification, send_at=None), config, now, in_force)
    event_at = _event_instant(new_event_at, base.timezone, now)
    quiet_hours = base.rule.as_json() if base.rule else None

    members = members_of(group)
    skipped = []
    for member in members:
        if member.status not in PENDING:
            continue
        seconds = -member.reminder_offset
        at = event_at - timedelta(seconds=seconds)
        if at <= now:
            detail = f"cancelled: reminder time {iso(at)} is past, the event moved to {iso(event_at)}"
            if (cancelled := lifecycle.cancel(member.id, now=now, detail=detail)) is not None:
                skipped.append(_skipped(seconds, at, cancelled))
            continue
        schedule = schedule_delivery(at, reason="send_at", rule=base.rule,
                                     critical=member.priority == "critical", key=member.id,
                                     spread_interval=config.quiet_hours_spread,
                                     timezone=base.timezone)
        if schedulable_problem(schedule.deliver_at):
            raise Invalid({"event_at": f"the {describe(seconds)} reminder: "
                                       f"{beyond_tables_message(schedule.deliver_at)}"})
        note = f"rescheduled: the event moved to {iso(event_at)}, due {iso(at)}"
        if schedule.reason == "quiet_hours":
            note += f", quiet hours: released {schedule.detail['local_deliver_at']}"
        moved = lifecycle.reschedule(
            member.id, send_at=at, deliver_at=schedule.deliver_at, reason=schedule.reason,
            detail=schedule.detail, quiet_hours=quiet_hours, timezone=base.timezone,
            horizon=config.eta_horizon, now=now, note=note,
        )
        if moved is not None and moved.template_key is not None:  # its text tells the new time
            rerender(moved, notification, ReminderEvent(event_at, timedelta(seconds=seconds)))

    with_members = {m.reminder_offset for m in members}
    for offset in group.offsets:
        if offset in with_members:
            continue
        at = event_at + timedelta(seconds=offset)
        if at <= now:
            skipped.append(_skipped(-offset, at))
            continue
        _add_reminder(api_key, group, notification, -offset, at, config, now, in_force)

    group.event_at = event_at
    group.updated_at = now
    db.session.commit()
    skipped.sort(key=lambda entry: entry.at)
    return _state(group, skipped)
