"""Quiet hours at every clock change: all of them from 2000 to 2037 in zones picked for their oddities, with
windows ending (or starting) before, inside and after each gap or repeated hour; and, more lightly, every clock
change from 1990 to 2037 in every pytz zone.

Exact answers are checked where they are easy to state: an end inside a gap gives the moment the clocks jump,
an end in a repeated hour its first occurrence, or the second when the first is already before the due time.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import pytz

from common.localtime import localize
from common.quiet_hours import QuietHours, shift_out_of_quiet_hours
from tests.common.test_quiet_hours_properties import assert_first_instant_outside, clock_changes, inside

FROM_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)
FROM_1990 = datetime(1990, 1, 1, tzinfo=timezone.utc)
TO_2038 = datetime(2038, 1, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)

SAMPLE_ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # half-hour DST
    "America/Santiago",  # changes at 24:00
    "Asia/Tehran",  # changes at midnight, DST ended 2022
    "Africa/Casablanca",  # DST suspended for Ramadan, later negative DST for Ramadan
    "America/Havana",  # changes at midnight (00:00 -> 01:00, 01:00 -> 00:00)
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "America/St_Johns",  # -03:30
    "Europe/Dublin",  # negative DST in pytz's table (winter is the "DST")
    "Asia/Gaza",  # changes on Saturdays, at odd hours
    "America/Sao_Paulo",  # changed at midnight until 2019: 00:00 did not exist
    "America/Asuncion",
    "Asia/Beirut",  # changes at midnight
    "Asia/Jerusalem",
    "Asia/Amman",
    "Asia/Damascus",
    "Europe/Moscow",  # permanent summer time 2011, back in 2014
    "America/Caracas",  # half-hour backwards in 2007, forwards in 2016
    "Asia/Pyongyang",  # half-hour changes in 2015 and 2018
    "Pacific/Fakaofo",  # skipped 2011-12-30 as well
    "Antarctica/Troll",  # two-hour DST
    "Antarctica/Casey",  # three-hour jumps, back and forth
    "America/Godthab",
    "America/Mexico_City",  # DST abolished 2022
    "Africa/Cairo",
    "Asia/Dhaka",  # one summer, 2009
]


def walls(instant: datetime, before: timedelta, after: timedelta) -> tuple[datetime, datetime]:
    """The naive wall times a change skips (a gap) or repeats (a fold): [low, high)."""
    low = (instant + min(before, after)).replace(tzinfo=None)
    return low, low + abs(after - before)


def quiet_hours_ending(end_wall: datetime, length: timedelta) -> QuietHours:
    return QuietHours((end_wall - length).time(), end_wall.time())


def alone(zone_name: str, instant: datetime) -> bool:
    """No other clock change within two days: exact answers are simple to state."""
    return len(clock_changes(zone_name, instant - timedelta(days=2), instant + timedelta(days=2))) == 1


def shift_and_check(due: datetime, zone_name: str, window: QuietHours) -> datetime:
    result = shift_out_of_quiet_hours(due, zone_name, window)
    assert_first_instant_outside(due, result, zone_name, window)
    assert shift_out_of_quiet_hours(result, zone_name, window) == result
    return result


def walk_change(zone_name: str, instant: datetime, before: timedelta, after: timedelta, tally: Counter) -> None:
    """Windows ending around the change, due times around it: the properties, then exact answers."""
    low, high = walls(instant, before, after)
    width = high - low
    middle = low + (width // 2 // MINUTE) * MINUTE
    ends = [low - MINUTE, low, middle, high - MINUTE, high, high + MINUTE]
    dues = [
        instant - timedelta(hours=25),
        instant - timedelta(hours=3),
        instant - width - MINUTE,
        instant - MINUTE,
        instant,
        instant + MINUTE,
        instant + width // 2,
        instant + width + timedelta(hours=1),
    ]
    for end_wall in ends:
        for length in (timedelta(minutes=30), timedelta(hours=8), timedelta(hours=23)):
            window = quiet_hours_ending(end_wall, length)
            for due in dues:
                shift_and_check(due, zone_name, window)
                tally["shifts"] += 1

    if not alone(zone_name, instant):
        tally["exact answers skipped: another change within two days"] += 1
        return
    window = quiet_hours_ending(middle, timedelta(hours=8))
    if after > before:
        # The end does not exist: released when the clocks jump over it.
        assert localize(middle, zone_name) == instant
        due = instant - MINUTE
        # Unless the skipped time is a whole day (then the minute before is not
        # in this window) or the jump lands in the window again.
        if inside(due, zone_name, window) and not inside(instant, zone_name, window):
            assert shift_and_check(due, zone_name, window) == instant
            tally["exact: end in a gap"] += 1
        else:
            tally["exact answers skipped: gap of a day"] += 1
        return
    first, second = middle - before, middle - after  # naive UTC of the two occurrences
    first, second = first.replace(tzinfo=timezone.utc), second.replace(tzinfo=timezone.utc)
    assert first < instant <= second
    assert localize(middle, zone_name) == first
    assert shift_and_check(first - MINUTE, zone_name, window) == first
    tally["exact: end in a repeated hour, first occurrence"] += 1
    if middle > low:
        # Due in the repeat, before the end: the first occurrence is past, the second is the answer.
        assert shift_and_check(second - MINUTE, zone_name, window) == second
        tally["exact: end in a repeated hour, second occurrence"] += 1
        # A window starting in the repeated hour is left when the clocks go back to before its start.
        starting = QuietHours(middle.time(), (high + timedelta(minutes=30)).time())
        assert shift_and_check(instant - MINUTE, zone_name, starting) == instant
        tally["exact: window starting in a repeated hour, left at the change"] += 1


@pytest.mark.parametrize("zone_name", SAMPLE_ZONES)
def test_every_clock_change_from_2000_to_2037(zone_name):
    tally = Counter()
    for instant, before, after in clock_changes(zone_name, FROM_2000, TO_2038):
        walk_change(zone_name, instant, before, after, tally)
        tally["clock changes walked"] += 1
    print(f"{zone_name}: {dict(tally)}")
    assert tally["clock changes walked"] >= 1


def test_the_sample_walks_many_clock_changes():
    walked = {zone: len(clock_changes(zone, FROM_2000, TO_2038)) for zone in SAMPLE_ZONES}
    total = sum(walked.values())
    print(f"clock changes walked, 2000-2037, {len(SAMPLE_ZONES)} zones: {total}")
    assert len(set(SAMPLE_ZONES)) == len(SAMPLE_ZONES) >= 20
    # Two a year for 38 years where the rules did not change.
    assert walked["America/New_York"] == walked["Europe/London"] == walked["Europe/Berlin"] == 76
    assert walked["Pacific/Apia"] >= 1 and walked["Antarctica/Troll"] >= 1
    assert total >= 1500, walked


def test_every_clock_change_in_every_zone_from_1990_to_2037():
    # Lighter than the sample: an end in the middle of each gap or repeated
    # hour, a window starting there, and due times just before and inside.
    tally = Counter()
    for zone_name in pytz.all_timezones:
        for instant, before, after in clock_changes(zone_name, FROM_1990, TO_2038):
            low, high = walls(instant, before, after)
            middle = low + ((high - low) // 2 // MINUTE) * MINUTE
            expected = instant if after > before else (middle - before).replace(tzinfo=timezone.utc)
            assert localize(middle, zone_name) == expected, (zone_name, instant)
            starting = QuietHours(middle.time(), (high + timedelta(minutes=30)).time())
            windows = [quiet_hours_ending(middle, timedelta(hours=8)), starting]
            for window in windows:
                for due in (instant - MINUTE, instant + (high - low) // 2):
                    shift_and_check(due, zone_name, window)
            tally[zone_name] += 1
    total = sum(tally.values())
    print(f"clock changes walked, 1990-2037, every zone: {total} in {len(tally)} zones")
    assert total > 20000
