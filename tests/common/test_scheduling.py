from datetime import datetime, timedelta, timezone

import pytest

from common.quiet_hours import QuietHours
from common.scheduling import (QuietRule, initial_deliver_at, quiet_rule, retry_delay,
                               schedule_delivery, within_horizon)
from tests.support.clock import days_ahead, wall_clock

NOW = datetime.now(timezone.utc)


def test_no_send_at_delivers_now():
    assert initial_deliver_at(None, NOW) == (NOW, "immediate")


def test_future_send_at_is_kept():
    later = NOW + timedelta(hours=3)
    assert initial_deliver_at(later, NOW) == (later, "send_at")


def test_past_send_at_delivers_now():
    assert initial_deliver_at(NOW - timedelta(minutes=1), NOW) == (NOW, "immediate")


def test_horizon_separates_broker_from_database():
    horizon = timedelta(minutes=10)
    assert within_horizon(NOW + timedelta(minutes=10), NOW, horizon)
    assert not within_horizon(NOW + timedelta(minutes=10, seconds=1), NOW, horizon)


@pytest.mark.parametrize("attempt, low, high", [(1, 2.5, 5), (2, 5, 10), (3, 10, 20), (4, 20, 40)])
def test_backoff_doubles_with_equal_jitter(attempt, low, high):
    assert retry_delay(attempt, base=5, cap=300, jitter=0.0) == low
    assert retry_delay(attempt, base=5, cap=300, jitter=0.999999) == pytest.approx(high, rel=1e-5)


def test_backoff_is_capped():
    assert retry_delay(20, base=5, cap=300, jitter=0.999) <= 300


def test_retry_after_is_honoured_up_to_the_cap():
    assert retry_delay(1, base=5, cap=300, jitter=0.0, retry_after=42) == 42
    assert retry_delay(1, base=5, cap=300, jitter=0.0, retry_after=10_000) == 300


# Quiet hours in the schedule.

NIGHT = QuietHours.parse("22:00", "08:00")
EVENING = QuietHours.parse("20:00", "07:00")
NONE = QuietHours.parse("00:00", "00:00")
NEW_YORK = "America/New_York"


def test_the_request_window_beats_the_recipient_and_the_service():
    rule = quiet_rule(NEW_YORK, requested=EVENING, recipient=NIGHT, service=NIGHT)
    assert (rule.window, rule.source) == (EVENING, "request")


def test_the_recipient_window_beats_the_service():
    rule = quiet_rule(NEW_YORK, requested=None, recipient=EVENING, service=NIGHT)
    assert (rule.window, rule.source) == (EVENING, "recipient")


def test_an_empty_window_switches_quiet_hours_off_at_its_rank():
    assert quiet_rule(NEW_YORK, requested=NONE, recipient=EVENING, service=NIGHT) is None


def test_no_timezone_no_quiet_hours():
    assert quiet_rule(None, requested=EVENING, recipient=None, service=NIGHT) is None


def test_a_rule_survives_the_round_trip_through_the_row():
    rule = QuietRule(NEW_YORK, EVENING, "recipient")
    assert QuietRule.from_json(rule.as_json()) == rule


def test_a_due_time_inside_the_window_moves_to_its_end_and_says_why():
    due = days_ahead(hour=23, zone=NEW_YORK)
    rule = QuietRule(NEW_YORK, NIGHT, "service")

    schedule = schedule_delivery(due, reason="immediate", rule=rule, critical=False, key="n-1",
                                 spread_interval=timedelta(minutes=10))

    window_end = wall_clock(NEW_YORK, due.date() + timedelta(days=1), 8)
    assert window_end <= schedule.deliver_at < window_end + timedelta(minutes=10)
    assert schedule.reason == "quiet_hours"
    assert schedule.detail["local_window_end_at"] == window_end.isoformat()
    assert schedule.detail["spread_seconds"] == round(
        (schedule.deliver_at - window_end).total_seconds(), 3)


def test_critical_keeps_its_time():
    due = days_ahead(hour=23, zone=NEW_YORK).astimezone(timezone.utc)
    schedule = schedule_delivery(due, reason="send_at", rule=QuietRule(NEW_YORK, NIGHT, "service"),
                                 critical=True, key="n-1", spread_interval=timedelta(minutes=10))
    assert (schedule.deliver_at, schedule.reason) == (due, "send_at")
