"""What a notification request makes, before anything is written.

The addresses (a stored recipient's devices, email or phone), the timezone,
the quiet hours in force and the schedule of each notification. Creating a
notification persists this plan; the preview only shows it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone as tz

from api.notifications.schema import NotificationRequest
from api.recipients.service import find_recipient
from api.response_model import iso
from api.validators import schedulable_problem
from common import channels
from common.config import Settings
from common.errors import Invalid
from common.localtime import localize
from common.models import Recipient
from common.quiet_hours import QuietHours
from common.scheduling import QuietRule, Schedule, initial_deliver_at, quiet_rule, schedule_delivery
from common.statuses import Status

# Why a notification is created `suppressed`, never to be sent.
OPTED_OUT = "recipient_opted_out"
NO_ADDRESS = "recipient_has_no_address"
UTC = tz.utc
SUPPRESSION_MESSAGES = {
    OPTED_OUT: "the recipient opted out of this channel",
    NO_ADDRESS: "the recipient has no address for this channel",
}


@dataclass(frozen=True)
class PlannedNotification:
    id: uuid.UUID
    to: str
    status: Status  # scheduled, or suppressed with `suppressed_because`
    schedule: Schedule
    suppressed_because: str | None = None


@dataclass(frozen=True)
class Plan:
    request: NotificationRequest
    timezone: str | None
    send_at: datetime | None  # aware
    rule: QuietRule | None
    notifications: list[PlannedNotification]


def beyond_tables_message(deliver_at: datetime) -> str:
    return (f"quiet hours would move delivery to {iso(deliver_at)}, past the end of "
            "Herald's time-zone rules (2037)")


def stored_window(stored: dict | None) -> QuietHours | None:
    return QuietHours.parse(stored["start"], stored["end"]) if stored else None


def _addresses(channel: str, recipient: Recipient) -> list[str]:
    """The stored addresses that pass today's checks: one stored before a check tightened is never used."""
    check = channels.channel(channel).address_problem
    stored = channels.channel(channel).stored_addresses(recipient)
    return [a for a in stored if isinstance(a, str) and a and check(a) is None]


def plan_request(service: str, request: NotificationRequest, config: Settings,
                 now: datetime, *, lookup=find_recipient) -> Plan:
    """`lookup(service, external_id)` finds a stored recipient (a batch passes ones it read at once)."""
    recipient = None
    channel = channels.channel(request.channel)
    if request.to is not None and channel.addressed_by_id:
        # Addressed by the caller's id (in-app): a stored recipient's opt-out still applies.
        recipient = lookup(service, request.to)
    elif request.recipient_id is not None:
        recipient = lookup(service, request.recipient_id)
        if recipient is None:
            raise Invalid({"recipient_id": "no recipient with this id: create it with "
                                           "PUT /v1/recipients/{id}"})
    timezone = request.timezone or (recipient.timezone if recipient else None)
    send_at = request.send_at
    if send_at is not None and send_at.tzinfo is None:
        if timezone is None:
            raise Invalid({"send_at": "has no UTC offset, and neither the request nor the "
                                      "recipient has a timezone"})
        try:
            send_at = localize(send_at, timezone)
        except OverflowError:  # near year 1 or 9999
            raise Invalid({"send_at": "out of range once converted to UTC"}) from None
    if send_at is not None:
        if problem := schedulable_problem(send_at):
            raise Invalid({"send_at": problem})
        send_at = send_at.astimezone(UTC)
    rule = quiet_rule(timezone, requested=request.quiet_hours,
                      recipient=stored_window(recipient.quiet_hours) if recipient else None,
                      service=config.quiet_hours) if channel.quiet_hours_apply else None
    due, reason = initial_deliver_at(send_at, now)

    def planned(to: str, suppressed_because: str | None = None) -> PlannedNotification:
        nid = uuid.uuid4()
        schedule = schedule_delivery(due, reason=reason, rule=rule,
                                     critical=request.priority == "critical", key=nid,
                                     spread_interval=config.quiet_hours_spread, timezone=timezone)
        if schedulable_problem(schedule.deliver_at):
            raise Invalid({"send_at": beyond_tables_message(schedule.deliver_at)})
        if not channel.quiet_hours_apply:
            schedule.detail["quiet_hours"] = f"not applied: {channel.name} never waits for them"
        status = Status.SUPPRESSED if suppressed_because else Status.SCHEDULED
        return PlannedNotification(nid, to, status, schedule, suppressed_because)

    if recipient is None:
        notifications = [planned(request.to)]
    elif request.channel in (recipient.opted_out or []):
        notifications = [planned(next(iter(_addresses(request.channel, recipient)), ""), OPTED_OUT)]
    else:
        addresses = _addresses(request.channel, recipient)
        notifications = [planned(a) for a in addresses] or [planned("", NO_ADDRESS)]
    return Plan(request, timezone, send_at, rule, notifications)
