"""Property tests for quiet hours over every pytz zone, random instants from 1990 to 2037 and random windows.

Deterministic on purpose: `derandomize=True` draws the same examples on every
run and every machine (a seed derived from each test), and `database=None`
keeps a local .hypothesis directory from replaying old failures on one
machine only, so CI either always passes or always fails. The price is that
a run never explores new examples; the counts below are set high to make up
for it, and changing them (or the strategies) explores a new set.

The checks use pytz directly rather than the module's helpers, so the module
is not used to judge itself.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache

import pytz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.quiet_hours import QuietHours, plan_delivery, shift_out_of_quiet_hours, spread

ZONES = pytz.all_timezones
FIRST = datetime(1990, 1, 1, tzinfo=timezone.utc)
LAST = datetime(2037, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60

deterministic = settings(
    derandomize=True,
    database=None,
    deadline=None,  # timing varies on shared CI machines; these tests are about answers
    suppress_health_check=[HealthCheck.too_slow],
)


# --- An independent reading of the clock, straight from pytz -----------------------------------


def inside(instant: datetime, zone_name: str, window: QuietHours) -> bool:
    """Whether the zone's clock shows a time in [start, end) at `instant`."""
    wall = instant.astimezone(pytz.timezone(zone_name)).time()
    start, end = window.start, window.end
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return not (end <= wall < start)


