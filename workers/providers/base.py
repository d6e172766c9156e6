"""The provider interface: what a delivery gets, what it returns, how it fails."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol


@dataclass(frozen=True)
class DeliveryRequest:
    """A snapshot of the row, taken before the database connection is released."""

    notification_id: uuid.UUID
    channel: str
    recipient: str
    title: str | None
    body: str
    html: str | None
    data: dict | None
    priority: str
    attempt: int
    # Channel options: push `ttl_seconds` and `collapse_key`.
    options: dict | None = None


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str | None
    segments: int | None = None  # SMS only: how many parts the provider billed


class DeliveryError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(DeliveryError):
    """Worth another attempt: timeouts, connection errors, throttling, 5xx."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(code, message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Another attempt would fail the same way: a bad address, a refused recipient."""


class Provider(Protocol):
    def send(self, request: DeliveryRequest) -> Receipt: ...


def retry_after_seconds(value: str | None, cap: float) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP date) in seconds, at most `cap`.

    None when absent or unreadable: the backoff alone decides then.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)
