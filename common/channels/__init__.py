"""The channels Herald delivers on (push, email, sms, telegram, and any a deployment adds), one descriptor each."""

from common.channels.registry import Channel, all_channels, channel, names, register

__all__ = ["Channel", "all_channels", "channel", "names", "register"]
