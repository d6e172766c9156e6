"""The requests of /v1/inbox: the list's query and read-all's body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from flask import request
from pydantic import BaseModel, Field

from api.query import unknown_parameters, whole_number
from api.request_parsing import json_body, validated
from api.strict_model import StrictModel
from common.errors import Invalid

MAX_PAGE = 100
MAX_SEQ = 2**62  # the column is a bigint
STATUSES = ("unread", "read", "all")


class InboxQuery(BaseModel):
    """The query of GET /v1/inbox."""

    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page.")
    status: Literal[STATUSES] = Field(default="all", description="Read state to list.")
    archived: Literal["false", "true", "all"] = Field(
        default="false", description="`false` (the default) leaves archived items out; "
                                     "`true` lists only them.")


@dataclass(frozen=True)
class InboxFilters:
    limit: int = 20
    before_seq: int | None = None  # the cursor: items older than this seq
    status: str = "all"
    archived: str = "false"


def parse_inbox_query(args: Mapping[str, str]) -> InboxFilters:
    problems = unknown_parameters(args, InboxQuery)
    limit = whole_number(args.get("limit", "20"))
    if limit is None or not 1 <= limit <= MAX_PAGE:
        problems["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    before = None
    if "cursor" in args:
        before = whole_number(args["cursor"])
        if before is None:
            problems["cursor"] = "not a cursor from a previous page"
    status, archived = args.get("status", "all"), args.get("archived", "false")
    if status not in STATUSES:
        problems["status"] = f"must be one of {', '.join(STATUSES)}"
    if archived not in ("false", "true", "all"):
        problems["archived"] = "must be one of false, true, all"
    if problems:
        raise Invalid(problems)
    return InboxFilters(limit=limit, before_seq=before, status=status, archived=archived)


class StreamQuery(BaseModel):
    """The query of GET /v1/inbox/stream (the realtime process)."""

    token: str | None = Field(default=None, description="The inbox token, for an EventSource "
                                                        "(which cannot set headers).")
    since: int | None = Field(default=None, ge=0, description="The last seq the client has; "
                                                              "the Last-Event-ID header wins.")


def parse_since(args: Mapping[str, str], last_event_id: str | None) -> int:
    """The last seq the client has: Last-Event-ID (a reconnecting EventSource), else ?since=, else 0."""
    problems = unknown_parameters(args, StreamQuery)
    given, name = (last_event_id, "Last-Event-ID") if last_event_id else (args.get("since"), "since")
    since = 0 if given is None else whole_number(given)
    if since is None:
        problems[name] = "must be a seq: a whole number"
    if problems:
        raise Invalid(problems)
    return since


class ReadAllBody(StrictModel):
    """Mark read every item up to `up_to` (a seq the client has seen); all of them without it."""

    up_to: int | None = Field(default=None, ge=0, le=MAX_SEQ)


def parse_read_all() -> int | None:
    """The `up_to` of a read-all; an empty body (no Content-Type) means every item."""
    if not request.content_length and not request.mimetype:
        return None
    return validated(ReadAllBody, json_body()).up_to
