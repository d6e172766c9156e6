"""Delivery providers: one module per vendor behind the same `send()`.

Each worker process keeps one provider per channel (its SMTP connection, its
FCM token, its Twilio client), built on first use. A channel without vendor
settings, and every notification made with a test key, goes to the sandbox.
"""

from __future__ import annotations

from common.config import Settings
from workers.providers.base import Provider
from workers.providers.fcm import FcmProvider
from workers.providers.sandbox import SandboxProvider
from workers.providers.smtp import SmtpProvider
from workers.providers.twilio_sms import TwilioSmsProvider


def _vendor(channel: str, config: Settings) -> Provider:
    match config.provider_of(channel):
        case "fcm":
            return FcmProvider(config.fcm, timeout=config.provider_timeout,
                               retry_after_cap=config.retry_after_cap)
        case "smtp":
            return SmtpProvider(config.smtp, timeout=config.provider_timeout)
        case "twilio":
            return TwilioSmsProvider(config.twilio, timeout=config.provider_timeout,
                                     retry_after_cap=config.retry_after_cap)
    return SandboxProvider(channel, config.outbox_dir, timeout=config.provider_timeout)


# (channel, settings, sandbox) -> the provider this process keeps for it
_kept: dict[tuple[str, Settings, bool], Provider] = {}


def provider_for(channel: str, config: Settings, sandbox: bool = False) -> Provider:
    """The provider that delivers `channel`: the sandbox for test keys, else the vendor."""
    key = (channel, config, sandbox)
    if key not in _kept:
        _kept[key] = (SandboxProvider(channel, config.outbox_dir, timeout=config.provider_timeout)
                      if sandbox else _vendor(channel, config))
    return _kept[key]


def check_configuration(config: Settings) -> None:
    """Build every configured vendor once, so bad settings stop a worker at start."""
    for channel in ("push", "email", "sms"):
        _vendor(channel, config)


def close_all() -> None:
    """Close what providers keep open (the SMTP connection) when the process ends."""
    for provider in _kept.values():
        if hasattr(provider, "close"):
            provider.close()
    _kept.clear()
