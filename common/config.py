"""Herald's configuration: read once from the environment into one typed object.

The defaults run the embedded setup (`make run`): SQLite and kombu's
filesystem transport under `var/`, sandbox providers. Point `DATABASE_URL` and
`BROKER_URL` at PostgreSQL and RabbitMQ for the production shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from limits import parse_many

from common.quiet_hours import DEFAULT_QUIET_HOURS, QuietHours

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _var_dir() -> Path:
    return Path(os.environ.get("HERALD_VAR_DIR", PROJECT_ROOT / "var"))


@dataclass(frozen=True)
class FcmSettings:
    """Firebase Cloud Messaging (HTTP v1) with a service account."""

    project_id: str
    credentials_file: str | None = None
    credentials_json: str | None = field(default=None, repr=False)
    # Only for tests and emulators: where the FCM v1 API lives instead of Google.
    endpoint: str | None = None


SMTP_SECURITY_MODES = ("starttls", "ssl", "plain")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | ssl | plain
    from_address: str
    from_name: str | None = None
    reply_to: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # A CA bundle to verify the server with (a private CA); the system's by default.
    ca_file: str | None = None


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    # Herald's public base URL: Twilio posts delivery receipts under it.
    public_base_url: str | None = None
    # Only for tests: where the Twilio REST API lives instead of api.twilio.com.
    api_base: str | None = None


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

    # A provider's Retry-After is honoured up to this many seconds.
    retry_after_cap: float = 300.0

    # Real providers; None means the channel delivers through the sandbox.
    fcm: FcmSettings | None = None
    smtp: SmtpSettings | None = None
    twilio: TwilioSettings | None = None

    # The service default for quiet hours, below a recipient's and a request's
    # own; None switches the default off. Releases at a window's end are spread
    # over `quiet_hours_spread`.
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS
    quiet_hours_spread: timedelta = timedelta(minutes=10)

    publish_timeout: float = 5.0
    quorum_queues: bool = False
    idempotency_ttl: timedelta = timedelta(hours=24)
    max_request_bytes: int = 256 * 1024

    # Logs: `text` for people (make run), `json` one object per line for
    # collectors (docker-compose sets it). See common/logs.py.
    log_format: str = "text"
    # A worker pool serves its Prometheus metrics on this port; 0 = off.
    # Per-start multiprocess files live under `metrics_dir`.
    worker_metrics_port: int = 0
    worker_metrics_address: str = "127.0.0.1"
    metrics_dir: Path | None = None

    # Per-service request budgets (api/rate_limits.py), in the `limits`
    # notation: several windows joined by ";". The second caps a burst; the
    # minute is GOV.UK Notify's 3,000 sends. Far above a caller's normal use,
    # a few percent of one API's capacity. A key may carry its own
    # (`flask --app api keys create --write-limit ...`).
    rate_limits_enabled: bool = True
    rate_limit_writes: str = "50/second;3000/minute"
    rate_limit_reads: str = "100/second;6000/minute"
    # memory:// counts in each process (make run); production shares one
    # Redis between all API processes: redis://host:6379/0 (it may hold a password).
    rate_limit_storage_url: str = field(default="memory://", repr=False)
    rate_limit_key_prefix: str = "herald"

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


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _required(name: str, because: str) -> str:
    value = _env(name)
    if value is None:
        raise ConfigError(f"{name} is required {because}")
    return value


def load_fcm() -> FcmSettings | None:
    if not (_env("FCM_CREDENTIALS_FILE") or _env("FCM_CREDENTIALS_JSON")):
        return None
    return FcmSettings(
        project_id=_required("FCM_PROJECT_ID", "with FCM credentials"),
        credentials_file=_env("FCM_CREDENTIALS_FILE"),
        credentials_json=_env("FCM_CREDENTIALS_JSON"),
        endpoint=_env("FCM_ENDPOINT"),
    )


def load_smtp() -> SmtpSettings | None:
    if not _env("SMTP_HOST"):
        return None
    security = _env("SMTP_SECURITY") or "starttls"
    if security not in SMTP_SECURITY_MODES:
        raise ConfigError(f"SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY_MODES)}")
    default_port = {"ssl": 465, "starttls": 587}.get(security, 25)
    return SmtpSettings(
        host=os.environ["SMTP_HOST"],
        port=_number("SMTP_PORT", default_port, int),
        security=security,
        from_address=_required("EMAIL_FROM", "with SMTP_HOST"),
        from_name=_env("EMAIL_FROM_NAME"),
        reply_to=_env("EMAIL_REPLY_TO"),
        username=_env("SMTP_USERNAME"),
        password=_env("SMTP_PASSWORD"),
        ca_file=_env("SMTP_CA_FILE"),
    )


def load_twilio() -> TwilioSettings | None:
    if not _env("TWILIO_ACCOUNT_SID"):
        return None
    return TwilioSettings(
        account_sid=os.environ["TWILIO_ACCOUNT_SID"],
        auth_token=_required("TWILIO_AUTH_TOKEN", "with TWILIO_ACCOUNT_SID"),
        from_number=_env("TWILIO_FROM_NUMBER"),
        messaging_service_sid=_env("TWILIO_MESSAGING_SERVICE_SID"),
        public_base_url=_env("HERALD_PUBLIC_URL"),
        api_base=_env("TWILIO_API_BASE"),
    )


def _quiet_hours(name: str, default: QuietHours | None) -> QuietHours | None:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in {"", "off", "none"}:
        return None
    start, separator, end = raw.partition("-")
    try:
        if not separator:
            raise ValueError("expected START-END")
        return QuietHours.parse(start.strip(), end.strip())
    except ValueError as error:
        raise ConfigError(f"{name} must look like 22:00-08:00 or be off: {error}") from None


RATE_LIMIT_MAX_LENGTH = 100


def check_rate_limit(value: str) -> str:
    """`value` if it is a valid limit such as "100/second;3000/minute", else ValueError."""
    try:
        if len(value) > RATE_LIMIT_MAX_LENGTH or any(item.amount < 1 for item in parse_many(value)):
            raise ValueError
    except ValueError:
        raise ValueError('expected limits such as "100/second;3000/minute" '
                         f"(each at least 1, {RATE_LIMIT_MAX_LENGTH} characters at most)") from None
    return value


def _rate_limit(name: str, default: str) -> str:
    try:
        return check_rate_limit(_env(name) or default)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


RATE_LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel",
                              "redis+cluster")


def _rate_limit_storage() -> str:
    url = _env("RATE_LIMIT_STORAGE_URL") or "memory://"
    if url.partition("://")[0] not in RATE_LIMIT_STORAGE_SCHEMES:
        raise ConfigError("RATE_LIMIT_STORAGE_URL must be memory:// or a redis:// URL")
    return url


LOG_FORMATS = ("text", "json")


def _log_format() -> str:
    value = (_env("LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    return value


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
        retry_after_cap=_number("RETRY_AFTER_CAP_SECONDS", defaults["retry_after_cap"]),
        fcm=load_fcm(),
        smtp=load_smtp(),
        twilio=load_twilio(),
        quiet_hours=_quiet_hours("QUIET_HOURS", defaults["quiet_hours"]),
        quiet_hours_spread=_seconds("QUIET_HOURS_SPREAD_SECONDS", defaults["quiet_hours_spread"]),
        publish_timeout=_number("PUBLISH_TIMEOUT_SECONDS", defaults["publish_timeout"]),
        quorum_queues=_flag("QUORUM_QUEUES", defaults["quorum_queues"]),
        idempotency_ttl=_seconds("IDEMPOTENCY_TTL_SECONDS", defaults["idempotency_ttl"]),
        max_request_bytes=_number("MAX_REQUEST_BYTES", defaults["max_request_bytes"], int),
        log_format=_log_format(),
        worker_metrics_port=_number("WORKER_METRICS_PORT", defaults["worker_metrics_port"], int),
        worker_metrics_address=_env("WORKER_METRICS_ADDRESS") or defaults["worker_metrics_address"],
        metrics_dir=var / "metrics",
        rate_limits_enabled=_flag("RATE_LIMITS_ENABLED", defaults["rate_limits_enabled"]),
        rate_limit_writes=_rate_limit("RATE_LIMIT_WRITES", defaults["rate_limit_writes"]),
        rate_limit_reads=_rate_limit("RATE_LIMIT_READS", defaults["rate_limit_reads"]),
        rate_limit_storage_url=_rate_limit_storage(),
        rate_limit_key_prefix=_env("RATE_LIMIT_KEY_PREFIX") or defaults["rate_limit_key_prefix"],
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
