"""Delivery providers: one module per vendor behind the same `send()`."""

from __future__ import annotations

from common.config import Settings
from workers.providers.base import Provider
from workers.providers.sandbox import SandboxProvider


def provider_for(channel: str, config: Settings) -> Provider:
    """The provider that delivers `channel` (the sandbox until real vendors are configured)."""
    return SandboxProvider(channel, config.outbox_dir, timeout=config.provider_timeout)
