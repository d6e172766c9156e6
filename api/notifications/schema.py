"""The requests of /v1/notifications: a notification's body, declared once, and the listing's query.

Pydantic checks types, required and unknown fields; `parse_notification`
adds the checks that depend on the channel and turns every problem into one
`Invalid` (or `TooLarge`) naming each field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from api.notifications.cursor import decode_cursor
from api.query import unknown_parameters, whole_number
from api.request_parsing import validated
from api.response_model import Timestamp
from api.strict_model import StrictModel, Text
from api.validators import is_blank, parse_iso8601, schedulable_problem, text_problem, timezone_problem
from common import channels
from common.errors import Invalid, TooLarge
from common.quiet_hours import QuietHours
from common.statuses import Status

MAX_PAGE = 200


class Content(StrictModel):
    title: Text | None = None
    subject: Text | None = None
    body: Text | None = None
    html: Text | None = None
    data: dict[Text, Text] | None = None
    action_url: Text | None = None  # in-app: where the item leads when clicked


class QuietHoursBody(StrictModel):
    """A window in the recipient's local time, "22:00" to "08:00"; equal ends mean none."""

    start: str
    end: str

    def window(self) -> QuietHours:
        return QuietHours.parse(self.start, self.end)


def _header_safe(value: str) -> str:
    # FCM hands the collapse key to APNs as the apns-collapse-id header (64 bytes at most).
    if not (value.isascii() and value.isprintable()):
        raise PydanticCustomError("not_printable_ascii", "must be printable ASCII (it becomes an APNs header)")
    return value


class PushOptions(StrictModel):
    # FCM keeps an undelivered message for at most 28 days.
    ttl_seconds: int | None = Field(default=None, ge=0, le=28 * 24 * 3600)
    collapse_key: Annotated[Text, AfterValidator(_header_safe)] | None = Field(
        default=None, min_length=1, max_length=64)


class NotificationBody(StrictModel):
    channel: Literal[channels.names()]
    # An address, or the caller's id for a recipient stored with PUT /v1/recipients.
    to: Text | None = Field(default=None, min_length=1, max_length=320)  # the column's size
    recipient_id: Text | None = Field(default=None, min_length=1, max_length=255)
    content: Content
    priority: Literal["normal", "critical"] = "normal"
    timezone: Text | None = Field(default=None, max_length=64)
    send_at: Text | None = Field(default=None, max_length=64)
    reference: Text | None = Field(default=None, min_length=1, max_length=255)
    options: PushOptions | None = None
    quiet_hours: QuietHoursBody | None = None


@dataclass(frozen=True)
class NotificationRequest:
    """A validated request, ready for `api.notifications.service.create_notification`."""

    channel: str
    to: str | None
    title: str | None
    body: str
    html: str | None
    data: dict[str, str] | None
    priority: str
    timezone: str | None
    # Aware; or naive when it is to be read in the recipient's stored timezone.
    send_at: datetime | None
    reference: str | None
    options: dict | None = None
    recipient_id: str | None = None
    quiet_hours: QuietHours | None = None


def _content_problems(channel: channels.Channel, content: Content) -> tuple[dict[str, str], dict[str, str]]:
    """(problems, size problems) of the content for its channel."""
    given = {name for name, value in content.model_dump().items() if value is not None}
    problems, too_large = {}, {}
    for name in sorted(given - channel.allowed):
        problems[f"content.{name}"] = f"not used by the {channel.name} channel"
    for name in sorted(channel.required - given):
        problems[f"content.{name}"] = f"required for the {channel.name} channel"
    for name, limit in channel.limits.items():
        value = getattr(content, name)
        if value is None:
            continue
        size = len(json.dumps(value)) if name == "data" else len(value)
        if size > limit:
            unit = "bytes of JSON" if name == "data" else "characters"
            too_large[f"content.{name}"] = f"{size} {unit}, more than the limit of {limit}"
        elif name in ("title", "subject", "body") and is_blank(value):
            problems[f"content.{name}"] = "must not be blank (it has no visible character)"
    return problems, too_large


def _given(options: PushOptions | None) -> dict | None:
    """The options the caller set, or None."""
    return (options.model_dump(exclude_none=True) if options else None) or None


def _send_at(body: NotificationBody) -> datetime:
    """An aware time; naive only when a stored recipient's timezone will read it."""
    waits_for_recipient = body.timezone is None and body.recipient_id is not None
    return parse_iso8601(body.send_at, body.timezone, allow_naive=waits_for_recipient)


