"""What Twilio posts to a message's StatusCallback, and the checks on the values Herald stores."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from common.errors import Invalid


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
        raise Invalid(problems)
    return message_sid, error_code
