"""Sections of Herald's settings, mixed into the one `common.config.Settings`.

Read once, at start, with the rest: code reads `config.webhook_timeout` like
any other setting. They live here to keep each group's fields and checks
together (and `common/config.py` short).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from common.environment import FromEnvironment, Seconds, flag, items, seconds
from common.inbox.secret import local_secret


class WebhookSettings(FromEnvironment):
    """Status callbacks to callers."""

    # Status callbacks (common/webhooks/): the waits between attempts (each
    # with jitter; after the last the message fails), each POST's timeout,
    # how long a claimed message is held, how long an endpoint may fail before
    # it is disabled, how long a rotated-out secret still signs, and how long
    # a process trusts what it read of a service's endpoints.
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        "5,300,1800,7200,18000,36000,36000", validate_default=True,
        alias="WEBHOOK_RETRY_SCHEDULE_SECONDS")
    webhook_timeout: float = Field(10.0, gt=0, alias="WEBHOOK_TIMEOUT_SECONDS")
    webhook_lease: Seconds = Field(timedelta(seconds=60), alias="WEBHOOK_LEASE_SECONDS")
    webhook_disable_after: Seconds = Field(timedelta(days=5), alias="WEBHOOK_DISABLE_AFTER_SECONDS")
    webhook_secret_overlap: Seconds = Field(timedelta(hours=24),
                                            alias="WEBHOOK_SECRET_OVERLAP_SECONDS")
    webhook_endpoint_cache: float = Field(5.0, ge=0, alias="WEBHOOK_ENDPOINT_CACHE_SECONDS")
    # Development and tests only: http:// and loopback or private addresses allowed.
    webhook_allow_private: bool = Field(False, alias="WEBHOOK_ALLOW_PRIVATE_URLS")

    _webhook_seconds = field_validator("webhook_lease", "webhook_disable_after", "webhook_secret_overlap",
                                  mode="before")(lambda value: seconds(value))
    _webhook_flag = field_validator("webhook_allow_private", mode="before")(lambda value: flag(value))

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _wait_list(cls, value):
        if isinstance(value, str):
            waits = tuple(float(w) for w in items(value))
            if not waits or min(waits) < 0:
                raise ValueError("expected waits in seconds such as 5,300,1800")
            return waits
        return value


class InboxSettings(FromEnvironment):
    """The in-app inbox, its tokens, its stream and its demo page."""

    # In-app inbox (common/inbox): end users' tokens are signed with this secret
    # (HS256). Unset, each machine makes one under var/ (make run); set it,
    # the same for the API and the stream, in production.
    inbox_token_secret: str | None = Field(None, alias="INBOX_TOKEN_SECRET", repr=False,
                                           min_length=32)
    inbox_token_ttl: Seconds = Field(timedelta(hours=1), alias="INBOX_TOKEN_TTL_SECONDS")
    # A stream sends a comment this often, so proxies keep an idle connection open.
    inbox_stream_keepalive: float = Field(25.0, gt=0, alias="INBOX_STREAM_KEEPALIVE_SECONDS")
    # On the embedded broker the stream looks at the database this often instead.
    inbox_stream_poll: float = Field(1.0, gt=0, alias="INBOX_STREAM_POLL_SECONDS")

    # The inbox demo page at /demo/inbox (api/browser/): off in production, on in `make run`.
    inbox_demo: bool = Field(False, alias="INBOX_DEMO")
    # Where the demo page's browser opens the inbox stream; none: /v1/inbox/stream on the
    # API's own origin (a proxy in front routes it to the stream processes).
    inbox_demo_stream_url: str | None = Field(None, alias="INBOX_DEMO_STREAM_URL")

    _inbox_seconds = field_validator("inbox_token_ttl", mode="before")(lambda value: seconds(value))
    _inbox_flag = field_validator("inbox_demo", mode="before")(lambda value: flag(value))

    def inbox_signing_secret(self) -> str:
        """INBOX_TOKEN_SECRET, or the one this machine keeps under var/ (make run)."""
        return self.inbox_token_secret or local_secret(self.var_dir)
