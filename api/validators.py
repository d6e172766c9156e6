"""Format checks for addresses, timezones and times: small named functions.

Each returns None when the value is fine, or the problem in a few words.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytz

from common.localtime import localize

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# Deliberately simple: one @, a dotted domain, no spaces. Full RFC 5322 accepts
# addresses no mail server delivers to; the SMTP server has the last word.
_EMAIL = re.compile(r"^[^@\s]{1,64}@(?=.{1,253}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_FCM_TOKEN = re.compile(r"^[\x21-\x7e]{1,4096}$")  # printable ASCII, no spaces


def email_problem(address: str) -> str | None:
    if len(address) > 254 or not _EMAIL.match(address):
        return "not a valid email address"
    return None


def phone_problem(number: str) -> str | None:
    if not _E164.match(number):
        return "not a valid E.164 phone number (like +447700900123)"
    return None


def push_token_problem(token: str) -> str | None:
    if not _FCM_TOKEN.match(token):
        return "not a valid FCM registration token (non-empty, printable, no spaces)"
    return None


ADDRESS_PROBLEMS = {"push": push_token_problem, "email": email_problem, "sms": phone_problem}


def timezone_problem(name: str) -> str | None:
    if name not in pytz.all_timezones_set:
        return "not an IANA timezone name (like Europe/London)"
    return None


def parse_iso8601(value: str, zone_name: str | None = None, *, allow_naive: bool = False) -> datetime:
    """An aware datetime from ISO 8601; a naive time is read in `zone_name`.

    With `allow_naive` and no zone, a naive time is returned as it is, for the
    caller to read in a timezone it learns later. Raises ValueError with the
    problem when the value cannot be read.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("not an ISO 8601 date-time (like 2026-11-21T09:30:00Z)") from None
    if parsed.tzinfo is None and zone_name is None:
        if allow_naive:
            return parsed
        raise ValueError("has no UTC offset: add one, or give `timezone`")
    try:
        # Near year 1 or 9999 the UTC instant falls outside what datetime can hold.
        return localize(parsed, zone_name) if parsed.tzinfo is None else _in_range(parsed)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


def _in_range(moment: datetime) -> datetime:
    moment.astimezone(timezone.utc)  # raises OverflowError when out of range
    return moment


def text_problem(value: str) -> str | None:
    """PostgreSQL stores neither NUL characters nor unpaired UTF-16 surrogates."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode (no unpaired surrogates)"
    return None
