"""The template tables: a service's template keys and their immutable versions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.db import db
from common.models import JSONB, UTCDateTime, utcnow


class Template(db.Model):
    """A service's template key; `current_version` is what a send without a version uses."""

    __tablename__ = "templates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    current_version: Mapped[int] = mapped_column(Integer)
    # Retired keys send nothing new; notifications already made keep their rendered text.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("service", "key", name="uq_templates_service_key"),)


class TemplateVersion(db.Model):
    """One PUT of a template, never changed afterwards."""

    __tablename__ = "template_versions"

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Locale tags in the order given: the first is the last resort of the fallback.
    locale_order: Mapped[list] = mapped_column(JSONB)
    # {locale: {channel: {field: source}}}; a `data` field holds {key: source}.
    content: Mapped[dict] = mapped_column(JSONB)
    variables: Mapped[list] = mapped_column(JSONB)  # the names the sources use, sorted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
