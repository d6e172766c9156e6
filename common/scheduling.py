"""When a notification may be delivered, and when to try again: pure functions.

No clock and no database here: callers pass `now` (and the random draw for
jitter), which keeps every rule testable with plain values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytz

from common.localtime import utc_iso
from common.quiet_hours import REASON_QUIET_HOURS, QuietHours, plan_delivery


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


@dataclass(frozen=True)
class QuietRule:
    """The quiet hours that apply to one recipient, in their timezone, and where they came from."""

    timezone: str
    window: QuietHours
    source: str  # request | recipient | service

    def as_json(self) -> dict:
        return {"start": self.window.start.strftime("%H:%M"), "end": self.window.end.strftime("%H:%M"),
                "source": self.source, "timezone": self.timezone}

    @classmethod
    def from_json(cls, stored: dict | None) -> QuietRule | None:
        if not stored:
            return None
        return cls(stored["timezone"], QuietHours.parse(stored["start"], stored["end"]),
                   stored["source"])


def quiet_rule(
    timezone: str | None,
    *,
    requested: QuietHours | None,
    recipient: QuietHours | None,
    service: QuietHours | None,
) -> QuietRule | None:
    """The window in force, by precedence request > recipient > service; None without a timezone.

    A window whose start equals its end is "no quiet hours" and still wins its
    rank, so a request can switch a recipient's window off.
    """
    if timezone is None:
        return None
    for window, source in ((requested, "request"), (recipient, "recipient"), (service, "service")):
        if window is not None:
            return None if window.start == window.end else QuietRule(timezone, window, source)
    return None


@dataclass(frozen=True)
class Schedule:
    deliver_at: datetime
    reason: str  # immediate | send_at | quiet_hours
    detail: dict  # the explanation shown to callers


def _local(instant: datetime, zone: str | None) -> str | None:
    """The instant as the recipient's clock shows it, with its offset."""
    return instant.astimezone(pytz.timezone(zone)).isoformat() if zone else None


def schedule_delivery(
    due: datetime,
    *,
    reason: str,
    rule: QuietRule | None,
    critical: bool,
    key: str | uuid.UUID,
    spread_interval: timedelta,
    timezone: str | None = None,
) -> Schedule:
    """Move a due time out of the recipient's quiet hours, and say why, in their local time too."""
    zone = rule.timezone if rule else timezone
    detail = {"due_at": utc_iso(due), "local_due_at": _local(due, zone), "reasons": [reason]}
    if rule is None:
        detail["quiet_hours"] = None if zone else "not applied: no timezone"
        return Schedule(due, reason, detail)
    detail["quiet_hours"] = rule.as_json()
    if critical:
        detail["reasons"].append("critical: quiet hours bypassed")
        return Schedule(due, reason, detail)
    plan = plan_delivery(due, rule.timezone, rule.window, critical=False, key=key,
                         spread_interval=spread_interval)
    if plan.reason is None:
        return Schedule(due, reason, detail)
    detail["reasons"] += ["quiet_hours", "spread"]
    detail.update(
        window_end_at=utc_iso(plan.window_end),
        local_window_end_at=_local(plan.window_end, zone),
        spread_seconds=round((plan.deliver_at - plan.window_end).total_seconds(), 3),
        local_deliver_at=_local(plan.deliver_at, zone),
    )
    return Schedule(plan.deliver_at, REASON_QUIET_HOURS, detail)
