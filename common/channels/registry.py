"""The channel registry: one descriptor per channel, and the one list of channels.

Everything that differs between channels (queue, address check, content rules,
stored address, log masking, providers) is asked of a `Channel` found here by
name. The built-in channels are the modules in `BUILT_IN`; a deployment (or a
test) adds its own with HERALD_EXTRA_CHANNELS, a comma-separated list of
modules each defining `CHANNEL`, read once when the registry is first used.
Providers are named by "module:function" and imported only when a worker asks,
so the API never imports a vendor library. The registry is first used while
the topology is imported, so a channel module imports only the registry and
the standard library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from common.config import Settings

BUILT_IN = ("common.channels.push", "common.channels.email", "common.channels.sms",
            "common.channels.inapp")
EXTRA_CHANNELS_VARIABLE = "HERALD_EXTRA_CHANNELS"
SANDBOX = "sandbox"
# Every channel without a vendor of its own delivers to the outbox file.
SANDBOX_FACTORY = "workers.providers.sandbox:from_settings"

# (content, options) -> (problems, size problems), each {field: problem}
ContentCheck = Callable[[Mapping[str, Any], Mapping[str, Any] | None],
                        tuple[dict[str, str], dict[str, str]]]


@dataclass(frozen=True)
class Channel:
    name: str  # also its queue and routing key; at most 8 characters (the column)
    address_problem: Callable[[str], str | None]  # None when the address is fine
    limits: Mapping[str, int]  # content field -> its largest size; no other field is allowed
    required: frozenset[str]
    stored_addresses: Callable[[Any], list]  # a stored Recipient -> its addresses on this channel
    mask: Callable[[str], str]  # an address as a log line may show it
    # The content field kept in the notification's `title` column and shown under its own name.
    title_field: str | None = None
    content_check: ContentCheck | None = None  # checks beyond the limits (a vendor's own rules)
    takes_options: bool = False  # whether a request's `options` apply (push: ttl, collapse key)
    reports_segments: bool = False  # whether the provider bills in segments (SMS)
    # Content fields kept in the notification's `options` column (in-app: action_url).
    content_options: frozenset[str] = frozenset()
    addressed_by_id: bool = False  # its address is the caller's id for a recipient (in-app)
    quiet_hours_apply: bool = True  # False: delivered at once, whatever the recipient's quiet hours
    # The vendor for live keys, used when `vendor_settings` (an attribute of Settings) is set,
    # or always when the channel names no settings (in-app: Herald's own inbox).
    vendor: str | None = None
    vendor_settings: str | None = None
    vendor_factory: str | None = None  # "module:function(config, channel) -> Provider"
    sandbox_factory: str = SANDBOX_FACTORY

    @property
    def queue(self) -> str:
        return self.name

    @property
    def routing_key(self) -> str:
        return self.name

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.limits)

    def provider_name(self, config: Settings) -> str:
        """Which provider delivers this channel for live keys: its vendor, or the sandbox."""
        configured = (self.vendor_settings is None
                      or getattr(config, self.vendor_settings) is not None)
        return self.vendor if configured and self.vendor else SANDBOX

    def build_provider(self, config: Settings, sandbox: bool = False):
        """A new provider for this channel: the sandbox for test keys and unconfigured vendors."""
        use_vendor = not sandbox and self.provider_name(config) != SANDBOX
        return _imported(self.vendor_factory if use_vendor else self.sandbox_factory)(config, self.name)


def _imported(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


_channels: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    if channel.name in _channels and _channels[channel.name] is not channel:
        raise ValueError(f"channel {channel.name!r} is registered twice")
    _channels[channel.name] = channel
    return channel


def _loaded() -> dict[str, Channel]:
    if not _channels:
        from common.config import settings  # the one settings object, read once at start

        extra = settings().extra_channels
        # All or nothing: a module that fails to import must not leave a registry without it.
        found = [import_module(module).CHANNEL for module in (*BUILT_IN, *extra)]
        for channel in found:
            register(channel)
    return _channels


def channel(name: str) -> Channel:
    """The channel called `name`; KeyError for a name no module registered."""
    return _loaded()[name]


def names() -> tuple[str, ...]:
    return tuple(_loaded())


def all_channels() -> tuple[Channel, ...]:
    return tuple(_loaded().values())
