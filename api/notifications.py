"""The /v1/notifications endpoints: parse, call one service function, serialise."""

from __future__ import annotations

import re

import uuid
from typing import Annotated, Literal

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel, Field
from werkzeug.exceptions import BadRequest

from api.auth import requires_api_key
from api.errors import ApiError, invalid
from api.openapi import Answer, Parameter, documented
from api.responses import (
    Accepted, AcceptedGroup, NotificationDetail, NotificationPage, NotificationSummary, Preview,
    Timestamp, notification_detail, notification_page, notification_summary, preview_of,
)
from api.schemas import NotificationBody, parse_notification
from api.creation import create_notification
from api.planning import plan_request
from api.services import (
    ListFilters, cancel_notification, decode_cursor, find_notification, history,
    list_notifications, send_now,
)
from api.query import unknown_parameters
from api.validators import parse_iso8601, text_problem
from common.models import utcnow
from common.statuses import Status
from common.topology import CHANNELS

bp = Blueprint("notifications", __name__, url_prefix="/v1/notifications")

MAX_IDEMPOTENCY_KEY = 255
MAX_PAGE = 200

IDEMPOTENCY_KEY = Parameter(
    "Idempotency-Key", "header",
    Annotated[str, Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)],
    "Repeat a request with the same key (within the idempotency TTL) to get the first answer "
    "again instead of a second notification.")


def example_notification(now=None) -> dict:
    """An email that is accepted as it is (example.com: never a real mailbox)."""
    return {"channel": "email", "to": "ada@example.com",
            "content": {"subject": "Your order has shipped", "body": "It arrives on Thursday."},
            "reference": "order-42"}


# A UUID in the route itself, so /v1/notifications/preview is never read as an id.
NOTIFICATION_ID = Parameter("notification_id", "path", uuid.UUID, "The id the 202 answer gave.")


def json_body() -> object:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json",
                       {"Content-Type": "must be application/json"})
    try:
        return request.get_json()
    except (BadRequest, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise ApiError(400, "invalid_json", "the request body is not valid JSON",
                       {"body": "not valid JSON"}) from None


# Printable ASCII without commas: servers join repeated headers with a comma,
# so a comma would make two Idempotency-Key headers one key.
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x2b\x2d-\x7e]+")


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if "," in key:
        raise invalid({"Idempotency-Key": "give one Idempotency-Key header, with no comma in it"})
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise invalid({"Idempotency-Key": f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"})
    return key


@bp.post("")
@documented(
    summary="Send a notification", tag="notifications", body=NotificationBody,
    example=example_notification,
    parameters=(IDEMPOTENCY_KEY,), errors=(409,),
    answers={202: Answer("Accepted: stored and timed. For a stored recipient with several push "
                         "devices, one notification per device, as a group.",
                         (Accepted, AcceptedGroup),
                         headers={"Location": "The notification's URL (one notification only).",
                                  "Idempotent-Replayed": "`true` when this is the first answer "
                                                         "given again."})},
)
@requires_api_key
def create():
    notification = parse_notification(json_body())
    body, replayed = create_notification(
        g.api_key, notification, idempotency_key=idempotency_key(),
        config=current_app.config["HERALD_SETTINGS"], now=utcnow(),
    )
    response = jsonify(body)
    response.status_code = 202
    if "id" in body:  # one notification; a recipient's devices answer with a group
        response.headers["Location"] = f"/v1/notifications/{body['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/preview")
@documented(summary="When a notification would go out, and why, without sending it",
            tag="notifications", body=NotificationBody, example=example_notification,
            answers={200: Answer("The plan, nothing written.", Preview)})
@requires_api_key
def preview():
    """When a notification would go out, and why, without writing anything."""
    config = current_app.config["HERALD_SETTINGS"]
    plan = plan_request(g.api_key.service, parse_notification(json_body()), config, utcnow())
    return jsonify(preview_of(plan))


@bp.get("/<uuid:notification_id>")
@documented(summary="A notification, its content and history", tag="notifications",
            parameters=(NOTIFICATION_ID,),
            answers={200: Answer("The notification.", NotificationDetail)})
@requires_api_key
def show(notification_id: uuid.UUID):
    notification = find_notification(g.api_key, str(notification_id))
    return jsonify(notification_detail(notification, history(notification)))


class ListQuery(BaseModel):
    """The query of GET /v1/notifications, as `list_filters` reads it."""

    status: Status | None = None
    channel: Literal[CHANNELS] | None = None
    recipient: str | None = Field(default=None, description="An exact address.")
    reference: str | None = Field(default=None, description="The caller's reference, exactly.")
    created_after: Timestamp | None = Field(default=None, description="Inclusive; with an offset.")
    created_before: Timestamp | None = Field(default=None, description="Exclusive; with an offset.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page.")


def _one_of(name: str, allowed) -> str | None:
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise invalid({name: f"must be one of {', '.join(sorted(allowed))}"})
    return value


def _time_arg(name: str):
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return parse_iso8601(value)
    except ValueError as error:
        raise invalid({name: str(error)}) from None


def _whole_number(text: str) -> int | None:
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses;
    # the length cap keeps int() under Python's limit on the digits it reads.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def list_filters() -> ListFilters:
    problems = unknown_parameters(request.args, ListQuery)
    limit = _whole_number(request.args.get("limit", "50"))
    if limit is None or not 1 <= limit <= MAX_PAGE:
        problems["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    cursor = None
    if "cursor" in request.args:
        try:
            cursor = decode_cursor(request.args["cursor"])
        except ValueError as error:
            problems["cursor"] = str(error)
    for name in ("recipient", "reference"):
        if name in request.args and (problem := text_problem(request.args[name])):
            problems[name] = problem
    if problems:
        raise invalid(problems)
    return ListFilters(
        status=_one_of("status", {s.value for s in Status}),
        channel=_one_of("channel", set(CHANNELS)),
        recipient=request.args.get("recipient"),
        reference=request.args.get("reference"),
        created_after=_time_arg("created_after"),
        created_before=_time_arg("created_before"),
        limit=limit,
        cursor=cursor,
    )


@bp.get("")
@documented(summary="The service's notifications, newest first", tag="notifications",
            query=ListQuery,
            answers={200: Answer("A page; follow `next_cursor` for the next.", NotificationPage)})
@requires_api_key
def index():
    page, next_cursor = list_notifications(g.api_key, list_filters())
    return jsonify(notification_page(page, next_cursor))


@bp.post("/<uuid:notification_id>/cancel")
@documented(summary="Cancel a notification that is not sent yet", tag="notifications",
            parameters=(NOTIFICATION_ID,), errors=(409,),
            answers={200: Answer("Cancelled.", NotificationSummary)})
@requires_api_key
def cancel(notification_id: uuid.UUID):
    notification = cancel_notification(g.api_key, str(notification_id), utcnow())
    return jsonify(notification_summary(notification))


@bp.post("/<uuid:notification_id>/send-now")
@documented(summary="Send a waiting notification now, quiet hours or not", tag="notifications",
            parameters=(NOTIFICATION_ID,), errors=(409,),
            answers={202: Answer("Queued for delivery now.", NotificationSummary)})
@requires_api_key
def hurry(notification_id: uuid.UUID):
    notification = send_now(g.api_key, str(notification_id), utcnow())
    return jsonify(notification_summary(notification)), 202
