"""Quiet hours: when a notification may reach a recipient, in the recipient's own wall-clock time.

Pure functions: instants, a zone name and a window in; an instant and a
reason out. No clock and no database here.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from common.localtime import next_clock_change, wall_clock

REASON_QUIET_HOURS = "quiet_hours"

# Each pass of the search below crosses one clock change; no zone has more
# than a couple within a day, so running out means a bug, not a time zone.
_MAX_CLOCK_CHANGES = 16

_WALL_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)", re.ASCII)


@dataclass(frozen=True)
class QuietHours:
    """The window [start, end) in local wall time; start > end crosses midnight, start == end is none."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall times: start and end must be naive")

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        """A window from two "HH:MM" strings (24-hour clock), e.g. "22:00" and "08:00"."""
        return cls(parse_wall_time(start, "start"), parse_wall_time(end, "end"))

    def contains(self, wall: time) -> bool:
        """Whether a local wall-clock time falls inside the window."""
        if self.start <= self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


DEFAULT_QUIET_HOURS = QuietHours(time(22, 0), time(8, 0))


@dataclass(frozen=True)
class DeliveryPlan:
    """When to deliver, and why the time moved (`reason` is None when it did not)."""

    deliver_at: datetime
    reason: str | None
    window_end: datetime | None


def parse_wall_time(text: str, field: str = "time") -> time:
    """A wall-clock time from "HH:MM" (00:00 to 23:59), or ValueError saying what is wrong."""
    match = _WALL_TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"quiet hours {field} must be a time as HH:MM from 00:00 to 23:59, got {text!r}")
    return time(int(match[1]), int(match[2]))


def in_quiet_hours(instant_utc: datetime, zone_name: str, window: QuietHours) -> bool:
    """Whether a clock in `zone_name` shows a time inside the window at `instant_utc`."""
    return window.contains(wall_clock(_as_utc(instant_utc), zone_name).time())


def shift_out_of_quiet_hours(due_utc: datetime, zone_name: str, window: QuietHours) -> datetime:
    """The first instant at or after `due_utc` that is outside the window in local time (UTC).

    Usually the window's end on the local clock. An end inside a spring-forward
    gap gives the moment the clocks jump; an end in a repeated hour gives its
    first occurrence, or the second when the first is already before `due_utc`.
    These agree with `common.localtime.localize`. Rarely, a fall-back takes the
    clock back to before the window's start: that moment is outside, so it is
    the answer, even though the window comes round again soon after.
    """
    moment = _as_utc(due_utc)
    for _ in range(_MAX_CLOCK_CHANGES):
        wall = wall_clock(moment, zone_name)
        if not window.contains(wall.time()):
            return moment
        # Inside a window crossing midnight, at or after `start`, the end is tomorrow's.
        end_day = wall.date() + timedelta(days=1 if wall.time() >= window.end else 0)
        reaches_end = moment + (datetime.combine(end_day, window.end) - wall)
        # That holds while the offset does. If the clocks change first (or at
        # that very instant, when the new offset already applies), the wall time
        # jumps, out of the window or within it (a fold, a skipped day): look again.
        change = next_clock_change(moment, zone_name)
        if change is None or reaches_end < change:
            return reaches_end
        moment = change
    raise RuntimeError(f"no way out of quiet hours {window} in {zone_name} after {due_utc}")


def spread(window_end_utc: datetime, key: str | uuid.UUID, interval: timedelta) -> datetime:
    """A point in [window_end_utc, window_end_utc + interval) fixed by `key`, so releases fan out.

    sha256, not hash(): Python salts hash() per process, and a notification
    must get the same slot from every worker and after every restart.
    """
    if interval < timedelta(0):
        raise ValueError(f"spread interval must not be negative, got {interval}")
    digest = hashlib.sha256(str(key).encode()).digest()
    fraction = int.from_bytes(digest[:8], "big")  # of 2**64
    # Integer microseconds, rounded down, so the slot can never reach the interval's end.
    micros = (interval // timedelta(microseconds=1)) * fraction >> 64
    return window_end_utc + timedelta(microseconds=micros)


def plan_delivery(
    due_utc: datetime,
    zone_name: str,
    window: QuietHours,
    *,
    critical: bool,
    key: str | uuid.UUID,
    spread_interval: timedelta,
) -> DeliveryPlan:
    """When a notification due at `due_utc` goes out: now-as-planned, or after quiet hours, spread."""
    due = _as_utc(due_utc)
    if critical or not in_quiet_hours(due, zone_name, window):
        return DeliveryPlan(deliver_at=due, reason=None, window_end=None)
    window_end = shift_out_of_quiet_hours(due, zone_name, window)
    # Spread only over allowed time: after a fold or before a long window the
    # quiet hours may come back sooner than `spread_interval`.
    quiet_again = shift_out_of_quiet_hours(window_end, zone_name, QuietHours(window.end, window.start))
    interval = min(spread_interval, quiet_again - window_end)
    return DeliveryPlan(spread(window_end, key, interval), REASON_QUIET_HOURS, window_end)


def _as_utc(instant: datetime) -> datetime:
    # A naive datetime would silently be read as the server's local time.
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {instant!r}")
    return instant.astimezone(timezone.utc)
