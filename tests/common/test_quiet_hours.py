import uuid
from collections import Counter
from datetime import datetime, time, timedelta, timezone

import pytest

from common.quiet_hours import (
    DEFAULT_QUIET_HOURS,
    DeliveryPlan,
    QuietHours,
    in_quiet_hours,
    parse_wall_time,
    plan_delivery,
    shift_out_of_quiet_hours,
    spread,
)

NEW_YORK = "America/New_York"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def window(start, end):
    return QuietHours.parse(start, end)


# --- The default window, 22:00-08:00, in New York (EDT, UTC-4, in July) -------------------------


def test_late_evening_moves_to_eight_the_next_morning():
    # 23:00 EDT on 1 July -> 08:00 EDT on 2 July.
    assert shift_out_of_quiet_hours(utc(2026, 7, 2, 3, 0), NEW_YORK, DEFAULT_QUIET_HOURS) == utc(2026, 7, 2, 12, 0)


def test_a_minute_before_the_end_moves_to_eight_the_same_morning():
    assert shift_out_of_quiet_hours(utc(2026, 7, 2, 11, 59), NEW_YORK, DEFAULT_QUIET_HOURS) == utc(2026, 7, 2, 12, 0)


def test_the_end_itself_is_not_quiet():
    assert shift_out_of_quiet_hours(utc(2026, 7, 2, 12, 0), NEW_YORK, DEFAULT_QUIET_HOURS) == utc(2026, 7, 2, 12, 0)


def test_a_minute_before_the_start_is_not_quiet():
    assert shift_out_of_quiet_hours(utc(2026, 7, 2, 1, 59), NEW_YORK, DEFAULT_QUIET_HOURS) == utc(2026, 7, 2, 1, 59)


def test_the_start_itself_is_quiet():
    assert in_quiet_hours(utc(2026, 7, 2, 2, 0), NEW_YORK, DEFAULT_QUIET_HOURS)
    assert not in_quiet_hours(utc(2026, 7, 2, 1, 59, 59), NEW_YORK, DEFAULT_QUIET_HOURS)


# --- Other windows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "due, expected",
    [
        (utc(2026, 7, 1, 17, 30), utc(2026, 7, 1, 18, 0)),  # 13:30 EDT -> 14:00
        (utc(2026, 7, 1, 16, 59), utc(2026, 7, 1, 16, 59)),  # 12:59, before the window
        (utc(2026, 7, 1, 18, 0), utc(2026, 7, 1, 18, 0)),  # 14:00, the end
        (utc(2026, 7, 2, 3, 0), utc(2026, 7, 2, 3, 0)),  # 23:00, a same-day window does not wrap
    ],
)
def test_same_day_window(due, expected):
    assert shift_out_of_quiet_hours(due, NEW_YORK, window("13:00", "14:00")) == expected


def test_start_equal_to_end_means_no_quiet_hours():
    always_open = window("08:00", "08:00")
    for hour in range(24):
        due = utc(2026, 7, 1, hour, 0)
        assert not in_quiet_hours(due, NEW_YORK, always_open)
        assert shift_out_of_quiet_hours(due, NEW_YORK, always_open) == due


@pytest.mark.parametrize(
    "due, expected",
    [
        # 23:59:59 EDT on 1 July: tomorrow's end.
        (utc(2026, 7, 2, 3, 59, 59), utc(2026, 7, 2, 5, 0)),
        # 00:00 EDT on 2 July: today's end.
        (utc(2026, 7, 2, 4, 0), utc(2026, 7, 2, 5, 0)),
        # 00:59:59.999999: still quiet.
        (utc(2026, 7, 2, 4, 59, 59, 999999), utc(2026, 7, 2, 5, 0)),
        # 23:30 EST on New Year's Eve: across the year.
        (utc(2027, 1, 1, 4, 30), utc(2027, 1, 1, 6, 0)),
    ],
)
def test_window_across_midnight_near_midnight(due, expected):
    assert shift_out_of_quiet_hours(due, NEW_YORK, window("23:00", "01:00")) == expected


def test_default_window_across_the_new_year():
    # 23:30 EST on 31 December -> 08:00 EST on 1 January.
    assert shift_out_of_quiet_hours(utc(2027, 1, 1, 4, 30), NEW_YORK, DEFAULT_QUIET_HOURS) == utc(2027, 1, 1, 13, 0)


# --- Zones with unusual offsets ------------------------------------------------------------------


def test_asia_kathmandu_quarter_hour_offset():
    # 23:00 +05:45 on 15 January -> 08:00 +05:45 on 16 January.
    assert shift_out_of_quiet_hours(utc(2026, 1, 15, 17, 15), "Asia/Kathmandu", DEFAULT_QUIET_HOURS) == utc(
        2026, 1, 16, 2, 15
    )


