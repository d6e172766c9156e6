"""The SMS channel: E.164 numbers, a text body billed in segments, sent by Twilio."""

from __future__ import annotations

import re

from common.channels.registry import Channel

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")  # ASCII digits: `\d` matches any script's
MAX_PHONE = 16  # "+" and E.164's 15 digits; the recipients.phone column


def phone_problem(number: str) -> str | None:
    if len(number) > MAX_PHONE or not _E164.fullmatch(number):
        return "not a valid E.164 phone number (like +447700900123)"
    return None


def mask_phone(number: str) -> str:
    """"+447700900123" -> "+4477******23"."""
    number = (number or "").strip()
    if len(number) <= 7:
        return "*" * max(len(number) - 2, 0) + number[-2:]
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


def twilio_receipt_url(public_base_url: str, notification_id) -> str:
    """Where Twilio posts a message's status: given with the message, and what its signature covers."""
    return f"{public_base_url.rstrip('/')}/v1/receipts/twilio/{notification_id}"


CHANNEL = Channel(
    name="sms",
    address_problem=phone_problem,
    limits={"body": 1_600},  # Twilio refuses longer bodies
    required=frozenset({"body"}),
    stored_addresses=lambda recipient: [recipient.phone],
    mask=mask_phone,
    reports_segments=True,
    vendor="twilio",
    vendor_settings="twilio",
    vendor_factory="workers.providers.twilio_sms:from_settings",
)
