"""Herald's configuration: read once from the environment into one typed object.

The defaults run the embedded setup (`make run`): SQLite and kombu's
filesystem transport under `var/`, sandbox providers. Point `DATABASE_URL` and
`BROKER_URL` at PostgreSQL and RabbitMQ for the production shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _var_dir() -> Path:
    return Path(os.environ.get("HERALD_VAR_DIR", PROJECT_ROOT / "var"))


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    outbox_dir: Path
    broker_dir: Path

    # The broker holds only what is due within this horizon; the relay
    # publishes the rest when it comes due (see DESIGN.md, ETA horizon).
    eta_horizon: timedelta = timedelta(minutes=10)
    # A row published this long ago, overdue and still unclaimed, counts as a
    # lost publish and is published again with a fresh token.
    republish_grace: timedelta = timedelta(minutes=5)
    relay_interval: float = 2.0
    relay_batch: int = 500
    sweep_interval: float = 15.0

    # A claimed row is `sending` for at most this long before the sweeper
    # takes it back; it must outlast the provider timeout.
    sending_lease: timedelta = timedelta(minutes=2)
    provider_timeout: float = 10.0
    max_attempts: int = 6
    # Channels whose interrupted deliveries fail instead of being retried
    # (a retry may repeat a message the provider had already accepted).
    lost_lease_fails: frozenset[str] = frozenset()
    retry_base_delay: float = 5.0
    # Kept well below RabbitMQ's consumer_timeout (30 min) and the horizon.
    retry_max_delay: float = 300.0

    publish_timeout: float = 5.0
    quorum_queues: bool = False
    idempotency_ttl: timedelta = timedelta(hours=24)
    max_request_bytes: int = 256 * 1024

    def fail_on_lost_lease(self, channel: str) -> bool:
        return channel in self.lost_lease_fails

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")


def _seconds(name: str, default: timedelta) -> timedelta:
    raw = os.environ.get(name)
    return timedelta(seconds=float(raw)) if raw else default


def _number(name: str, default, kind=float):
    raw = os.environ.get(name)
    return kind(raw) if raw else default


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in {"1", "true", "yes", "on"}


def load_settings() -> Settings:
    var = _var_dir()
    defaults = {f.name: f.default for f in fields(Settings)}
    return Settings(
        database_url=os.environ.get("DATABASE_URL", f"sqlite:///{var / 'herald.db'}"),
        broker_url=os.environ.get("BROKER_URL", "filesystem://"),
        outbox_dir=Path(os.environ.get("OUTBOX_DIR", var / "outbox")),
        broker_dir=var / "broker",
        eta_horizon=_seconds("ETA_HORIZON_SECONDS", defaults["eta_horizon"]),
        republish_grace=_seconds("REPUBLISH_GRACE_SECONDS", defaults["republish_grace"]),
        relay_interval=_number("RELAY_INTERVAL_SECONDS", defaults["relay_interval"]),
        relay_batch=_number("RELAY_BATCH", defaults["relay_batch"], int),
        sweep_interval=_number("SWEEP_INTERVAL_SECONDS", defaults["sweep_interval"]),
        sending_lease=_seconds("SENDING_LEASE_SECONDS", defaults["sending_lease"]),
        provider_timeout=_number("PROVIDER_TIMEOUT_SECONDS", defaults["provider_timeout"]),
        max_attempts=_number("MAX_ATTEMPTS", defaults["max_attempts"], int),
        lost_lease_fails=frozenset(
            c.strip() for c in os.environ.get("LOST_LEASE_FAILS_CHANNELS", "").split(",") if c.strip()
        ),
        retry_base_delay=_number("RETRY_BASE_DELAY_SECONDS", defaults["retry_base_delay"]),
        retry_max_delay=_number("RETRY_MAX_DELAY_SECONDS", defaults["retry_max_delay"]),
        publish_timeout=_number("PUBLISH_TIMEOUT_SECONDS", defaults["publish_timeout"]),
        quorum_queues=_flag("QUORUM_QUEUES", defaults["quorum_queues"]),
        idempotency_ttl=_seconds("IDEMPOTENCY_TTL_SECONDS", defaults["idempotency_ttl"]),
        max_request_bytes=_number("MAX_REQUEST_BYTES", defaults["max_request_bytes"], int),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
