"""Saving a service's settings as a new version, and reading the versions back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from common.db import db
from common.errors import Conflict
from common.models import ApiKey
from common.service_settings import latest_version
from common.service_settings.models import ServiceSettingsVersion
from common.service_settings.values import FIELDS

# PUTs racing for the same next version number: each loss means another PUT
# was saved, so a PUT loses at most once per concurrent rival.
_SAVE_ATTEMPTS = 20
MAX_VERSIONS_LISTED = 100


def changes_between(before: dict, after: dict) -> list[dict]:
    """Each field whose value differs, with its old and new value, in the fields' order."""
    return [{"field": name, "before": before.get(name), "after": after.get(name)}
            for name in FIELDS if before.get(name) != after.get(name)]


def save_settings(api_key: ApiKey, stored: dict, now: datetime) -> ServiceSettingsVersion:
    """Commit `stored` as the service's next version, recording what changed and which key saved it."""
    for _ in range(_SAVE_ATTEMPTS):
        latest = latest_version(api_key.service)
        version = ServiceSettingsVersion(
            service=api_key.service, version=(latest.version if latest else 0) + 1, settings=stored,
            changes=changes_between(latest.settings if latest else {}, stored),
            api_key_id=api_key.id, api_key_prefix=api_key.key_prefix, created_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(version)
        except IntegrityError:
            continue  # a concurrent PUT took this number: compare against its version instead
        db.session.commit()
        return version
    # Nothing was written: the caller may send the same PUT again.
    raise Conflict("other saves of these settings kept landing first; send the PUT again",
                   code="concurrent_update")


def list_versions(service: str) -> list[ServiceSettingsVersion]:
    """The service's newest versions first, at most MAX_VERSIONS_LISTED."""
    return list(db.session.execute(
        select(ServiceSettingsVersion)
        .where(ServiceSettingsVersion.service == service)
        .order_by(ServiceSettingsVersion.version.desc())
        .limit(MAX_VERSIONS_LISTED)
    ).scalars())