@lru_cache(maxsize=None)
def clock_changes(zone_name: str, after: datetime, before: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    """(instant, offset before, offset after) for each change of UTC offset in (after, before)."""
    zone = pytz.timezone(zone_name)
    times = getattr(zone, "_utc_transition_times", None)
    if not times:
        return []
    info = zone._transition_info
    changes = []
    first = bisect_right(times, after.replace(tzinfo=None))
    for index in range(max(first, 1), len(times)):
        instant = times[index].replace(tzinfo=timezone.utc)
        if instant >= before:
            break
        if info[index][0] != info[index - 1][0]:
            changes.append((instant, info[index - 1][0], info[index][0]))
    return changes


def offset_at(instant: datetime, zone_name: str) -> timedelta:
    return instant.astimezone(pytz.timezone(zone_name)).utcoffset()


def assert_first_instant_outside(due: datetime, result: datetime, zone_name: str, window: QuietHours) -> None:
    """`result` is outside the window, not before `due`, and nothing outside lies between them."""
    assert result.utcoffset() == timedelta(0), "the result is in UTC"
    assert not inside(result, zone_name, window), "result is inside the window"
    assert result >= due, "result is earlier than due"
    if result == due:
        return
    assert inside(due, zone_name, window), "due was outside the window but moved"

    # An outside stretch starts either where the wall clock reaches `end` at a
    # constant offset, or at a clock change (a jump out of the window). Probing
    # every such start in (due, result), plus the instants just before result,
    # finds an earlier way out if there is one. Stepping back from result is
    # done in UTC: "end minus a minute" on the wall clock may not exist in a gap.
    changes = clock_changes(zone_name, due, result)
    probes = [result - timedelta(microseconds=1), result - timedelta(seconds=1), result - MINUTE]
    offsets = {offset_at(due, zone_name)}
    for instant, before, after in changes:
        probes += [instant, instant - timedelta(microseconds=1)]
        offsets |= {before, after}
    walls = [due + offset for offset in offsets] + [result + offset for offset in offsets]
    day = min(walls).date() - timedelta(days=1)
    while day <= max(walls).date() + timedelta(days=1):
        end_wall = datetime.combine(day, window.end, tzinfo=timezone.utc)
        probes += [end_wall - offset for offset in offsets]
        day += timedelta(days=1)
    # And a plain walk, every quarter of an hour, in case the reasoning above is wrong.
    step = due + timedelta(minutes=15)
    while step < result:
        probes.append(step)
        step += timedelta(minutes=15)
    for probe in probes:
        if due < probe < result:
            assert inside(probe, zone_name, window), f"{probe} is outside the window and before the result"


# --- Strategies ---------------------------------------------------------------------------------


def instants(low: datetime = FIRST, high: datetime = LAST) -> st.SearchStrategy[datetime]:
    seconds = int((high - low).total_seconds())
    return st.integers(0, seconds).map(lambda s: low + timedelta(seconds=s))


def wall_minute(minute: int) -> time:
    minute %= DAY_MINUTES
    return time(minute // 60, minute % 60)


# Lengths in minutes: anything, and the extremes, which are where off-by-ones live.
window_lengths = st.one_of(
    st.integers(1, DAY_MINUTES - 1),
    st.integers(1, 5),
    st.integers(DAY_MINUTES - 5, DAY_MINUTES - 1),
    st.just(0),  # start == end: no quiet hours
)


def windows(edge=st.integers(0, DAY_MINUTES - 1)) -> st.SearchStrategy[QuietHours]:
    """Windows with one edge (start or end, either) drawn from `edge`, in minutes of the day."""

    def build(edge_minute: int, length: int, edge_is_end: bool) -> QuietHours:
        start = edge_minute - length if edge_is_end else edge_minute
        return QuietHours(wall_minute(start), wall_minute(start + length))

    return st.builds(build, edge, window_lengths, st.booleans())


@st.composite
def cases(draw) -> tuple[datetime, str, QuietHours]:
    """A due instant, a zone and a window; mostly crowded around one of the zone's clock changes."""
    zone_name = draw(st.sampled_from(ZONES))
    changes = clock_changes(zone_name, FIRST, LAST)
    if not changes or draw(st.integers(0, 3)) == 0:
        return draw(instants()), zone_name, draw(windows())
    instant, before, after = draw(st.sampled_from(changes))
    # The wall times the change skips or repeats: [low, low + width).
    low = instant + min(before, after)
    width = abs(after - before)
    # Due within a day and a half of the change, often within the skipped or repeated time.
    reach = draw(st.sampled_from([timedelta(hours=36), width + timedelta(minutes=30)]))
    due = draw(instants(instant - reach, instant + reach))
    # One edge of the window in, or just around, the skipped or repeated wall times...
    low_minute = low.hour * 60 + low.minute
    width_minutes = min(width, timedelta(days=1)) // MINUTE
    edge = st.integers(-30, width_minutes + 30).map(lambda k: (low_minute + k) % DAY_MINUTES)
    if draw(st.booleans()):
        return due, zone_name, draw(windows(edge))
    # ...and, half the time, the other one near the due time, so that it is often inside.
    due_wall = due.astimezone(pytz.timezone(zone_name))
    due_minute = due_wall.hour * 60 + due_wall.minute
    near_due = draw(st.integers(-40, 40)) + due_minute
    edge_minute = draw(edge)
    starts_near_due = QuietHours(wall_minute(near_due), wall_minute(edge_minute))
    ends_near_due = QuietHours(wall_minute(edge_minute), wall_minute(near_due))
    return due, zone_name, draw(st.sampled_from([starts_near_due, ends_near_due]))


# --- Properties ---------------------------------------------------------------------------------


@settings(deterministic, max_examples=4000)
@given(cases())
def test_shift_gives_the_first_instant_outside_the_window(case):
    due, zone_name, window = case
    result = shift_out_of_quiet_hours(due, zone_name, window)
    assert_first_instant_outside(due, result, zone_name, window)


@settings(deterministic, max_examples=1000)
@given(cases())
def test_shifting_twice_changes_nothing(case):
    due, zone_name, window = case
    once = shift_out_of_quiet_hours(due, zone_name, window)
    assert shift_out_of_quiet_hours(once, zone_name, window) == once


@settings(deterministic, max_examples=600)
@given(cases())
def test_shift_matches_a_minute_by_minute_walk(case):
    # Since 1990 every clock change and offset is a whole minute, so from a
    # whole-minute due time the first instant outside is a whole minute too.
    due, zone_name, window = case
    due = due.replace(second=0)
    walk = due
    while inside(walk, zone_name, window):
        walk += MINUTE
        assert walk - due < timedelta(days=3), "the walk found no way out"
    assert shift_out_of_quiet_hours(due, zone_name, window) == walk


keys = st.one_of(st.text(max_size=40), st.uuids())
intervals = st.integers(0, 2 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))


@settings(deterministic, max_examples=1000)
@given(instants(), keys, intervals)
def test_spread_stays_within_the_interval_and_is_deterministic(window_end, key, interval):
    released = spread(window_end, key, interval)
    if interval:
        assert window_end <= released < window_end + interval
    else:
        assert released == window_end
    assert spread(window_end, key, interval) == released
    assert spread(window_end, str(key), interval) == released  # a UUID and its text are one key


@settings(deterministic, max_examples=1000)
@given(cases(), st.booleans(), keys, intervals)
def test_plan_delivery_never_delivers_early_or_inside_the_window(case, critical, key, interval):
    due, zone_name, window = case
    plan = plan_delivery(due, zone_name, window, critical=critical, key=key, spread_interval=interval)
    if critical or not inside(due, zone_name, window):
        assert (plan.deliver_at, plan.reason, plan.window_end) == (due, None, None)
        return
    assert plan.reason == "quiet_hours"
    assert plan.window_end == shift_out_of_quiet_hours(due, zone_name, window)
    if interval:
        assert plan.window_end <= plan.deliver_at < plan.window_end + interval
    else:
        assert plan.deliver_at == plan.window_end
    assert not inside(plan.deliver_at, zone_name, window)
