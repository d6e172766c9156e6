"""What POST /v1/notifications/retry takes: a filter over the service's failed notifications."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.request_parsing import validated
from api.response_model import ResponseModel, Timestamp
from api.strict_model import StrictModel, Text
from api.validators import parse_iso8601
from common import channels
from common.errors import Invalid

MAX_REPLAY = 10_000  # notifications one request replays


class RetryFilter(StrictModel):
    """Every field narrows the set; none given: every failed notification (the oldest first)."""

    error_code: Text | None = Field(default=None, min_length=1, max_length=64,
                                    description="The failure's code, exactly (`sandbox_rejected`).")
    channel: Literal[channels.names()] | None = None
    failed_after: Timestamp | None = Field(default=None, description="Inclusive; with an offset.")
    failed_before: Timestamp | None = Field(default=None, description="Exclusive; with an offset.")
    limit: int = Field(default=MAX_REPLAY, ge=1, le=MAX_REPLAY,
                       description="At most this many, the earliest failures first.")


@dataclass(frozen=True)
class RetryRequest:
    error_code: str | None
    channel: str | None
    failed_after: datetime | None
    failed_before: datetime | None
    limit: int

    def fingerprint(self, key_kind: str) -> str:
        """As an idempotency key remembers the request."""
        canonical = json.dumps({"key_kind": key_kind, "replay": asdict(self)}, sort_keys=True,
                               default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_retry_filter(payload: object) -> RetryRequest:
    body = validated(RetryFilter, payload)
    times, problems = {}, {}
    for name in ("failed_after", "failed_before"):
        value = getattr(body, name)
        if value is None:
            continue
        try:
            times[name] = parse_iso8601(value)
        except ValueError as error:
            problems[name] = str(error)
    if problems:
        raise Invalid(problems)
    return RetryRequest(body.error_code, body.channel, times.get("failed_after"),
                        times.get("failed_before"), body.limit)


class Replayed(ResponseModel):
    replayed: int  # failed notifications scheduled again by this request
    more: bool  # more matched than the limit: ask again for the rest


def example_retry_filter(now=None) -> dict:
    return {"error_code": "sandbox_rejected", "channel": "email"}
