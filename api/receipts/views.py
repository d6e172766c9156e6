"""The /v1/receipts endpoints: delivery receipts from providers (Twilio's signed status callbacks)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from api.errors import ApiError
from api.openapi import FORM, Answer, Parameter, documented
from api.receipts.schema import TwilioStatusCallback, checked_form
from api.receipts.serialize import ReceiptAck, receipt_ack
from api.receipts.service import record_delivery_receipt
from common.channels.sms import twilio_receipt_url
from common.models import utcnow
from common.twilio_signature import callback_outcome, valid_callback

bp = Blueprint("receipts", __name__, url_prefix="/v1/receipts")


@bp.post("/twilio/<notification_id>")
@documented(
    summary="Twilio's delivery status callback", tag="receipts", body=TwilioStatusCallback,
    body_media_type=FORM, errors=(403, 422),
    description="Called by Twilio, signed with the account's auth token; not by API callers. "
                "404 also when receipts are not configured (no TWILIO_PUBLIC_URL).",
    parameters=(Parameter("notification_id", "path", str),
                Parameter("X-Twilio-Signature", "header", str,
                          "Twilio's signature of the URL and the form.")),
    answers={200: Answer("Applied (a late or repeated receipt changes nothing).", ReceiptAck)},
)
def twilio(notification_id: str):
    twilio_settings = current_app.config["HERALD_SETTINGS"].twilio
    if twilio_settings is None or not twilio_settings.public_base_url:
        raise ApiError(404, "not_found", "Twilio delivery receipts are not configured")
    # The signature covers the URL Twilio was given, not the one a proxy hands us.
    url = twilio_receipt_url(twilio_settings.public_base_url, notification_id)
    signature = request.headers.get("X-Twilio-Signature")
    if not valid_callback(twilio_settings.auth_token, url, request.form, signature):
        raise ApiError(403, "forbidden", "the X-Twilio-Signature does not match this request",
                       {"X-Twilio-Signature": "does not match"})
    message_sid, error_code = checked_form(request.form)
    outcome = callback_outcome(request.form.get("MessageStatus"), error_code)
    status = record_delivery_receipt(notification_id, outcome, message_sid=message_sid, now=utcnow())
    return jsonify(receipt_ack(notification_id, status))
