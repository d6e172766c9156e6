from datetime import datetime, timedelta, timezone

import pytest
import pytz

from common.localtime import TIME_TABLES_END, beyond_time_tables, localize, utc_iso


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


def test_utc_iso_writes_any_offset_as_the_same_instant_in_utc_with_z():
    offset = timedelta(hours=5, minutes=30)
    india = datetime.now(timezone(offset)).replace(microsecond=0)
    in_utc = india.replace(tzinfo=None) - offset
    assert utc_iso(india) == f"{in_utc:%Y-%m-%dT%H:%M:%S}Z"
    with pytest.raises(ValueError):
        utc_iso(india.replace(tzinfo=None))


def test_the_time_tables_end_where_pytz_stops_knowing_rule_changes():
    last_change = max(zone._utc_transition_times[-1] for zone in map(pytz.timezone, pytz.all_timezones)
                      if getattr(zone, "_utc_transition_times", None))
    assert last_change.year == TIME_TABLES_END.year - 1
    assert beyond_time_tables(TIME_TABLES_END)
    assert not beyond_time_tables(TIME_TABLES_END - timedelta(microseconds=1))
