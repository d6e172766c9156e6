"""Delivery receipts from providers: Twilio's signed status callbacks."""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict

from api.errors import ApiError, invalid
from api.openapi import FORM, Answer, Parameter, documented
from api.responses import ResponseModel
from api.services import record_delivery_receipt
from common.models import utcnow
from common.statuses import Status
from common.channels.sms import twilio_receipt_url
from common.twilio_signature import callback_outcome, valid_callback

bp = Blueprint("receipts", __name__, url_prefix="/v1/receipts")


class TwilioStatusCallback(BaseModel):
    """The form Twilio posts to a message's StatusCallback: the fields Herald reads.

    Twilio's own form, described for the contract; the view checks the
    signature over all of it. Twilio sends more (AccountSid, From, To, ...):
    they are signed, and ignored.
    """

    model_config = ConfigDict(extra="allow")

    MessageSid: str | None = None
    MessageStatus: str | None = None
    ErrorCode: str | None = None


class ReceiptAck(ResponseModel):
    """The notification the receipt was for, and its status once the receipt is applied.

    (The view's answer is checked against it by tests/api/test_openapi.py.)
    """

    id: uuid.UUID
    status: Status


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
