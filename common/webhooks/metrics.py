"""The webhooks' Prometheus series: attempts by outcome, and how old the oldest pending message is."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WEBHOOK_ATTEMPTS = Counter(
    "herald_webhook_attempts", "Webhook POSTs by outcome: success | http_4xx | http_5xx | "
    "http_3xx (redirects are not followed) | timeout | connection_error | tls_error | "
    "address_refused | endpoint_disabled.", ["outcome"])
WEBHOOK_OLDEST_PENDING_SECONDS = Gauge(
    "herald_webhook_oldest_pending_seconds", "Age of the oldest webhook message not yet "
    "delivered nor given up, as the relay last saw it (0: none).",
    multiprocess_mode="mostrecent")


def attempt_recorded(outcome: str) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome).inc()


def oldest_pending(seconds: float) -> None:
    WEBHOOK_OLDEST_PENDING_SECONDS.set(seconds)
