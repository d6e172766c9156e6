"""When a notification may be delivered, and when to try again: pure functions.

No clock and no database here: callers pass `now` (and the random draw for
jitter), which keeps every rule testable with plain values.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def initial_deliver_at(send_at: datetime | None, now: datetime) -> tuple[datetime, str]:
    """The first moment a new notification may go out, and why."""
    if send_at is not None and send_at > now:
        return send_at, "send_at"
    return now, "immediate"


def within_horizon(deliver_at: datetime, now: datetime, horizon: timedelta) -> bool:
    """Whether the broker should hold this delivery now rather than the database."""
    return deliver_at <= now + horizon


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float,
    retry_after: float | None = None,
) -> float:
    """Seconds before the next attempt after `attempt` failures.

    Exponential backoff with "equal jitter" (half fixed, half random, `jitter`
    in [0, 1)), never sooner than the provider's Retry-After, never past `cap`.
    """
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    delay = ceiling / 2 + jitter * ceiling / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)
