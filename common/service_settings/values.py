"""A service's settings in force: what it saved, over Herald's defaults, as one typed value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from common.config import Settings
from common.quiet_hours import QuietHours

# The fields of a saved version (the PUT body); an absent or null one takes Herald's default.
FIELDS = ("timezone", "quiet_hours", "locale", "email", "sms", "reminder_offsets",
          "disabled_channels")


@dataclass(frozen=True)
class ServiceSettings:
    """Every setting's effective value for one service (Herald's default where it chose none)."""

    service: str
    version: int  # 0: the service never saved its settings
    timezone: str | None  # None: a recipient without a timezone gets no quiet hours
    quiet_hours: QuietHours | None  # None: no window; start == end is also none
    locale: str
    email_from_name: str | None
    email_reply_to: str | None
    sms_sender: str | None  # a number or messaging service SID; None: the deployment's own
    # Seconds before the event, per channel, for reminder requests that give none.
    reminder_offsets: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    disabled_channels: frozenset[str] = frozenset()
    # Per channel, what the service chose for its provider (sender name, Reply-To,
    # SMS sender): carried on each notification row, so the pool needs no lookup.
    delivery_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def channel_enabled(self, channel: str) -> bool:
        return channel not in self.disabled_channels


def _window(stored: dict | None, default: QuietHours | None) -> QuietHours | None:
    if stored is None:
        return default
    return QuietHours.parse(stored["start"], stored["end"])


def _delivery_options(stored: dict, config: Settings) -> dict[str, dict[str, str]]:
    """Only what the service chose, and only senders the deployment still allows."""
    email = {name: value for name, value in (stored.get("email") or {}).items() if value}
    sms = {name: value for name, value in (stored.get("sms") or {}).items()
           if value and value in config.allowed_sms_senders}
    return {channel: options for channel, options in (("email", email), ("sms", sms)) if options}


def settings_in_force(service: str, version: int, stored: dict, config: Settings) -> ServiceSettings:
    """The saved record `stored` (a version's `settings`) over Herald's defaults from `config`."""
    smtp = config.smtp
    options = _delivery_options(stored, config)
    email, sms = options.get("email", {}), options.get("sms", {})
    return ServiceSettings(
        service=service,
        version=version,
        timezone=stored.get("timezone"),
        quiet_hours=_window(stored.get("quiet_hours"), config.quiet_hours),
        locale=stored.get("locale") or config.default_locale,
        email_from_name=email.get("from_name") or (smtp.from_name if smtp else None),
        email_reply_to=email.get("reply_to") or (smtp.reply_to if smtp else None),
        sms_sender=sms.get("sender"),
        reminder_offsets={channel: tuple(offsets)
                          for channel, offsets in (stored.get("reminder_offsets") or {}).items()},
        disabled_channels=frozenset(stored.get("disabled_channels") or ()),
        delivery_options=options,
    )
