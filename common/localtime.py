"""Reading a wall-clock time in a timezone, with the DST rules Herald uses everywhere.

An ambiguous time (the repeated hour of a fall-back) takes its first
occurrence; a time that does not exist (inside a spring-forward gap) moves to
the first instant that does: the moment the clocks jump.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timezone

import pytz

# pytz's tables stop at the end of 2037 (its last rule change is in November
# 2037): after that every zone keeps its last known offset, so New York in
# July 2038 would come out an hour late. Herald refuses to schedule from here on.
TIME_TABLES_END = datetime(2038, 1, 1, tzinfo=timezone.utc)


def utc_iso(instant: datetime) -> str:
    """The aware `instant` as ISO 8601 in UTC with `Z`: the one way Herald writes a time."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {instant!r}")
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def beyond_time_tables(instant: datetime) -> bool:
    """Whether the aware `instant` is past what the time-zone tables describe."""
    return instant >= TIME_TABLES_END


def localize(wall_time: datetime, zone_name: str) -> datetime:
    """The UTC instant a naive local time stands for in `zone_name`."""
    zone = pytz.timezone(zone_name)
    try:
        local = zone.localize(wall_time, is_dst=None)
    except pytz.AmbiguousTimeError:
        # Not `is_dst=True`: pytz picks by the DST flag, and negative DST
        # (Europe/Dublin's winter, Morocco's Ramadan) makes that the second one.
        local = min(zone.localize(wall_time, is_dst=True), zone.localize(wall_time, is_dst=False))
    except pytz.NonExistentTimeError:
        return _gap_end(zone, wall_time)
    return local.astimezone(timezone.utc)


def wall_clock(instant: datetime, zone_name: str) -> datetime:
    """The naive local time a clock in `zone_name` shows at the aware `instant`."""
    return instant.astimezone(pytz.timezone(zone_name)).replace(tzinfo=None)


def next_clock_change(instant: datetime, zone_name: str) -> datetime | None:
    """The first instant after the aware `instant` at which the zone's UTC offset changes.

    None when pytz knows of no later change (fixed zones, or past its table).
    Entries that only rename the zone or move its DST flag are not changes.
    """
    zone = pytz.timezone(zone_name)
    transitions = getattr(zone, "_utc_transition_times", None)  # pytz's table, naive UTC
    if not transitions:
        return None
    index = bisect_right(transitions, instant.astimezone(timezone.utc).replace(tzinfo=None))
    offset_now = zone._transition_info[max(index - 1, 0)][0]
    for later in range(index, len(transitions)):
        if zone._transition_info[later][0] != offset_now:
            return transitions[later].replace(tzinfo=timezone.utc)
    return None


def _gap_end(zone, wall_time: datetime) -> datetime:
    # Read with the offset in force before the gap, the wall time lands after
    # the jump; the last transition at or before that instant is the jump itself.
    before_gap = zone.localize(wall_time, is_dst=False).astimezone(timezone.utc)
    transitions = zone._utc_transition_times  # pytz's table, naive UTC
    index = bisect_right(transitions, before_gap.replace(tzinfo=None)) - 1
    return transitions[index].replace(tzinfo=timezone.utc)
