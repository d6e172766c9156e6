"""How a calling service's event counts look in answers."""

from __future__ import annotations

from datetime import datetime

from api.response_model import ResponseModel, Timestamp, body, iso


# status -> count; every status is present, zero when nothing happened.
StatusCounts = dict[str, int]


class EventTotals(ResponseModel):
    events: int
    notifications: int  # distinct notifications with an event in the period
    worker_events: int
    api_events: int


class ServiceMetrics(ResponseModel):
    """Counts of the caller's notification events; see `count_events`."""

    period_seconds: int
    since: Timestamp
    until: Timestamp
    by_status: StatusCounts
    by_channel: dict[str, StatusCounts]
    by_worker: dict[str, StatusCounts]
    totals: EventTotals


def service_metrics_body(period: int, since: datetime, until: datetime, counts: dict) -> dict:
    return body(ServiceMetrics(period_seconds=period, since=iso(since), until=iso(until), **counts))
