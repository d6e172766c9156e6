"""PostgreSQL statements that change a notification and append its event in one round trip.

A status UPDATE becomes a data-modifying CTE: the UPDATE returns the row as
written, an INSERT adds the event from it, and the ORM receives the row, all
in one statement; a new row and its first event go in the same way
(`created_with_event`). The worker's own changes (claim, sent, retry, failure) are
built once per process with bound parameters (`prepared_change`); building
such a statement costs more than running it. `quiet_now` is the claim's
quiet-hours test, evaluated where the row is, so an attempt is counted only
when it will really be made.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import (DateTime, Time, and_, bindparam, case, cast, func, insert, literal, or_,
                        select, update)
from sqlalchemy.sql import Insert, Select, Update

from common.models import Notification, NotificationEvent
from common.statuses import Status, allowed_sources

_EVENTS = NotificationEvent.__table__
_NOTIFICATIONS = Notification.__table__
_TIMESTAMP = DateTime(timezone=True)
# UPDATE ... RETURNING hands back the row as written, even when the session
# already holds an older copy of it.
FRESH_ROW = {"synchronize_session": False, "populate_existing": True}


def changed_with_event(change: Update, *, at, worker, detail, orm: bool = True,
                       exact_time: bool = False) -> Select:
    """`change` (an UPDATE of one notification) and its event row, as one statement.

    `orm`: the row comes back as a Notification (else as a plain row, which
    skips the ORM's loading: the worker's hot path reads it once).
    `exact_time`: the event is timed `at`, the moment the worker decided (a
    retry's wait counts from it), rather than the later of `at` and the lock.
    `at`, `worker` and `detail` are values or bound parameters. The event's
    time is the later of `at` and the database's clock once the row lock is
    held, so events follow the order the changes committed in.
    """
    changed = change.returning(*_NOTIFICATIONS.c).cte("changed")
    when = cast(_bound(at, _TIMESTAMP), _TIMESTAMP)
    if not exact_time:
        when = func.greatest(when, func.clock_timestamp())
    recorded = insert(_EVENTS).from_select(
        ["notification_id", "at", "status", "attempt", "worker", "error_code", "detail"],
        select(changed.c.id, when, changed.c.status, changed.c.attempts,
               _bound(worker, _EVENTS.c.worker.type), changed.c.error_code,
               _bound(detail, _EVENTS.c.detail.type)),
    ).returning(_EVENTS.c.id).cte("recorded")
    rows = select(changed).add_cte(recorded)
    return select(Notification).from_statement(rows) if orm else rows


def _bound(value, type_):
    return value if hasattr(value, "key") and hasattr(value, "type") else literal(value, type_)


@lru_cache(maxsize=None)
def prepared_change(target: Status, values: tuple[str, ...], claim: bool = False) -> Select:
    """The statement moving one row, under its dispatch token, to `target`; built once.

    It returns the row as written, as a plain row (attributes named as the
    Notification's), or nothing when the move is not allowed.

    Parameters: nid, token, now, worker, detail, and `set_<name>` per name in `values`
    (a bound name equal to a column's would be taken for a value of the SET clause).
    A claim also needs the row due and outside quiet hours, and counts the attempt.
    """
    now = bindparam("now", type_=_NOTIFICATIONS.c.updated_at.type)
    where = [_NOTIFICATIONS.c.id == bindparam("nid", type_=_NOTIFICATIONS.c.id.type),
             # Not IN (...): an expanding parameter is rewritten into the SQL at every run.
             or_(*(_NOTIFICATIONS.c.status == s.value for s in sorted(allowed_sources(target)))),
             _NOTIFICATIONS.c.dispatch_token == bindparam(
                 "token", type_=_NOTIFICATIONS.c.dispatch_token.type)]
    sets = {name: bindparam(f"set_{name}", type_=_NOTIFICATIONS.c[name].type) for name in values}
    if claim:
        where += [_NOTIFICATIONS.c.deliver_at <= now, ~quiet_now(now)]
        sets["attempts"] = _NOTIFICATIONS.c.attempts + 1
    # The table, not the mapped class: the statement then runs as Core, without the ORM's
    # execution and loading around it (a third of a delivery's database time).
    change = update(_NOTIFICATIONS).where(*where).values(status=target.value, updated_at=now, **sets)
    return changed_with_event(change, at=now, worker=bindparam("worker", type_=_EVENTS.c.worker.type),
                              detail=bindparam("detail", type_=_EVENTS.c.detail.type), orm=False,
                              # The claim's token guard keeps every other writer out.
                              exact_time=True)


def quiet_now(now):
    """True where the row's recipient is inside their quiet hours at `now` (critical never is).

    The same rule as `common.quiet_hours.in_quiet_hours` (tests hold the two
    together): the wall clock in the rule's timezone inside [start, end),
    across midnight when start > end, no window when start == end.
    """
    rule = _NOTIFICATIONS.c.quiet_hours
    start = cast(rule["start"].as_string(), Time)
    end = cast(rule["end"].as_string(), Time)
    wall = cast(func.timezone(rule["timezone"].as_string(), cast(_bound(now, _TIMESTAMP), _TIMESTAMP)),
                Time)
    inside = case(
        (start == end, False),
        (start < end, and_(wall >= start, wall < end)),
        else_=or_(wall >= start, wall < end),
    )
    return and_(_NOTIFICATIONS.c.priority != "critical", rule.is_not(None),
                func.coalesce(inside, False))


@lru_cache(maxsize=None)
def created_with_event() -> Insert:
    """The INSERT of one new notification and its first event, as one statement; built once.

    Parameters: `new_<column>` for every column of the row (None where unset),
    `event_at` and `event_detail`. The event takes the row's status, attempts
    and error code.
    """
    columns = [c for c in _NOTIFICATIONS.c]
    created = (insert(_NOTIFICATIONS)
               .values({c.name: bindparam(f"new_{c.name}", type_=c.type) for c in columns})
               .returning(_NOTIFICATIONS.c.id, _NOTIFICATIONS.c.status,
                          _NOTIFICATIONS.c.attempts, _NOTIFICATIONS.c.error_code)
               .cte("created"))
    return insert(_EVENTS).from_select(
        ["notification_id", "at", "status", "attempt", "error_code", "detail"],
        select(created.c.id, bindparam("event_at", type_=_EVENTS.c.at.type), created.c.status,
               created.c.attempts, created.c.error_code,
               bindparam("event_detail", type_=_EVENTS.c.detail.type)),
    ).add_cte(created)
