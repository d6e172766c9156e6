"""10,000 notifications due inside the same quiet hours leave at the window's end spread out, not at once."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from datetime import datetime, timedelta

from common.quiet_hours import DEFAULT_QUIET_HOURS
from common.scheduling import QuietRule, schedule_delivery
from tests.support.clock import days_ahead, wall_clock

COUNT = 10_000
SPREAD = timedelta(minutes=10)
RULE = QuietRule("America/New_York", DEFAULT_QUIET_HOURS, "service")
FIRST_DUE = days_ahead(hour=22, zone="America/New_York")  # the window's start
WINDOW_END = wall_clock("America/New_York", FIRST_DUE.date() + timedelta(days=1), 8)


def release_times() -> list[datetime]:
    # Due across the night, 22:00-07:59 local; each keyed by its own notification id, as in the
    # API (fixed ids here, so the histogram is the same on every run).
    return [
        schedule_delivery(FIRST_DUE + timedelta(seconds=i * 3.5), reason="immediate", rule=RULE,
                          critical=False, key=uuid.UUID(int=i), spread_interval=SPREAD).deliver_at
        for i in range(COUNT)
    ]


def test_releases_are_spread_over_the_whole_interval_second_by_second():
    per_second = Counter(int((t - WINDOW_END).total_seconds()) for t in release_times())

    seconds = int(SPREAD.total_seconds())
    assert set(per_second) <= set(range(seconds)), "a release fell outside [end, end + spread)"
    counts = [per_second.get(s, 0) for s in range(seconds)]
    mean = COUNT / seconds
    print(f"\n[c] {COUNT} releases over {seconds} s after 08:00 local: per second min={min(counts)} "
          f"max={max(counts)} mean={mean:.1f} stdev={statistics.pstdev(counts):.1f}")
    for minute in range(seconds // 60):
        row = counts[minute * 60:(minute + 1) * 60]
        print(f"  08:{minute:02d} {sum(row):5d} | " + " ".join(f"{c:2d}" for c in row))
    # Uniform enough that no second carries a herd: every second used, none over twice the mean.
    assert min(counts) > 0
    assert max(counts) < 2 * mean
