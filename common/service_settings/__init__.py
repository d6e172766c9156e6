"""A service's own settings (timezone, quiet hours, locale, senders, reminders, channels), versioned.

`effective(service)` is what the rest of Herald asks: the latest saved version
over Herald's defaults, as one typed `ServiceSettings`.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from common.config import Settings
from common.db import db
from common.service_settings.models import ServiceSettingsVersion
from common.service_settings.values import ServiceSettings, settings_in_force


def latest_version(service: str) -> ServiceSettingsVersion | None:
    """The version in force (the highest), or None when the service never saved any."""
    return db.session.execute(
        select(ServiceSettingsVersion)
        .where(ServiceSettingsVersion.service == service)
        .order_by(ServiceSettingsVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def effective(service: str, config: Settings | None = None) -> ServiceSettings:
    """Every setting's value for `service`: its latest saved version, else Herald's default.

    `config` defaults to the settings bound to the current Flask app.
    """
    config = config or current_app.config["HERALD_SETTINGS"]
    latest = latest_version(service)
    if latest is None:
        return settings_in_force(service, 0, {}, config)
    return settings_in_force(service, latest.version, latest.settings, config)
