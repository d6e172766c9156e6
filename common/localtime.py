"""Reading a wall-clock time in a timezone, with the DST rules Herald uses everywhere.

An ambiguous time (the repeated hour of a fall-back) takes its first
occurrence; a time that does not exist (inside a spring-forward gap) moves to
the first instant that does: the moment the clocks jump.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timezone

import pytz


def localize(wall_time: datetime, zone_name: str) -> datetime:
    """The UTC instant a naive local time stands for in `zone_name`."""
    zone = pytz.timezone(zone_name)
    try:
        local = zone.localize(wall_time, is_dst=None)
    except pytz.AmbiguousTimeError:
        local = zone.localize(wall_time, is_dst=True)
    except pytz.NonExistentTimeError:
        return _gap_end(zone, wall_time)
    return local.astimezone(timezone.utc)


def _gap_end(zone, wall_time: datetime) -> datetime:
    # Read with the offset in force before the gap, the wall time lands after
    # the jump; the last transition at or before that instant is the jump itself.
    before_gap = zone.localize(wall_time, is_dst=False).astimezone(timezone.utc)
    transitions = zone._utc_transition_times  # pytz's table, naive UTC
    index = bisect_right(transitions, before_gap.replace(tzinfo=None)) - 1
    return transitions[index].replace(tzinfo=timezone.utc)
