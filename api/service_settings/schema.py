"""The body of PUT /v1/service/settings, declared once, and its checks against the deployment.

The body is the whole record: a field left out or null takes Herald's
default. Durations are spelled as in `remind_before` ("24h", "90m", 7200).
`parse_settings` returns the record as it is stored (offsets in seconds).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from api.recipients.schema import Channel, Email, Locale, RecipientQuietHours, Timezone
from api.reminders.schema import MAX_REMINDERS, distinct_offsets
from api.request_parsing import validated
from api.strict_model import StrictModel, Text
from common.config import Settings
from common.errors import Invalid

MAX_FROM_NAME = 100  # characters; well inside one encoded word of a From line


class EmailSender(StrictModel):
    from_name: Text | None = Field(default=None, min_length=1, max_length=MAX_FROM_NAME,
                                   description="The display name of the From line.")
    reply_to: Email | None = Field(default=None, description="The Reply-To address.")


class SmsSender(StrictModel):
    sender: Text | None = Field(
        default=None, max_length=64,
        description="A number or Twilio messaging service SID among those the deployment allows.")


class ServiceSettingsBody(StrictModel):
    timezone: Timezone | None = Field(
        default=None, description="For recipients whose request and record name none.")
    quiet_hours: RecipientQuietHours | None = Field(
        default=None, description="The service's window; start == end means none.")
    locale: Locale | None = None
    email: EmailSender | None = None
    sms: SmsSender | None = None
    reminder_offsets: dict[Channel, Annotated[list[Any], Field(min_length=1, max_length=MAX_REMINDERS)]] | None = Field(
        default=None, description='Per channel, the `remind_before` of a reminder request that '
                                  'gives none, e.g. {"sms": ["24h", "2h"]}.')
    disabled_channels: list[Channel] | None = Field(
        default=None, description="Channels that refuse new notifications with 422.")


def _offsets(body: ServiceSettingsBody, problems: dict[str, str]) -> dict[str, list[int]] | None:
    if body.reminder_offsets is None:
        return None
    stored: dict[str, list[int]] = {}
    for channel, durations in body.reminder_offsets.items():
        stored[channel] = distinct_offsets(durations, f"reminder_offsets.{channel}", problems)
    return stored


def _sender_problem(sender: str | None, config: Settings) -> str | None:
    if sender is None or sender in config.allowed_sms_senders:
        return None
    if not config.allowed_sms_senders:
        return "this deployment offers no SMS sender to choose (see SMS_SENDERS)"
    return "not a sender this deployment allows (see SMS_SENDERS)"


def parse_settings(payload: object, config: Settings) -> dict:
    """The record to store, normalised; `Invalid` naming every field at fault."""
    body = validated(ServiceSettingsBody, payload)
    problems: dict[str, str] = {}
    offsets = _offsets(body, problems)
    sender = body.sms.sender if body.sms else None
    if problem := _sender_problem(sender, config):
        problems["sms.sender"] = problem
    if problems:
        raise Invalid(problems)
    return {
        "timezone": body.timezone,
        "quiet_hours": body.quiet_hours.model_dump() if body.quiet_hours else None,
        "locale": body.locale,
        "email": body.email.model_dump() if body.email else None,
        "sms": body.sms.model_dump() if body.sms else None,
        "reminder_offsets": offsets,
        "disabled_channels": list(dict.fromkeys(body.disabled_channels)) if body.disabled_channels else None,
    }
