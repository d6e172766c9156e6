"""How a service's settings look in answers: as saved, as in force, and each version's changes."""

from __future__ import annotations

import uuid
from typing import Any

from api.recipients.schema import Channel, RecipientQuietHours
from api.reminders.schema import describe
from api.response_model import ResponseModel, Timestamp, body, iso
from api.service_settings.schema import EmailSender, SmsSender
from common.config import Settings
from common.service_settings.models import ServiceSettingsVersion
from common.service_settings.values import ServiceSettings


class SavedSettings(ResponseModel):
    """What the service saved, as PUT takes it; null means Herald's default."""

    timezone: str | None
    quiet_hours: RecipientQuietHours | None
    locale: str | None
    email: EmailSender | None
    sms: SmsSender | None
    reminder_offsets: dict[Channel, list[str]] | None
    disabled_channels: list[Channel] | None


class SettingsInForce(ResponseModel):
    """Every setting's value now: the saved one, else Herald's default."""

    timezone: str | None
    quiet_hours: RecipientQuietHours | None
    locale: str
    email: EmailSender
    sms: SmsSender
    reminder_offsets: dict[Channel, list[str]]
    enabled_channels: list[Channel]
    disabled_channels: list[Channel]


class SavedBy(ResponseModel):
    api_key_id: uuid.UUID
    api_key_prefix: str


class ServiceSettingsView(ResponseModel):
    version: int  # 0: never saved
    updated_at: Timestamp | None
    updated_by: SavedBy | None
    settings: SavedSettings
    effective: SettingsInForce


class Change(ResponseModel):
    field: str
    # Typed loosely: each field has its own shape (see SavedSettings).
    before: Any = None
    after: Any = None


class SettingsVersion(ResponseModel):
    version: int
    created_at: Timestamp | None
    updated_by: SavedBy
    changes: list[Change]
    settings: SavedSettings


class SettingsVersions(ResponseModel):
    versions: list[SettingsVersion]  # newest first


def _durations(offsets: dict | None) -> dict | None:
    if offsets is None:
        return None
    return {channel: [describe(seconds) for seconds in values] for channel, values in offsets.items()}


def _shown(field: str, value: Any) -> Any:
    """A stored field's value as PUT takes it (offsets as durations)."""
    return _durations(value) if field == "reminder_offsets" else value


def saved(stored: dict) -> SavedSettings:
    return SavedSettings(**{name: _shown(name, stored.get(name)) for name in SavedSettings.model_fields})


def _window(in_force: ServiceSettings) -> RecipientQuietHours | None:
    window = in_force.quiet_hours
    if window is None:
        return None
    return RecipientQuietHours(start=window.start.strftime("%H:%M"), end=window.end.strftime("%H:%M"))


def in_force_view(in_force: ServiceSettings, config: Settings, channels: tuple[str, ...]
                  ) -> SettingsInForce:
    twilio = config.twilio
    deployment_sender = (twilio.messaging_service_sid or twilio.from_number) if twilio else None
    return SettingsInForce(
        timezone=in_force.timezone,
        quiet_hours=_window(in_force),
        locale=in_force.locale,
        email=EmailSender(from_name=in_force.email_from_name, reply_to=in_force.email_reply_to),
        sms=SmsSender(sender=in_force.sms_sender or deployment_sender),
        reminder_offsets=_durations(dict(in_force.reminder_offsets)),
        enabled_channels=[name for name in channels if in_force.channel_enabled(name)],
        disabled_channels=[name for name in channels if not in_force.channel_enabled(name)],
    )


def _saved_by(version: ServiceSettingsVersion) -> SavedBy:
    return SavedBy(api_key_id=version.api_key_id, api_key_prefix=version.api_key_prefix)


def settings_body(latest: ServiceSettingsVersion | None, in_force: ServiceSettings,
                  config: Settings, channels: tuple[str, ...]) -> dict:
    return body(ServiceSettingsView(
        version=in_force.version,
        updated_at=iso(latest.created_at) if latest else None,
        updated_by=_saved_by(latest) if latest else None,
        settings=saved(latest.settings if latest else {}),
        effective=in_force_view(in_force, config, channels),
    ))


def versions_body(versions: list[ServiceSettingsVersion]) -> dict:
    return body(SettingsVersions(versions=[
        SettingsVersion(
            version=v.version, created_at=iso(v.created_at), updated_by=_saved_by(v),
            changes=[Change(field=c["field"], before=_shown(c["field"], c["before"]),
                            after=_shown(c["field"], c["after"])) for c in v.changes],
            settings=saved(v.settings))
        for v in versions]))
