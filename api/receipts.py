"""Delivery receipts from providers: Twilio's signed status callbacks."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from api.errors import ApiError
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
    outcome = callback_outcome(request.form.get("MessageStatus"), request.form.get("ErrorCode"))
    status = record_delivery_receipt(notification_id, outcome,
                                     message_sid=request.form.get("MessageSid"), now=utcnow())
    return jsonify(id=notification_id, status=status)
