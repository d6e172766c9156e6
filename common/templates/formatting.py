"""The locale-aware filters a template may use: times in the recipient's zone, dates, numbers, durations.

Each filter reads the locale and timezone the message is rendered for from the
render context (`Where`), so `{{ appointment_at | local_datetime }}` shows the
time as the recipient reads a clock, in their language. A time given as an ISO
8601 string with an offset is converted to the recipient's zone; one without an
offset is taken as already local.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps

import pytz
from babel import Locale, dates, numbers, units
from jinja2 import Undefined, pass_context

from common.localtime import localize

MAX_DIGITS = 100  # "1e999999999" would print a billion zeros
WHERE = "__where__"  # the render context's entry for the locale and zone (not a variable of the caller)


@dataclass(frozen=True)
class Where:
    locale: Locale
    timezone: str  # an IANA zone; UTC when the recipient has none


def filter_of_value(render):
    """A filter of the template's context and a value; an undefined value passes through, so
    that printed it names the missing variable (a preview lists it, a send refuses it)."""
    @pass_context
    @wraps(render)
    def filter_(context, value, *args, **kwargs):
        if isinstance(value, Undefined):
            return value
        return render(context, value, *args, **kwargs)
    return filter_


def where_of(context) -> Where:
    return context[WHERE]


def _instant(value, zone: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"a time is needed, not {type(value).__name__}")
    return value if value.tzinfo is not None else localize(value, zone)


def _number(value):
    if isinstance(value, bool):
        raise ValueError("a number is needed, not a boolean")
    if isinstance(value, (int, float)):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite() or abs(number.adjusted()) > MAX_DIGITS:
        raise ValueError(f"numbers are shown up to {MAX_DIGITS} digits")
    return number


@filter_of_value
def local_datetime(context, value, format: str = "medium") -> str:
    where = where_of(context)
    return dates.format_datetime(_instant(value, where.timezone), format=format,
                                 tzinfo=pytz.timezone(where.timezone), locale=where.locale)


@filter_of_value
def local_date(context, value, format: str = "long") -> str:
    where = where_of(context)
    moment = _instant(value, where.timezone).astimezone(pytz.timezone(where.timezone))
    return dates.format_date(moment.date(), format=format, locale=where.locale)


@filter_of_value
def local_time(context, value, format: str = "short") -> str:
    where = where_of(context)
    return dates.format_time(_instant(value, where.timezone), format=format,
                             tzinfo=pytz.timezone(where.timezone), locale=where.locale)


@filter_of_value
def number(context, value, format: str | None = None) -> str:
    return numbers.format_decimal(_number(value), format=format, locale=where_of(context).locale)


@filter_of_value
def currency(context, value, code: str) -> str:
    return numbers.format_currency(_number(value), str(code), locale=where_of(context).locale)


@filter_of_value
def duration(context, value) -> str:
    """"24 hours", "2 heures", "90 minutes": whole hours as hours, else minutes, else seconds."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else _number(value)
    seconds = int(seconds)
    unit, amount = "second", seconds
    if seconds and seconds % 3600 == 0:
        unit, amount = "hour", seconds // 3600
    elif seconds and seconds % 60 == 0:
        unit, amount = "minute", seconds // 60
    return units.format_unit(amount, f"duration-{unit}", length="long", locale=where_of(context).locale)


FILTERS = {"local_datetime": local_datetime, "local_date": local_date, "local_time": local_time,
           "number": number, "currency": currency, "duration": duration}
