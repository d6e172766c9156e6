"""Delivery receipts from providers: Twilio's signed status callbacks."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request

from api.errors import ApiError, invalid
from api.services import record_delivery_receipt
from common.models import utcnow
from common.twilio_signature import callback_outcome, valid_callback

bp = Blueprint("receipts", __name__, url_prefix="/v1/receipts")


@bp.post("/twilio/<notification_id>")
def twilio(notification_id: str):
    twilio_settings = current_app.config["HERALD_SETTINGS"].twilio
    if twilio_settings is None or not twilio_settings.public_base_url:
        raise ApiError(404, "not_found", "Twilio delivery receipts are not configured")
    # The signature covers the URL Twilio was given, not the one a proxy hands us.
    url = f"{twilio_settings.public_base_url.rstrip('/')}/v1/receipts/twilio/{notification_id}"
    signature = request.headers.get("X-Twilio-Signature")
    if not valid_callback(twilio_settings.auth_token, url, request.form, signature):
        raise ApiError(403, "forbidden", "the X-Twilio-Signature does not match this request",
                       {"X-Twilio-Signature": "does not match"})
    message_sid, error_code = checked_form(request.form)
    outcome = callback_outcome(request.form.get("MessageStatus"), error_code)
    status = record_delivery_receipt(notification_id, outcome, message_sid=message_sid, now=utcnow())
    return jsonify(id=notification_id, status=status)


# Twilio's message SIDs are two letters and 32 hex digits; its error codes are
# numbers of five digits. Whoever holds the auth token can sign anything, so the
# values are still checked before they reach a query or a column.
_MESSAGE_SID = re.compile(r"[A-Za-z0-9]{1,64}", re.ASCII)
_ERROR_CODE = re.compile(r"[0-9]{1,10}", re.ASCII)


def checked_form(form) -> tuple[str | None, str | None]:
    """(MessageSid, ErrorCode) of a signed callback, or a 422 naming the malformed one."""
    message_sid, error_code = form.get("MessageSid"), form.get("ErrorCode") or None
    problems = {}
    if message_sid is not None and not _MESSAGE_SID.fullmatch(message_sid):
        problems["MessageSid"] = "not a Twilio message SID"
    if error_code is not None and not _ERROR_CODE.fullmatch(error_code):
        problems["ErrorCode"] = "not a Twilio error code (up to 10 digits)"
    if problems:
        raise invalid(problems)
    return message_sid, error_code
