"""PostgreSQL statements that change a notification and append its event in one round trip.

`changed_with_event` wraps a status UPDATE in a data-modifying CTE: the
UPDATE returns the row as written, an INSERT adds the event from it, and the
ORM receives the row, all in one statement. `quiet_now` is the claim's
quiet-hours test, evaluated where the row is, so an attempt is counted only
when it will really be made.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Time, and_, case, cast, func, insert, literal, or_, select
from sqlalchemy.sql import Select, Update

from common.models import Notification, NotificationEvent

_EVENTS = NotificationEvent.__table__
_NOTIFICATIONS = Notification.__table__


def changed_with_event(change: Update, *, at: datetime, worker: str | None,
                       detail: str | None) -> Select:
    """`change` (an UPDATE of one notification) and its event row, as one ORM statement.

    The event's time is the later of `at` and the database's clock once the
    row lock is held, so events follow the order the changes committed in.
    """
    changed = change.returning(*_NOTIFICATIONS.c).cte("changed")
    when = func.greatest(cast(literal(at, DateTime(timezone=True)), DateTime(timezone=True)),
                         func.clock_timestamp())
    recorded = insert_event_from(changed, when, worker, detail).cte("recorded")
    rows = select(changed).add_cte(recorded)
    return select(Notification).from_statement(rows)


def insert_event_from(changed, when, worker: str | None, detail: str | None):
    """INSERT INTO notification_events ... SELECT from the changed row."""
    return insert(_EVENTS).from_select(
        ["notification_id", "at", "status", "attempt", "worker", "error_code", "detail"],
        select(changed.c.id, when, changed.c.status, changed.c.attempts,
               literal(worker, _EVENTS.c.worker.type), changed.c.error_code,
               literal(detail, _EVENTS.c.detail.type)),
    ).returning(_EVENTS.c.id)


def quiet_now(now: datetime):
    """True where the row's recipient is inside their quiet hours at `now` (critical never is).

    The same rule as `common.quiet_hours.in_quiet_hours` (tests hold the two
    together): the wall clock in the rule's timezone inside [start, end),
    across midnight when start > end, no window when start == end.
    """
    rule = Notification.quiet_hours
    start = cast(rule["start"].as_string(), Time)
    end = cast(rule["end"].as_string(), Time)
    wall = cast(func.timezone(rule["timezone"].as_string(),
                              cast(literal(now, DateTime(timezone=True)), DateTime(timezone=True))),
                Time)
    inside = case(
        (start == end, False),
        (start < end, and_(wall >= start, wall < end)),
        else_=or_(wall >= start, wall < end),
    )
    return and_(Notification.priority != "critical", rule.is_not(None),
                func.coalesce(inside, False))
