"""Settings come from the environment, with defaults that run the embedded setup."""

from datetime import timedelta

import pytest

from common.config import ConfigError, load_settings


def test_defaults_run_the_embedded_setup(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "BROKER_URL", "SMTP_HOST", "FCM_CREDENTIALS_FILE",
                 "FCM_CREDENTIALS_JSON", "TWILIO_ACCOUNT_SID", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HERALD_VAR_DIR", str(tmp_path))

    config = load_settings()

    assert config.database_url == f"sqlite:///{tmp_path / 'herald.db'}"
    assert config.embedded_broker
    assert (config.fcm, config.smtp, config.twilio, config.telegram) == (None, None, None, None)
    assert config.eta_horizon == timedelta(minutes=10)


def test_durations_are_read_in_seconds(monkeypatch):
    monkeypatch.setenv("ETA_HORIZON_SECONDS", "3")
    monkeypatch.setenv("LOST_LEASE_FAILS_CHANNELS", "sms, email")

    config = load_settings()

    assert config.eta_horizon == timedelta(seconds=3)
    assert config.fail_on_lost_lease("sms") and not config.fail_on_lost_lease("push")


@pytest.mark.parametrize("environment, named", [
    ({"FCM_CREDENTIALS_FILE": "/k.json"}, "FCM_PROJECT_ID"),
    ({"SMTP_HOST": "mail.example.com"}, "EMAIL_FROM"),
    ({"SMTP_HOST": "mail", "EMAIL_FROM": "a@b.c", "SMTP_SECURITY": "tls"}, "SMTP_SECURITY"),
    ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_AUTH_TOKEN"),
])
def test_a_half_configured_provider_names_the_missing_variable(monkeypatch, environment, named):
    for name in ("FCM_PROJECT_ID", "EMAIL_FROM", "TWILIO_AUTH_TOKEN", "SMTP_SECURITY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_secrets_stay_out_of_the_settings_repr(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "very-secret-token")
    monkeypatch.setenv("SMTP_HOST", "mail")
    monkeypatch.setenv("EMAIL_FROM", "a@b.c")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAsecret-telegram-bot-token-value-xyz")

    config = load_settings()
    text = repr(config) + str(config)

    assert "very-secret-token" not in text and "hunter2" not in text
    assert "secret-telegram-bot-token" not in text


def test_a_bot_token_sends_telegram_through_the_bot_api_and_none_through_the_sandbox(monkeypatch):
    from common import channels

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    telegram = channels.channel("telegram")
    assert telegram.provider_name(load_settings()) == "sandbox"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAsecret-telegram-bot-token-value-xyz")

    config = load_settings()

    assert telegram.provider_name(config) == "telegram"
    assert config.telegram.api_base == "https://api.telegram.org"
    assert config.telegram.bot_token.get_secret_value() == "123456789:AAsecret-telegram-bot-token-value-xyz"


@pytest.mark.parametrize("name, value", [("RELAY_BATCH", "0"), ("RELAY_BATCH", "-5"),
                                         ("RELAY_RUN_SECONDS", "-1")])
def test_a_relay_chunk_or_run_that_could_not_make_progress_is_refused_at_start(
        monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_the_webhook_retry_schedule_is_read_as_waits_in_seconds(monkeypatch):
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE_SECONDS", "1, 2.5,60")

    assert load_settings().webhook_retry_schedule == (1.0, 2.5, 60.0)


@pytest.mark.parametrize("value", ["soon", "5,-1", ","])
def test_a_webhook_retry_schedule_that_is_not_waits_is_refused_at_start(monkeypatch, value):
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE_SECONDS", value)

    with pytest.raises(ConfigError, match="webhook_retry_schedule|WEBHOOK_RETRY_SCHEDULE_SECONDS"):
        load_settings()
