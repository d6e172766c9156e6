from datetime import datetime, timezone

from common.localtime import localize


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_ordinary_local_time():
    assert localize(datetime(2026, 7, 1, 12, 0), "America/New_York") == utc(2026, 7, 1, 16, 0)


def test_time_in_spring_forward_gap_moves_to_the_jump():
    # 02:30 does not exist on 2026-03-08 in New York; clocks jump 02:00 -> 03:00 EDT.
    assert localize(datetime(2026, 3, 8, 2, 30), "America/New_York") == utc(2026, 3, 8, 7, 0)


def test_ambiguous_time_takes_the_first_occurrence():
    # 01:30 happens twice on 2026-11-01; the first is EDT (UTC-4).
    assert localize(datetime(2026, 11, 1, 1, 30), "America/New_York") == utc(2026, 11, 1, 5, 30)


def test_skipped_day_in_apia():
    # Samoa skipped 2011-12-30 entirely: the day starts at 2011-12-31 00:00 +14.
    assert localize(datetime(2011, 12, 30, 10, 0), "Pacific/Apia") == utc(2011, 12, 30, 10, 0)
