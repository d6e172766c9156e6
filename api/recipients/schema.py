"""The shape of a stored recipient as PUT /v1/recipients/{external_id} takes it, declared once.

Pydantic checks types, unknown fields and every format (each value's own
check runs where it is declared, so a problem is named by its place, such as
`push_tokens.1` or `quiet_hours.start`); `parse_recipient` turns the lot into
one `Invalid` and the rest into plain, normalised values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from api.request_parsing import not_an_object, schema_problems
from api.strict_model import StrictModel, Text
from api.validators import text_problem, timezone_problem
from common import channels
from common.channels.email import email_problem
from common.channels.push import push_token_problem
from common.channels.sms import phone_problem
from common.errors import Invalid
from common.locales import locale_problem
from common.quiet_hours import parse_wall_time

MAX_EXTERNAL_ID = 255  # notifications.recipient_ref and recipients.external_id
MAX_PUSH_TOKENS = 20
# A push token becomes a notification's `recipient` (320 characters) on every send.
MAX_PUSH_TOKEN = 320

def external_id_problem(external_id: str) -> str | None:
    if not 0 < len(external_id) <= MAX_EXTERNAL_ID:
        return f"must be 1 to {MAX_EXTERNAL_ID} characters"
    return text_problem(external_id)


def _checked(problem_of: Callable[[str], str | None]):
    def check(value: str) -> str:
        if problem := problem_of(value):
            raise PydanticCustomError("invalid_format", problem)
        return value

    return AfterValidator(check)


def _wall_time(value: str) -> str:
    try:
        parse_wall_time(value)
    except ValueError:
        raise PydanticCustomError("invalid_format", "must be a time as HH:MM from 00:00 to 23:59") from None
    return value


Timezone = Annotated[Text, Field(max_length=64), _checked(timezone_problem)]
Locale = Annotated[Text, _checked(locale_problem)]
Email = Annotated[Text, Field(max_length=320), _checked(email_problem)]
Phone = Annotated[Text, _checked(phone_problem)]
PushToken = Annotated[Text, Field(max_length=MAX_PUSH_TOKEN), _checked(push_token_problem)]
WallTime = Annotated[str, AfterValidator(_wall_time)]
Channel = Literal[channels.names()]


class RecipientQuietHours(StrictModel):
    """The recipient's window in their local time; start == end means they have none."""

    start: WallTime
    end: WallTime


class RecipientBody(StrictModel):
    timezone: Timezone | None = None
    locale: Locale | None = None
    email: Email | None = None
    phone: Phone | None = None
    push_tokens: Annotated[list[PushToken], Field(max_length=MAX_PUSH_TOKENS)] | None = None
    # None: the service's default window applies.
    quiet_hours: RecipientQuietHours | None = None
    opted_out: list[Channel] | None = None


@dataclass(frozen=True)
class RecipientPreferences:
    """A validated PUT body: the whole record, ready for `api.recipients.service.put_recipient`."""

    timezone: str | None
    locale: str | None
    email: str | None
    phone: str | None
    push_tokens: list[str]
    quiet_hours: dict | None  # {"start": "HH:MM", "end": "HH:MM"}
    opted_out: list[str]


def _distinct(values: list[str] | None) -> list[str]:
    """The values without repeats, in the order first given."""
    return list(dict.fromkeys(values or ()))


def checked_external_id(external_id: str) -> str:
    if problem := external_id_problem(external_id):
        raise Invalid({"external_id": problem})
    return external_id


def parse_recipient(external_id: str, payload: object) -> RecipientPreferences:
    if not isinstance(payload, dict):
        raise not_an_object("body")
    problems = {}
    if problem := external_id_problem(external_id):
        problems["external_id"] = problem
    body = None
    try:
        body = RecipientBody.model_validate(payload)
    except ValidationError as error:
        problems.update(schema_problems(error))
    if problems:
        raise Invalid(problems)
    return RecipientPreferences(
        timezone=body.timezone,
        locale=body.locale,
        email=body.email,
        phone=body.phone,
        push_tokens=_distinct(body.push_tokens),
        quiet_hours=body.quiet_hours.model_dump() if body.quiet_hours else None,
        opted_out=_distinct(body.opted_out),
    )
