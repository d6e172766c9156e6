"""The vendors' settings (FCM, SMTP, Twilio, Telegram): each group present only when its variables name one."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, SecretStr

from common.environment import ConfigError, FromEnvironment


class FcmSettings(FromEnvironment):
    """Firebase Cloud Messaging (HTTP v1) with a service account."""

    project_id: str | None = Field(None, alias="FCM_PROJECT_ID")
    credentials_file: str | None = Field(None, alias="FCM_CREDENTIALS_FILE")
    credentials_json: str | None = Field(None, alias="FCM_CREDENTIALS_JSON", repr=False)
    # Only for tests and emulators: where the FCM v1 API lives instead of Google.
    endpoint: str | None = Field(None, alias="FCM_ENDPOINT")

    @property
    def configured(self) -> bool:
        return bool(self.credentials_file or self.credentials_json)

    def missing(self) -> str | None:
        return None if self.project_id else "FCM_PROJECT_ID is required with FCM credentials"


SmtpSecurity = Literal["starttls", "ssl", "plain"]
SMTP_SECURITY_MODES: tuple[str, ...] = get_args(SmtpSecurity)
_SMTP_DEFAULT_PORTS = {"ssl": 465, "starttls": 587}


class SmtpSettings(FromEnvironment):
    host: str | None = Field(None, alias="SMTP_HOST")
    security: SmtpSecurity = Field("starttls", alias="SMTP_SECURITY")
    port: int = Field(default_factory=lambda data: _SMTP_DEFAULT_PORTS.get(data["security"], 25),
                      alias="SMTP_PORT")
    from_address: str | None = Field(None, alias="EMAIL_FROM")
    from_name: str | None = Field(None, alias="EMAIL_FROM_NAME")
    reply_to: str | None = Field(None, alias="EMAIL_REPLY_TO")
    username: str | None = Field(None, alias="SMTP_USERNAME")
    password: str | None = Field(None, alias="SMTP_PASSWORD", repr=False)
    # A CA bundle to verify the server with (a private CA); the system's by default.
    ca_file: str | None = Field(None, alias="SMTP_CA_FILE")

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def missing(self) -> str | None:
        return None if self.from_address else "EMAIL_FROM is required with SMTP_HOST"


class TwilioSettings(FromEnvironment):
    account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    auth_token: str | None = Field(None, alias="TWILIO_AUTH_TOKEN", repr=False)
    from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    messaging_service_sid: str | None = Field(None, alias="TWILIO_MESSAGING_SERVICE_SID")
    # Herald's public base URL: Twilio posts delivery receipts under it.
    public_base_url: str | None = Field(None, alias="HERALD_PUBLIC_URL")
    # Only for tests: where the Twilio REST API lives instead of api.twilio.com.
    api_base: str | None = Field(None, alias="TWILIO_API_BASE")

    @property
    def configured(self) -> bool:
        return bool(self.account_sid)

    def missing(self) -> str | None:
        return None if self.auth_token else "TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID"


TELEGRAM_API = "https://api.telegram.org"


class TelegramSettings(FromEnvironment):
    """A Telegram bot, through the Bot API."""

    # Secret: it is the bot's whole credential and travels in every request's path.
    bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    # Only for tests and a self-hosted Bot API server: where the Bot API lives.
    api_base: str = Field(TELEGRAM_API, alias="TELEGRAM_API_BASE")

    @property
    def configured(self) -> bool:
        return bool(self.bot_token and self.bot_token.get_secret_value())

    def missing(self) -> str | None:
        return None


def only_if_configured(kind):
    """A vendor's settings when its variables name one; None means the sandbox delivers.

    Read from the environment, a half-configured vendor stops the start; built
    in code (tests), it is taken as given and the provider reports the problem.
    """
    def read():
        vendor = kind()
        if not vendor.configured:
            return None
        if problem := vendor.missing():
            raise ConfigError(problem)
        return vendor
    return read
