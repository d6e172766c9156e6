"""The /v1/reminders endpoints: notifications scheduled relative to an event.

The rules (durations, skipping, cancel and reschedule) are in `api.reminders.service`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, current_app, g, jsonify, request

from api.auth import requires_api_key
from api.openapi import Answer, Parameter, documented
from api.reminders.schema import (
    ReminderBody, RescheduleBody, parse_reminders, parse_reschedule, refuse_idempotency_key,
)
from api.reminders.serialize import (
    CancelledReminderGroup, ReminderGroupView, cancelled_group_view, group_view,
)
from api.reminders.service import (
    cancel_reminders, create_reminders, reschedule_reminders, show_reminders,
)
from api.request_parsing import json_body
from api.response_model import iso
from common.channels.sms import CHANNEL as SMS
from common.models import utcnow

bp = Blueprint("reminders", __name__, url_prefix="/v1/reminders")


def example_reminders(now: datetime) -> dict:
    """Reminders a day and an hour before an event a week from now."""
    return {"event_at": iso(now + timedelta(days=7)), "remind_before": ["24h", "1h"],
            "notification": {"channel": SMS.name, "to": "+447700900123",
                             "content": {"body": "Your appointment is tomorrow at 10:00."}},
            "reference": "booking-42"}


def example_reschedule(now: datetime) -> dict:
    return {"event_at": iso(now + timedelta(days=8))}


GROUP_ID = Parameter("group_id", "path", str, "The `group_id` the 201 answer gave.")


@bp.post("")
@documented(summary="Reminders before an event", tag="reminders", body=ReminderBody,
            example=example_reminders,
            description="An Idempotency-Key header is refused (422): reminders are not "
                        "deduplicated.",
            answers={201: Answer("Created; reminders whose time is past are listed as skipped.",
                                 ReminderGroupView, headers={"Location": "The group's URL."})})
@requires_api_key
def create():
    refuse_idempotency_key(request.headers)
    reminders = parse_reminders(json_body())
    body = group_view(create_reminders(g.api_key, reminders,
                                       config=current_app.config["HERALD_SETTINGS"], now=utcnow()))
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"/v1/reminders/{body['group_id']}"
    return response


@bp.get("/<group_id>")
@documented(summary="A reminder group", tag="reminders", parameters=(GROUP_ID,),
            answers={200: Answer("The group.", ReminderGroupView)})
@requires_api_key
def show(group_id: str):
    return jsonify(group_view(show_reminders(g.api_key, group_id)))


@bp.post("/<group_id>/cancel")
@documented(summary="Cancel every pending reminder of a group", tag="reminders",
            parameters=(GROUP_ID,),
            answers={200: Answer("Cancelled (again: nothing changes).", CancelledReminderGroup)})
@requires_api_key
def cancel(group_id: str):
    return jsonify(cancelled_group_view(cancel_reminders(g.api_key, group_id, utcnow())))


@bp.post("/<group_id>/reschedule")
@documented(summary="Move the event; pending reminders move with it", tag="reminders",
            parameters=(GROUP_ID,), body=RescheduleBody, example=example_reschedule,
            answers={200: Answer("Rescheduled; reminders now past are cancelled and listed as "
                                 "skipped.", ReminderGroupView)})
@requires_api_key
def reschedule(group_id: str):
    new_event_at = parse_reschedule(json_body())
    state = reschedule_reminders(g.api_key, group_id, new_event_at,
                                 config=current_app.config["HERALD_SETTINGS"], now=utcnow())
    return jsonify(group_view(state))
