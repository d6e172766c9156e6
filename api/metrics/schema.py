"""The query of GET /v1/metrics: how far back to count."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from api.query import unknown_parameters, whole_number
from common.errors import Invalid

DEFAULT_PERIOD = 3600
MAX_PERIOD = 30 * 24 * 3600  # 2,592,000 s


class MetricsQuery(BaseModel):
    """The query of GET /v1/metrics, as `parse_period` reads it."""

    period: int = Field(default=DEFAULT_PERIOD, ge=1, le=MAX_PERIOD,
                        description="Seconds back from now.")


def parse_period(args: Mapping[str, str]) -> int:
    if problems := unknown_parameters(args, MetricsQuery):
        raise Invalid(problems)
    value = whole_number(args.get("period", str(DEFAULT_PERIOD)))
    if value is None or not 1 <= value <= MAX_PERIOD:
        raise Invalid({"period": f"must be a whole number of seconds from 1 to {MAX_PERIOD:,}"})
    return value
