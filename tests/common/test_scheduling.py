from datetime import datetime, timedelta, timezone

import pytest

from common.scheduling import initial_deliver_at, retry_delay, within_horizon

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


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