@pytest.mark.parametrize("zone_name, due, expected", [
    ("Asia/Tokyo", utc(2026, 6, 1, 14, 30), utc(2026, 6, 1, 23, 0)),  # 23:30 JST -> 08:00 JST
    ("UTC", utc(2026, 6, 1, 2, 0), utc(2026, 6, 1, 8, 0)),
    ("Etc/GMT+5", utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 13, 0)),  # UTC-5 all year: 01:00 -> 08:00
])
def test_zones_without_dst(zone_name, due, expected):
    assert shift_out_of_quiet_hours(due, zone_name, DEFAULT_QUIET_HOURS) == expected


def test_australia_lord_howe_half_hour_dst_plain_night():
    # 23:00 +11 on 14 January -> 08:00 +11 on 15 January.
    assert shift_out_of_quiet_hours(utc(2026, 1, 14, 12, 0), "Australia/Lord_Howe", DEFAULT_QUIET_HOURS) == utc(
        2026, 1, 14, 21, 0
    )


def test_australia_lord_howe_end_in_the_half_hour_gap():
    # On 4 October 2026 clocks go 02:00 +10:30 -> 02:30 +11; 02:15 does not exist.
    # 01:00 +10:30 -> the jump, 15:30 UTC on the 3rd.
    assert shift_out_of_quiet_hours(utc(2026, 10, 3, 14, 30), "Australia/Lord_Howe", window("22:00", "02:15")) == utc(
        2026, 10, 3, 15, 30
    )


def test_australia_lord_howe_end_in_the_repeated_half_hour():
    # On 5 April 2026 clocks go 02:00 +11 -> 01:30 +10:30; 01:45 happens twice.
    lord_howe, quiet = "Australia/Lord_Howe", window("22:00", "01:45")
    # 01:00 +11 -> the first 01:45 (+11).
    assert shift_out_of_quiet_hours(utc(2026, 4, 4, 14, 0), lord_howe, quiet) == utc(2026, 4, 4, 14, 45)
    # 01:35 +10:30, in the repeat: the first 01:45 is past, the second (+10:30) is next.
    assert shift_out_of_quiet_hours(utc(2026, 4, 4, 15, 5), lord_howe, quiet) == utc(2026, 4, 4, 15, 15)


def test_pacific_apia_skipped_day_iterates_to_the_next_real_end():
    # Samoa went from 2011-12-29 23:59:59 (-10) to 2011-12-31 00:00 (+14).
    # 23:00 on the 29th: the end at 08:00 on the 30th never happened, and the
    # jump lands at 00:00 on the 31st, still quiet: 08:00 +14 on the 31st.
    assert shift_out_of_quiet_hours(utc(2011, 12, 30, 9, 0), "Pacific/Apia", DEFAULT_QUIET_HOURS) == utc(
        2011, 12, 30, 18, 0
    )


def test_pacific_apia_skipped_day_releases_at_the_jump_when_that_is_outside():
    # Window 23:00-00:00: the end (00:00 on the 30th) never happened; the jump
    # lands at 00:00 on the 31st, which is outside.
    assert shift_out_of_quiet_hours(utc(2011, 12, 30, 9, 30), "Pacific/Apia", window("23:00", "00:00")) == utc(
        2011, 12, 30, 10, 0
    )


# --- New York's clock changes in 2026 ------------------------------------------------------------


def test_end_in_the_spring_forward_gap_moves_to_the_jump():
    # 2026-03-08: 02:00 EST -> 03:00 EDT, so 02:30 does not exist. Due 00:30 EST.
    assert shift_out_of_quiet_hours(utc(2026, 3, 8, 5, 30), NEW_YORK, window("22:00", "02:30")) == utc(2026, 3, 8, 7, 0)


def test_ambiguous_end_takes_the_first_occurrence():
    # 2026-11-01: 02:00 EDT -> 01:00 EST, so 01:30 happens twice. Due 00:30 EDT.
    assert shift_out_of_quiet_hours(utc(2026, 11, 1, 4, 30), NEW_YORK, window("22:00", "01:30")) == utc(
        2026, 11, 1, 5, 30
    )


def test_due_in_the_second_occurrence_is_never_moved_back():
    # Due at the second 01:15 (EST, 06:15 UTC): the first 01:30 (05:30 UTC) is
    # already past, so the window ends at the second 01:30.
    due = utc(2026, 11, 1, 6, 15)
    result = shift_out_of_quiet_hours(due, NEW_YORK, window("22:00", "01:30"))
    assert result >= due
    assert result == utc(2026, 11, 1, 6, 30)


def test_window_starting_in_the_repeated_hour_is_left_when_the_clocks_go_back():
    # Quiet 01:30-03:00, due 01:45 EDT. At 02:00 EDT the clocks read 01:00 EST,
    # before the window: that is the first moment outside it (it returns at 01:30 EST).
    assert shift_out_of_quiet_hours(utc(2026, 11, 1, 5, 45), NEW_YORK, window("01:30", "03:00")) == utc(
        2026, 11, 1, 6, 0
    )


# --- plan_delivery -------------------------------------------------------------------------------

