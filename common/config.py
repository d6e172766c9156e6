"""Herald's settings: each declared once, read from the environment once, at start.

The defaults run the embedded setup (`make run`): SQLite and kombu's
filesystem transport under `var/`, sandbox providers. Point `DATABASE_URL` and
`BROKER_URL` at PostgreSQL and RabbitMQ for the production shape. Each field's
alias is its environment variable; docs/configuration.md lists them all (a
test keeps the two in step). Only this module (through common/environment.py
and the vendor groups of common/vendor_settings.py) reads the environment.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, get_args

from limits import parse_many
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import NoDecode

from common.config_sections import InboxSettings, WebhookSettings
from common.environment import ConfigError, FromEnvironment, Seconds, flag, items, seconds
from common.locales import locale_problem
from common.quiet_hours import DEFAULT_QUIET_HOURS, QuietHours
from common.vendor_settings import (SMTP_SECURITY_MODES, FcmSettings, SmtpSettings, TelegramSettings,
                                    TwilioSettings, only_if_configured)

__all__ = ["ConfigError", "FcmSettings", "SMTP_SECURITY_MODES", "Settings", "SmtpSettings",
           "TelegramSettings", "TwilioSettings", "check_rate_limit", "load_settings", "settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


RATE_LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel",
                              "redis+cluster")

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)


class Settings(WebhookSettings, InboxSettings):
    """Every setting of every Herald process; one object, bound to the Flask and Celery apps.

    The callbacks' and the inbox's own settings are declared in their sections
    (common/config_sections.py); they read and check like the rest.
    """

    EMPTY_IS_A_VALUE = frozenset({"QUIET_HOURS", "QUORUM_QUEUES", "RATE_LIMITS_ENABLED"})

    # The embedded database, broker folders, outbox and metrics files live here.
    var_dir: Path = Field(PROJECT_ROOT / "var", alias="HERALD_VAR_DIR")
    database_url: str = Field(
        default_factory=lambda data: f"sqlite:///{data['var_dir'] / 'herald.db'}", alias="DATABASE_URL")
    broker_url: str = Field("filesystem://", alias="BROKER_URL")
    outbox_dir: Path = Field(default_factory=lambda data: data["var_dir"] / "outbox",
                             alias="OUTBOX_DIR")

    # The broker holds only what is due within this horizon; the relay
    # publishes the rest when it comes due (see DESIGN.md, ETA horizon).
    eta_horizon: Seconds = Field(timedelta(minutes=10), alias="ETA_HORIZON_SECONDS")
    # A row published this long ago, overdue and still unclaimed, counts as a
    # lost publish and is published again with a fresh token.
    republish_grace: Seconds = Field(timedelta(minutes=5), alias="REPUBLISH_GRACE_SECONDS")
    relay_interval: float = Field(2.0, alias="RELAY_INTERVAL_SECONDS")
    # Rows per relay or sweeper transaction; a run takes chunk after chunk
    # until nothing is due or it has run this long (well inside the beat
    # tick's expiry and the task time limit).
    relay_batch: int = Field(500, ge=1, alias="RELAY_BATCH")
    relay_run_seconds: float = Field(5.0, ge=0, alias="RELAY_RUN_SECONDS")
    sweep_interval: float = Field(15.0, alias="SWEEP_INTERVAL_SECONDS")

    # A claimed row is `sending` for at most this long before the sweeper
    # takes it back; it must outlast the provider timeout.
    sending_lease: Seconds = Field(timedelta(minutes=2), alias="SENDING_LEASE_SECONDS")
    provider_timeout: float = Field(10.0, alias="PROVIDER_TIMEOUT_SECONDS")
    max_attempts: int = Field(6, alias="MAX_ATTEMPTS")
    # Channels whose interrupted deliveries fail instead of being retried
    # (a retry may repeat a message the provider had already accepted).
    lost_lease_fails: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), alias="LOST_LEASE_FAILS_CHANNELS")
    # Channel modules from outside the project, loaded into the registry at start.
    extra_channels: Annotated[tuple[str, ...], NoDecode] = Field((), alias="HERALD_EXTRA_CHANNELS")
    # A channel pool runs its deliveries on this many threads of one process
    # (`threads`), each a provider call in flight; `prefork` runs one per
    # process. The database and provider connection pools are sized from it:
    # a pool started with a larger --concurrency refuses to start.
    worker_pool: Literal["threads", "prefork"] = Field("threads", alias="WORKER_POOL")
    worker_concurrency: int = Field(50, ge=1, le=1000, alias="WORKER_CONCURRENCY")
    # SMTP connections a process keeps open: email deliveries beyond it wait for one.
    smtp_connections: int = Field(8, ge=1, le=200, alias="SMTP_CONNECTIONS")
    retry_base_delay: float = Field(5.0, alias="RETRY_BASE_DELAY_SECONDS")
    # Kept well below RabbitMQ's consumer_timeout (30 min) and the horizon.
    retry_max_delay: float = Field(300.0, alias="RETRY_MAX_DELAY_SECONDS")
    # A provider's Retry-After is honoured up to this many seconds.
    retry_after_cap: float = Field(300.0, alias="RETRY_AFTER_CAP_SECONDS")

    # Real providers; None means the channel delivers through the sandbox.
    fcm: FcmSettings | None = Field(default_factory=only_if_configured(FcmSettings))
    smtp: SmtpSettings | None = Field(default_factory=only_if_configured(SmtpSettings))
    twilio: TwilioSettings | None = Field(default_factory=only_if_configured(TwilioSettings))
    telegram: TelegramSettings | None = Field(default_factory=only_if_configured(TelegramSettings))

    # The service default for quiet hours, below a recipient's and a request's
    # own; None (off) switches the default off. Releases at a window's end are
    # spread over `quiet_hours_spread`.
    quiet_hours: Annotated[QuietHours | None, NoDecode] = Field(DEFAULT_QUIET_HOURS,
                                                                alias="QUIET_HOURS")
    quiet_hours_spread: Seconds = Field(timedelta(minutes=10), alias="QUIET_HOURS_SPREAD_SECONDS")
    # The locale of a service that chose none (templates fall back to it).
    default_locale: str = Field("en", alias="DEFAULT_LOCALE")
    # SMS senders a service may choose in its settings (numbers or Twilio
    # messaging service SIDs), besides TWILIO_FROM_NUMBER or
    # TWILIO_MESSAGING_SERVICE_SID: a sender must belong to the account.
    sms_senders: Annotated[tuple[str, ...], NoDecode] = Field((), alias="SMS_SENDERS")

    publish_timeout: float = Field(5.0, alias="PUBLISH_TIMEOUT_SECONDS")
    # Quorum queues (replicated on every node of a RabbitMQ cluster); their ETAs
    # and retry countdowns then go through Celery's native delayed delivery,
    # measured working on RabbitMQ 3.10.8 as on 4.x (docs/production.md).
    quorum_queues: bool = Field(False, alias="QUORUM_QUEUES")
    idempotency_ttl: Seconds = Field(timedelta(hours=24), alias="IDEMPOTENCY_TTL_SECONDS")
    max_request_bytes: int = Field(256 * 1024, alias="MAX_REQUEST_BYTES")

    # Logs: `text` for people (make run), `json` one object per line for
    # collectors (docker-compose sets it). See common/logs.py.
    log_format: LogFormat = Field("text", alias="LOG_FORMAT")
    # A worker pool serves its Prometheus metrics on this port; 0 = off.
    worker_metrics_port: int = Field(0, alias="WORKER_METRICS_PORT")
    worker_metrics_address: str = Field("127.0.0.1", alias="WORKER_METRICS_ADDRESS")

    # Per-service request budgets (api/rate_limits.py), in the `limits`
    # notation: several windows joined by ";". The second caps a burst; the
    # minute is GOV.UK Notify's 3,000 sends. Far above a caller's normal use,
    # a few percent of one API's capacity. A key may carry its own
    # (`flask --app api keys create --write-limit ...`).
    rate_limits_enabled: bool = Field(True, alias="RATE_LIMITS_ENABLED")
    rate_limit_writes: str = Field("50/second;3000/minute", alias="RATE_LIMIT_WRITES")
    rate_limit_reads: str = Field("100/second;6000/minute", alias="RATE_LIMIT_READS")
    # memory:// counts in each process (make run); production shares one
    # Redis between all API processes: redis://host:6379/0 (it may hold a password).
    rate_limit_storage_url: str = Field("memory://", alias="RATE_LIMIT_STORAGE_URL", repr=False)
    rate_limit_key_prefix: str = Field("herald", alias="RATE_LIMIT_KEY_PREFIX")

    # Flower (workers/flowerconfig.py): workers, task history and counters
    # survive a restart, saved every minute and at shutdown. A bounded history:
    # Flower is the live view, the notification_events table is the record.
    flower_persistent: bool = Field(True, alias="FLOWER_PERSISTENT")
    flower_db: Path = Field(
        default_factory=lambda data: data["var_dir"] / "flower" / "flower-state", alias="FLOWER_DB")
    flower_state_save_interval: int = Field(60_000, alias="FLOWER_STATE_SAVE_INTERVAL")  # ms
    flower_max_tasks: int = Field(10_000, alias="FLOWER_MAX_TASKS")
    flower_max_workers: int = Field(500, alias="FLOWER_MAX_WORKERS")
    # Replaced replicas leave the dashboard a day after their last heartbeat.
    flower_purge_offline_workers: int = Field(24 * 3600, alias="FLOWER_PURGE_OFFLINE_WORKERS")

    _to_seconds = field_validator("eta_horizon", "republish_grace", "sending_lease",
                                  "quiet_hours_spread", "idempotency_ttl", mode="before")(
        lambda value: seconds(value))
    _to_flag = field_validator("quorum_queues", "rate_limits_enabled", "flower_persistent",
                               mode="before")(
        lambda value: flag(value))
    _rate_limit = field_validator("rate_limit_writes", "rate_limit_reads")(
        lambda value: check_rate_limit(value))
    _to_items = field_validator("lost_lease_fails", "sms_senders", "extra_channels", mode="before")(
        lambda value: items(value))

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if problem := locale_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _window(cls, value):
        if not isinstance(value, str):
            return value
        if value.strip().lower() in {"", "off", "none"}:
            return None
        start, separator, end = value.partition("-")
        if not separator:
            raise ValueError("must look like 22:00-08:00 or be off: expected START-END")
        try:
            return QuietHours.parse(start.strip(), end.strip())
        except ValueError as error:
            raise ValueError(f"must look like 22:00-08:00 or be off: {error}") from None

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        if value.partition("://")[0] not in RATE_LIMIT_STORAGE_SCHEMES:
            raise ValueError("must be memory:// or a redis:// URL")
        return value

    @property
    def broker_dir(self) -> Path:
        return self.var_dir / "broker"

    @property
    def metrics_dir(self) -> Path:
        """Per-start multiprocess metrics directories live under it."""
        return self.var_dir / "metrics"

    @property
    def allowed_sms_senders(self) -> frozenset[str]:
        """The senders a service may choose: SMS_SENDERS and the account's configured default."""
        defaults = (self.twilio.from_number, self.twilio.messaging_service_sid) if self.twilio else ()
        return frozenset(sender for sender in (*self.sms_senders, *defaults) if sender)

    def fail_on_lost_lease(self, channel: str) -> bool:
        return channel in self.lost_lease_fails

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")


def _explained(error: ValidationError) -> ConfigError:
    """One line per problem, each naming its environment variable."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return ConfigError("; ".join(lines))


def load_settings() -> Settings:
    """Read and check every setting from the environment; ConfigError names what is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        raise _explained(error) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read once: for entry points, which hand them on explicitly."""
    return load_settings()
