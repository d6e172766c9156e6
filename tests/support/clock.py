"""Future times relative to the clock, so no test carries a date that will slip into the past.

A `send_at` in the past means "now" to Herald, so a test that needs a time in
the future, or a particular local hour, or a clock change, asks for it here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytz

# Far enough ahead that nothing in a test run reaches it, near enough to stay
# well inside pytz's tables (they end in 2037).
DEFAULT_DAYS = 30


def days_ahead(days: int = DEFAULT_DAYS, hour: int | None = None, minute: int = 0,
               zone: str = "UTC") -> datetime:
    """An aware time `days` days from today in `zone`, at the local `hour:minute` if given.

    With an hour, the day is moved on, if need be, to the first one whose local
    day and the next have no clock change, so an evening and the next morning
    (a quiet-hours night) sit at one UTC offset, as they do most of the year.
    """
    tz = pytz.timezone(zone)
    if hour is None:
        return datetime.now(timezone.utc).astimezone(tz) + timedelta(days=days)
    day = datetime.now(timezone.utc).astimezone(tz).date() + timedelta(days=days)
    while _offset_changes(tz, day, day + timedelta(days=2)):
        day += timedelta(days=1)
    return wall_clock(zone, day, hour, minute)


def wall_clock(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    """The instant the clocks in `zone` show `day` at `hour:minute` (the first, if it happens twice)."""
    return pytz.timezone(zone).localize(datetime.combine(day, time(hour, minute)), is_dst=True)


def naive(moment: datetime) -> str:
    """The local wall-clock reading of `moment` without an offset, as a caller would send it."""
    return moment.replace(tzinfo=None).isoformat()


def utc_z(moment: datetime) -> str:
    """`moment` in UTC, written with a Z, to the second (the API's format)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_date(month: int, day: int) -> date:
    """The next `month`/`day` after today (a season's date, for a known UTC offset)."""
    today = datetime.now(timezone.utc).date()
    candidate = date(today.year, month, day)
    return candidate if candidate > today else date(today.year + 1, month, day)


def next_clock_change(zone: str, forward: bool) -> date:
    """The local date of the next clock change in `zone` after tomorrow: spring forward or fall back."""
    tz = pytz.timezone(zone)
    # A day's margin, so every time on that local date is still ahead during the run.
    soonest = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=1)
    for index, instant in enumerate(tz._utc_transition_times):
        if instant <= soonest or index == 0:
            continue
        before, after = tz._transition_info[index - 1][0], tz._transition_info[index][0]
        if (after > before) == forward:
            return (instant + before).date()
    raise LookupError(f"no clock change ahead in {zone}")


def _offset_changes(tz, first: date, last: date) -> bool:
    start = tz.localize(datetime.combine(first, time(0))).utcoffset()
    end = tz.localize(datetime.combine(last, time(0))).utcoffset()
    return start != end
