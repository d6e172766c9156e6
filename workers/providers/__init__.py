"""Delivery providers: one module per vendor behind the same `send()`.

Each worker process keeps one provider per channel (its SMTP connections, its
FCM token, its Twilio client), built on first use and shared by the pool's
threads: every provider is safe to call from many threads at once. Which one is the channel
registry's choice (common/channels): a channel without vendor settings, and
every notification made with a test key, goes to the sandbox.
"""

from __future__ import annotations

import threading

from common import channels
from common.config import Settings
from workers.providers.base import Provider

# (channel, settings, sandbox) -> the provider this process keeps for it
_kept: dict[tuple[str, Settings, bool], Provider] = {}
_building = threading.Lock()  # two threads' first deliveries build one provider, not two


def provider_for(channel: str, config: Settings, sandbox: bool = False) -> Provider:
    """The provider that delivers `channel`: the sandbox for test keys, else the vendor."""
    key = (channel, config, sandbox)
    provider = _kept.get(key)
    if provider is None:
        with _building:
            provider = _kept.get(key)
            if provider is None:
                provider = _kept[key] = channels.channel(channel).build_provider(config, sandbox)
    return provider


def check_configuration(config: Settings) -> None:
    """Build every configured vendor once, so bad settings stop a worker at start."""
    for channel in channels.all_channels():
        channel.build_provider(config)


def close_all() -> None:
    """Close what providers keep open (the SMTP connections) when the process ends."""
    for provider in list(_kept.values()):
        if hasattr(provider, "close"):
            provider.close()
    _kept.clear()
