"""The /v1/reminders endpoints: notifications scheduled relative to an event.

The rules (durations, skipping, cancel and reschedule) are in `api.reminder_groups`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from api.auth import requires_api_key
from api.errors import invalid
from api.notifications import json_body
from api.reminder_groups import (
    cancel_reminders, create_reminders, reschedule_reminders, show_reminders,
)
from api.reminder_schema import parse_reminders, parse_reschedule
from common.models import utcnow

bp = Blueprint("reminders", __name__, url_prefix="/v1/reminders")


def refuse_idempotency_key() -> None:
    # Refused rather than ignored: a caller must not believe its retries are deduplicated.
    if "Idempotency-Key" in request.headers:
        raise invalid({"Idempotency-Key": "not supported on /v1/reminders"})


@bp.post("")
@requires_api_key
def create():
    refuse_idempotency_key()
    reminders = parse_reminders(json_body())
    body = create_reminders(g.api_key, reminders, config=current_app.config["HERALD_SETTINGS"],
                            now=utcnow())
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"/v1/reminders/{body['group_id']}"
    return response


@bp.get("/<group_id>")
@requires_api_key
def show(group_id: str):
    return jsonify(show_reminders(g.api_key, group_id))


@bp.post("/<group_id>/cancel")
@requires_api_key
def cancel(group_id: str):
    return jsonify(cancel_reminders(g.api_key, group_id, utcnow()))


@bp.post("/<group_id>/reschedule")
@requires_api_key
def reschedule(group_id: str):
    new_event_at = parse_reschedule(json_body())
    body = reschedule_reminders(g.api_key, group_id, new_event_at,
                                config=current_app.config["HERALD_SETTINGS"], now=utcnow())
    return jsonify(body)
