"""Format checks for addresses, timezones and times: small named functions.

Each returns None when the value is fine, or the problem in a few words.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

import pytz

from common.localtime import TIME_TABLES_END, beyond_time_tables, localize


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


def schedulable_problem(instant: datetime) -> str | None:
    """Whether an aware time can be scheduled: refused from the end of the time-zone tables on."""
    if beyond_time_tables(instant):
        return (f"must be before {TIME_TABLES_END:%Y-%m-%dT%H:%M:%SZ}: "
                "Herald's time-zone rules end in 2037")
    return None


def text_problem(value: str) -> str | None:
    """PostgreSQL stores neither NUL characters nor unpaired UTF-16 surrogates."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode (no unpaired surrogates)"
    return None


# Characters that draw nothing although Unicode files them as letters or symbols.
_INVISIBLE_GRAPHICS = frozenset("\u115f\u1160\u2800\u3164\uffa0")  # Hangul fillers, Braille blank
# Separators, controls, format characters (zero-width spaces and joiners, BOM,
# word joiner, bidi marks, tags), surrogates, unassigned code points, and
# combining marks, which only decorate another character.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Cn", "Mn", "Me", "Mc"})


def is_blank(value: str) -> bool:
    """True when the text has no visible character: empty, whitespace, zero-width or combining only."""
    return all(char in _INVISIBLE_GRAPHICS or unicodedata.category(char) in _INVISIBLE_CATEGORIES
               for char in value)
