"""The service settings table: every version a service saved, never updated."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.db import db
from common.models import JSONB, UTCDateTime, utcnow


class ServiceSettingsVersion(db.Model):
    """One saved version of a service's settings: the whole record, what changed, and who saved it."""

    __tablename__ = "service_settings_versions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per service; the highest is in force
    # The settings as saved (the PUT body, normalised); absent fields take Herald's defaults.
    settings: Mapped[dict] = mapped_column(JSONB)
    # [{"field", "before", "after"}] against the version before.
    changes: Mapped[list] = mapped_column(JSONB)
    # Who saved it: the API key (its id and the prefix an operator recognises).
    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", name="fk_service_settings_versions_api_key_id"))
    api_key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Also the index behind "the latest version of a service".
    __table_args__ = (UniqueConstraint("service", "version",
                                       name="uq_service_settings_versions_service_version"),)
