"""The reminders request: an event time, durations before it, and the notification to send.

    {"event_at": "2030-05-01T18:00:00+02:00",
     "remind_before": ["24h", "2h", "1h"],
     "notification": {<the body of POST /v1/notifications, without send_at>},
     "reference": "booking-42"}

`event_at` is ISO 8601 with an offset; a naive time is read in
`notification.timezone`, else the stored recipient's, else the service's.
`remind_before` holds 1 to 10 distinct durations (left out: the service's
`reminder_offsets` for the notification's channel): a string of whole numbers
with units in the order d, h, m, s ("90s", "15m", "2h", "1d", "1h30m"), or a
JSON integer of seconds; from 0 (at the event) to 365 days. Two spellings of
one duration ("1d", "24h") are duplicates. Responses name each reminder in one
canonical form: whole hours as hours ("1d" reads "24h"), else whole minutes
("90m"), else seconds ("45s").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from api.notifications.schema import NotificationRequest, parse_notification
from api.request_parsing import validated
from api.strict_model import StrictModel, Text
from api.validators import parse_iso8601, schedulable_problem
from common.errors import Invalid, TooLarge

MAX_REMINDERS = 10
MAX_REMIND_BEFORE = 365 * 24 * 3600
_DURATION = re.compile(r"(?:([0-9]{1,9})d)?(?:([0-9]{1,9})h)?(?:([0-9]{1,9})m)?(?:([0-9]{1,9})s)?")
_DURATION_HELP = 'a duration like "15m", "2h", "1d", "90s" or "1h30m", or whole seconds'


class ReminderBody(StrictModel):
    event_at: Text = Field(max_length=64)
    remind_before: list[Any] | None = Field(
        default=None, min_length=1, max_length=MAX_REMINDERS,
        description="Left out: the service's reminder_offsets for the channel "
                    "(GET /v1/service/settings).")
    notification: dict[str, Any] = Field(
        description="The body of POST /v1/notifications, without send_at; checked as that body is.")
    reference: Text | None = Field(default=None, min_length=1, max_length=255)


class RescheduleBody(StrictModel):
    event_at: Text = Field(max_length=64)


@dataclass(frozen=True)
class ReminderRequest:
    # Aware; naive only when the stored recipient's timezone is to read it.
    event_at: datetime
    # Seconds, distinct, largest (earliest reminder) first; empty: the service's defaults.
    remind_before: list[int]
    notification: NotificationRequest
    template: dict  # the notification body as given, to plan members again later
    reference: str | None


def duration_seconds(value: object) -> int:
    """Seconds in a `remind_before` item; raises ValueError with the problem."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"must be {_DURATION_HELP}")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.fullmatch(value)
        if match is None or not any(match.groups()):
            raise ValueError(f"must be {_DURATION_HELP}")
        days, hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if not 0 <= seconds <= MAX_REMIND_BEFORE:
        raise ValueError("must be from 0 seconds to 365 days")
    return seconds


def describe(seconds: int) -> str:
    """The canonical name of a duration: "24h", "90m", "45s"."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def refuse_idempotency_key(headers: Mapping[str, str]) -> None:
    # Refused rather than ignored: a caller must not believe its retries are deduplicated.
    if "Idempotency-Key" in headers:
        raise Invalid({"Idempotency-Key": "not supported on /v1/reminders"})


def _parse_event_at(value: str, zone: str | None, *, naive_ok: bool) -> datetime:
    moment = parse_iso8601(value, zone, allow_naive=True)
    if moment.tzinfo is None and not naive_ok:
        raise ValueError("has no UTC offset: add one, or give notification.timezone")
    _check_schedulable(moment)
    return moment


def distinct_offsets(durations, field: str, problems: dict[str, str]) -> list[int]:
    """The durations in seconds, latest first; each bad or repeated one named in `problems`."""
    seen: dict[int, int] = {}
    for index, value in enumerate(durations):
        name = f"{field}.{index}"
        try:
            seconds = duration_seconds(value)
        except ValueError as error:
            problems[name] = str(error)
            continue
        if seconds in seen:
            problems[name] = f"the same time as {field}.{seen[seconds]}"
        seen.setdefault(seconds, index)
    return sorted(seen, reverse=True)


def _check_schedulable(moment: datetime) -> None:
    # A naive time waits for the recipient's timezone: `api.reminders.service` checks it then.
    if moment.tzinfo is not None and (problem := schedulable_problem(moment)):
        raise ValueError(problem)


def parse_reminders(payload: object) -> ReminderRequest:
    body = validated(ReminderBody, payload)

    problems: dict[str, str] = {}
    offsets = distinct_offsets(body.remind_before or (), "remind_before", problems)

    notification, too_large = None, None
    if "send_at" in body.notification:
        problems["notification.send_at"] = "not used: reminders are timed by event_at and remind_before"
    else:
        try:
            notification = parse_notification(body.notification)
        except TooLarge as error:
            too_large = error.within("notification")
        except Invalid as error:
            problems.update(error.within("notification").fields)

    zone = notification.timezone if notification else None
    # Without a parsed notification the timezone is unknown: its own problem is reported.
    # Without notification.timezone, the recipient's or the service's reads a naive time.
    naive_ok = notification is None or zone is None
    event_at = None
    try:
        event_at = _parse_event_at(body.event_at, zone, naive_ok=naive_ok)
    except ValueError as error:
        problems["event_at"] = str(error)
    if problems:
        raise Invalid(problems)
    if too_large is not None:
        raise too_large
    return ReminderRequest(event_at=event_at, remind_before=offsets,
                           notification=notification, template=body.notification,
                           reference=body.reference)


def parse_reschedule(payload: object) -> datetime:
    """The new event time: aware, or naive to be read in the group's timezone."""
    body = validated(RescheduleBody, payload)
    try:
        moment = parse_iso8601(body.event_at, allow_naive=True)
        _check_schedulable(moment)
        return moment
    except ValueError as error:
        raise Invalid({"event_at": str(error)}) from None
