"""What POST /v1/webhooks takes, and the query strings of the message log and of recover."""

from __future__ import annotations

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
from api.validators import parse_iso8601
from common.errors import Invalid
from common.webhooks.addresses import MAX_URL, url_problem
from common.webhooks.emission import EVENT_TYPES

MAX_DESCRIPTION = 500
MAX_PAGE = 100

EventType = Literal[EVENT_TYPES]


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("duplicate", "lists an event type twice")
    return values


class WebhookBody(StrictModel):
    url: Text = Field(min_length=1, max_length=MAX_URL, description=(
        "Where Herald POSTs the status changes: https, on a public address."))
    event_types: Annotated[list[EventType], AfterValidator(_distinct)] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description="The status changes to send.")
    description: Text | None = Field(default=None, max_length=MAX_DESCRIPTION)


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    event_types: list[str]
    description: str | None


def parse_webhook(payload: object, *, allow_private: bool) -> WebhookRequest:
    body = validated(WebhookBody, payload)
    if problem := url_problem(body.url, allow_private=allow_private):
        raise Invalid({"url": problem})
    return WebhookRequest(body.url, list(body.event_types), body.description)


class MessagesQuery(BaseModel):
    """The query of GET /v1/webhooks/{id}/messages."""

    status: Literal["pending", "delivered", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="The newest this many.")
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page.")


@dataclass(frozen=True)
class MessageFilters:
    status: str | None
    limit: int
    cursor: tuple[datetime, uuid.UUID] | None = None


def parse_messages_query(args: Mapping[str, str]) -> MessageFilters:
    problems = unknown_parameters(args, MessagesQuery)
    limit = whole_number(args.get("limit", "50"))
    if limit is None or not 1 <= limit <= MAX_PAGE:
        problems["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    status = args.get("status")
    if status is not None and status not in ("pending", "delivered", "failed"):
        problems["status"] = "must be one of delivered, failed, pending"
    cursor = None
    if "cursor" in args:
        try:
            cursor = decode_cursor(args["cursor"])
        except ValueError as error:
            problems["cursor"] = str(error)
    if problems:
        raise Invalid(problems)
    return MessageFilters(status, limit, cursor)


class RecoverQuery(BaseModel):
    """The query of POST /v1/webhooks/{id}/recover."""

    since: Timestamp = Field(description="Replay the failed messages made from this time on; "
                                         "ISO 8601 with an offset, in the past.")


def parse_recover_query(args: Mapping[str, str], now: datetime) -> datetime:
    problems = unknown_parameters(args, RecoverQuery)
    since = None
    if "since" not in args:
        problems["since"] = "required: the time to replay from"
    else:
        try:
            since = parse_iso8601(args["since"])
        except ValueError as error:
            problems["since"] = str(error)
        else:
            if since > now:
                problems["since"] = "must not be in the future"
    if problems:
        raise Invalid(problems)
    return since
