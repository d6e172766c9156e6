"""The /v1/notifications endpoints: parse, call one service function, serialise."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, g, jsonify, request

from api.auth import requires_api_key
from api.notifications import retry_service, serialize, service
from api.notifications.planning import plan_request
from api.notifications.retry_schema import Replayed, RetryFilter, example_retry_filter, parse_retry_filter
from api.notifications.schema import ListQuery, NotificationBody, parse_list_query, parse_notification
from api.notifications.serialize import (
    Accepted, AcceptedGroup, NotificationDetail, NotificationPage, NotificationSummary, Preview,
)
from api.openapi import Answer, Parameter, documented
from api.request_parsing import IDEMPOTENCY_KEY, idempotency_key, json_body
from common.channels.email import CHANNEL as EMAIL
from common.models import utcnow

bp = Blueprint("notifications", __name__, url_prefix="/v1/notifications")


def example_notification(now=None) -> dict:
    """An email that is accepted as it is (example.com: never a real mailbox)."""
    return {"channel": EMAIL.name, "to": "ada@example.com",
            "content": {"subject": "Your order has shipped", "body": "It arrives on Thursday."},
            "reference": "order-42"}


# A UUID in the route itself, so /v1/notifications/preview is never read as an id.
NOTIFICATION_ID = Parameter("notification_id", "path", uuid.UUID, "The id the 202 answer gave.")


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
    body, replayed = service.create_notification(
        g.api_key, notification, idempotency_key=idempotency_key(),
        config=current_app.config["HERALD_SETTINGS"], now=utcnow(),
        answer=serialize.accepted_body,
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
    return jsonify(serialize.preview_of(plan))


@bp.get("/<uuid:notification_id>")
@documented(summary="A notification, its content and history", tag="notifications",
            parameters=(NOTIFICATION_ID,),
            answers={200: Answer("The notification.", NotificationDetail)})
@requires_api_key
def show(notification_id: uuid.UUID):
    notification = service.find_notification(g.api_key, str(notification_id))
    return jsonify(serialize.notification_detail(notification, service.history(notification)))


@bp.get("")
@documented(summary="The service's notifications, newest first", tag="notifications",
            query=ListQuery,
            answers={200: Answer("A page; follow `next_cursor` for the next.", NotificationPage)})
@requires_api_key
def index():
    page, next_cursor = service.list_notifications(g.api_key, parse_list_query(request.args))
    return jsonify(serialize.notification_page(page, next_cursor))


@bp.post("/<uuid:notification_id>/cancel")
@documented(summary="Cancel a notification that is not sent yet", tag="notifications",
            parameters=(NOTIFICATION_ID,), errors=(409,),
            answers={200: Answer("Cancelled.", NotificationSummary)})
@requires_api_key
def cancel(notification_id: uuid.UUID):
    notification = service.cancel_notification(g.api_key, str(notification_id), utcnow())
    return jsonify(serialize.notification_summary(notification))


@bp.post("/<uuid:notification_id>/send-now")
@documented(summary="Send a waiting notification now, quiet hours or not", tag="notifications",
            parameters=(NOTIFICATION_ID,), errors=(409,),
            answers={202: Answer("Queued for delivery now.", NotificationSummary)})
@requires_api_key
def hurry(notification_id: uuid.UUID):
    notification = service.send_now(g.api_key, str(notification_id), utcnow())
    return jsonify(serialize.notification_summary(notification)), 202


@bp.post("/<uuid:notification_id>/retry")
@documented(summary="Send a failed notification again", tag="notifications",
            parameters=(NOTIFICATION_ID,), errors=(409,),
            description="Once the cause is fixed: the same notification, one more attempt under "
                        "a new dispatch token; its history names the key that asked.",
            answers={202: Answer("Scheduled again, due now.", NotificationSummary)})
@requires_api_key
def retry(notification_id: uuid.UUID):
    notification = retry_service.retry_one(g.api_key, str(notification_id), utcnow())
    return jsonify(serialize.notification_summary(notification)), 202


@bp.post("/retry")
@documented(summary="Send failed notifications again, by filter", tag="notifications",
            body=RetryFilter, example=example_retry_filter, parameters=(IDEMPOTENCY_KEY,),
            errors=(409,),
            answers={202: Answer("How many were scheduled again.", Replayed,
                                 headers={"Idempotent-Replayed": "`true` when this is the first "
                                                                 "answer given again."})})
@requires_api_key
def retry_filtered():
    wanted = parse_retry_filter(json_body())
    answer, replayed = retry_service.retry_many(
        g.api_key, wanted, idempotency_key=idempotency_key(),
        config=current_app.config["HERALD_SETTINGS"], now=utcnow())
    response = jsonify(answer)
    response.status_code = 202
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