def parse_notification(payload: object) -> NotificationRequest:
    body = validated(NotificationBody, payload)
    channel = channels.channel(body.channel)

    problems: dict[str, str] = {}
    if (body.to is None) == (body.recipient_id is None):
        problems["to"] = "give either `to` (an address) or `recipient_id`, not both"
    elif body.to is not None and (problem := channel.address_problem(body.to)):
        problems["to"] = problem
    if body.timezone is not None and (problem := timezone_problem(body.timezone)):
        problems["timezone"] = problem
    send_at = None
    if body.send_at is not None and "timezone" not in problems:
        try:
            send_at = _send_at(body)
        except ValueError as error:
            problems["send_at"] = str(error)
        # A naive time waits for the recipient's timezone: `api.notifications.planning` checks it then.
        if send_at is not None and send_at.tzinfo is not None and (problem := schedulable_problem(send_at)):
            problems["send_at"] = problem
    quiet_hours = None
    if body.quiet_hours is not None:
        try:
            quiet_hours = body.quiet_hours.window()
        except ValueError as error:
            problems["quiet_hours"] = str(error)
    if body.options is not None and not channel.takes_options:
        problems["options"] = f"not used by the {channel.name} channel"
    content_problems, too_large = _content_problems(channel, body.content)
    problems.update(content_problems)
    if channel.content_check and not content_problems and not too_large:
        vendor_problems, too_large = channel.content_check(body.content.model_dump(exclude_none=True),
                                                           _given(body.options))
        problems.update(vendor_problems)
    if problems:
        raise Invalid(problems)
    if too_large:
        raise TooLarge(too_large)

    content = body.content
    # Content a channel keeps among the options (in-app: action_url).
    kept = {name: getattr(content, name) for name in sorted(channel.content_options)
            if getattr(content, name) is not None}
    return NotificationRequest(
        channel=body.channel,
        to=body.to,
        title=getattr(content, channel.title_field) if channel.title_field else None,
        body=content.body,
        html=content.html,
        data=content.data,
        priority=body.priority,
        timezone=body.timezone,
        send_at=send_at,
        reference=body.reference,
        options={**(_given(body.options) or {}), **kept} or None,
        recipient_id=body.recipient_id,
        quiet_hours=quiet_hours,
    )


class ListQuery(BaseModel):
    """The query of GET /v1/notifications, as `parse_list_query` reads it."""

    status: Status | None = None
    channel: Literal[channels.names()] | None = None
    recipient: str | None = Field(default=None, description="An exact address.")
    reference: str | None = Field(default=None, description="The caller's reference, exactly.")
    created_after: Timestamp | None = Field(default=None, description="Inclusive; with an offset.")
    created_before: Timestamp | None = Field(default=None, description="Exclusive; with an offset.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page.")


@dataclass(frozen=True)
class ListFilters:
    status: str | None = None
    channel: str | None = None
    recipient: str | None = None
    reference: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 50
    cursor: tuple[datetime, uuid.UUID] | None = None


def _one_of(args: Mapping[str, str], name: str, allowed) -> str | None:
    value = args.get(name)
    if value is not None and value not in allowed:
        raise Invalid({name: f"must be one of {', '.join(sorted(allowed))}"})
    return value


def _time_arg(args: Mapping[str, str], name: str):
    value = args.get(name)
    if value is None:
        return None
    try:
        return parse_iso8601(value)
    except ValueError as error:
        raise Invalid({name: str(error)}) from None


def parse_list_query(args: Mapping[str, str]) -> ListFilters:
    problems = unknown_parameters(args, ListQuery)
    limit = whole_number(args.get("limit", "50"))
    if limit is None or not 1 <= limit <= MAX_PAGE:
        problems["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    cursor = None
    if "cursor" in args:
        try:
            cursor = decode_cursor(args["cursor"])
        except ValueError as error:
            problems["cursor"] = str(error)
    for name in ("recipient", "reference"):
        if name in args and (problem := text_problem(args[name])):
            problems[name] = problem
    if problems:
        raise Invalid(problems)
    return ListFilters(
        status=_one_of(args, "status", {s.value for s in Status}),
        channel=_one_of(args, "channel", set(channels.names())),
        recipient=args.get("recipient"),
        reference=args.get("reference"),
        created_after=_time_arg(args, "created_after"),
        created_before=_time_arg(args, "created_before"),
        limit=limit,
        cursor=cursor,
    )
