"""Twilio's status callbacks: whether one is genuinely from Twilio, and what it means for the notification.

Lives in `common` so that the API's receipt endpoint needs nothing from the workers.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from common.statuses import Status

# Twilio MessageStatus -> Herald status. Every other status (queued, sending,
# sent, accepted, scheduled, ...) is progress Herald already recorded as `sent`.
_OUTCOMES: dict[str, Status] = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}


def valid_callback(auth_token: str, url: str, form_params: Mapping | None, signature: str | None) -> bool:
    """True when `signature` (the X-Twilio-Signature header) signs this URL and form.

    `url` must be the exact URL Twilio was given (the StatusCallback, built from
    HERALD_PUBLIC_URL), not the one a proxy handed to the app. `form_params` may
    be a plain dict or Flask's `request.form`.
    """
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, form_params or {}, signature)


def callback_outcome(message_status: str | None, error_code: str | None = None) -> tuple[Status, str | None] | None:
    """The status a callback moves the notification to, with a reason for failures; None for no change."""
    name = (message_status or "").strip().lower()
    status = _OUTCOMES.get(name)
    if status is None:
        return None
    if status is Status.FAILED:
        return status, f"twilio_{error_code}" if error_code else f"twilio_{name}"
    return status, None