TEN_MINUTES = timedelta(minutes=10)


def test_plan_moves_a_quiet_delivery_to_the_end_and_spreads_it():
    plan = plan_delivery(
        utc(2026, 7, 2, 3, 0), NEW_YORK, DEFAULT_QUIET_HOURS, critical=False, key="n-1", spread_interval=TEN_MINUTES
    )
    assert plan.reason == "quiet_hours"
    assert plan.window_end == utc(2026, 7, 2, 12, 0)
    assert plan.deliver_at == spread(plan.window_end, "n-1", TEN_MINUTES)
    assert utc(2026, 7, 2, 12, 0) <= plan.deliver_at < utc(2026, 7, 2, 12, 10)


def test_plan_keeps_a_delivery_outside_the_window():
    due = utc(2026, 7, 1, 16, 0)  # 12:00 EDT
    plan = plan_delivery(due, NEW_YORK, DEFAULT_QUIET_HOURS, critical=False, key="n-1", spread_interval=TEN_MINUTES)
    assert plan == DeliveryPlan(deliver_at=due, reason=None, window_end=None)


def test_critical_bypasses_quiet_hours():
    due = utc(2026, 7, 2, 3, 0)  # 23:00 EDT
    plan = plan_delivery(due, NEW_YORK, DEFAULT_QUIET_HOURS, critical=True, key="n-1", spread_interval=TEN_MINUTES)
    assert plan == DeliveryPlan(deliver_at=due, reason=None, window_end=None)


def test_spread_never_reaches_back_into_the_window():
    # Quiet 08:01-08:00 leaves one open minute a day: a ten-minute spread is cut to it.
    almost_always = window("08:01", "08:00")
    due = utc(2026, 7, 1, 16, 0)  # 12:00 EDT
    for number in range(200):
        key = f"n-{number}"
        plan = plan_delivery(due, NEW_YORK, almost_always, critical=False, key=key, spread_interval=TEN_MINUTES)
        assert plan.window_end == utc(2026, 7, 2, 12, 0)
        assert plan.window_end <= plan.deliver_at < plan.window_end + timedelta(minutes=1)


# --- spread --------------------------------------------------------------------------------------

END = utc(2026, 1, 1, 13, 0)


def test_spread_is_a_stable_hash_of_the_key():
    # Pinned: Python's salted hash() would change this from one process to the next.
    assert spread(END, "golden", TEN_MINUTES) == utc(2026, 1, 1, 13, 8, 38, 764051)
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert spread(END, key, TEN_MINUTES) == spread(END, str(key), TEN_MINUTES) == utc(2026, 1, 1, 13, 4, 33, 230301)


def test_spread_over_nothing_is_the_end():
    assert spread(END, "golden", timedelta(0)) == END


def test_spread_rejects_a_negative_interval():
    with pytest.raises(ValueError, match="must not be negative"):
        spread(END, "golden", -TEN_MINUTES)


def test_spread_of_ten_thousand_keys_over_ten_minutes_is_even():
    keys = [uuid.uuid5(uuid.NAMESPACE_URL, f"herald/notification/{number}") for number in range(10_000)]
    seconds = [(spread(END, key, TEN_MINUTES) - END).total_seconds() for key in keys]
    assert all(0 <= second < 600 for second in seconds)
    # Every second of the ten minutes gets some (about 17 each on average).
    assert len({int(second) for second in seconds}) == 600
    # 30-second buckets expect 500 each; a uniform draw stays within about
    # 4 standard deviations (+-90), so the fullest is well under 1.5x the emptiest.
    buckets = Counter(int(second // 30) for second in seconds)
    assert len(buckets) == 20
    assert max(buckets.values()) < 1.5 * min(buckets.values())


# --- Parsing and input checks --------------------------------------------------------------------


def test_parse_reads_hh_mm():
    assert QuietHours.parse("22:00", "08:00") == DEFAULT_QUIET_HOURS
    assert parse_wall_time("00:00") == time(0, 0)
    assert parse_wall_time("23:59") == time(23, 59)


@pytest.mark.parametrize("text", ["24:00", "8:00", "22:60", "22:00:00", "22h00", "", " 22:00", "٢٢:٠٠", None])
def test_parse_rejects_anything_else_with_a_clear_message(text):
    with pytest.raises(ValueError, match=r"quiet hours start must be a time as HH:MM from 00:00 to 23:59, got"):
        QuietHours.parse(text, "08:00")


def test_parse_names_the_field_at_fault():
    with pytest.raises(ValueError, match=r"quiet hours end must be .* got '8am'"):
        QuietHours.parse("22:00", "8am")


def test_window_times_must_be_local_wall_times():
    with pytest.raises(ValueError, match="naive"):
        QuietHours(time(22, 0, tzinfo=timezone.utc), time(8, 0))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        shift_out_of_quiet_hours(datetime(2026, 7, 2, 3, 0), NEW_YORK, DEFAULT_QUIET_HOURS)
