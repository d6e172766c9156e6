"""What the API does with templates: save a version, find, list, retire, and the version a send uses.

Every PUT adds a version, numbered from 1 and never changed; the template's
`current_version` moves to it. A retired key is hidden and sends nothing new
(its notifications keep their rendered text); a PUT on it makes a new version
and brings the key back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.templates.reference import TemplateUse
from api.templates.schema import TemplateDraft
from common.db import db
from common.errors import Invalid, NotFound
from common.templates.models import Template, TemplateVersion


def _template(service: str, key: str, *, for_update: bool = False) -> Template | None:
    query = select(Template).where(Template.service == service, Template.key == key)
    if for_update:  # two PUTs of one key take turns for the next version number
        query = query.with_for_update()
    return db.session.execute(query).scalar_one_or_none()


def put_template(service: str, key: str, draft: TemplateDraft,
                 now: datetime) -> tuple[Template, TemplateVersion, bool]:
    """Add a version (commits). Returns (template, its new version, whether the key is new)."""
    for attempt in range(2):
        template = _template(service, key, for_update=True)
        created = template is None
        if created:
            template = Template(service=service, key=key, current_version=0, created_at=now)
            db.session.add(template)
        template.current_version += 1
        template.retired_at = None
        template.updated_at = now
        db.session.flush()
        version = TemplateVersion(template_id=template.id, version=template.current_version,
                                  locale_order=draft.locale_order, content=draft.content,
                                  variables=draft.variables, created_at=now)
        db.session.add(version)
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent first PUT of the same key won: add after it
            db.session.rollback()
            if attempt:
                raise
            continue
        return template, version, created
    raise AssertionError("unreachable")


def find_template(service: str, key: str) -> Template:
    template = _template(service, key)
    if template is None or template.retired_at is not None:
        raise NotFound("no such template")
    return template


def find_version(template: Template, version: int | None) -> TemplateVersion:
    found = db.session.get(TemplateVersion, (template.id, version or template.current_version))
    if found is None:
        raise NotFound(f"template {template.key!r} has no version {version}")
    return found


def versions_of(template: Template) -> list[TemplateVersion]:
    return list(db.session.execute(
        select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        .order_by(TemplateVersion.version)).scalars())


def list_templates(service: str) -> list[tuple[Template, TemplateVersion]]:
    """The service's live templates by key, each with its current version."""
    return list(db.session.execute(
        select(Template, TemplateVersion)
        .join(TemplateVersion, (TemplateVersion.template_id == Template.id)
              & (TemplateVersion.version == Template.current_version))
        .where(Template.service == service, Template.retired_at.is_(None))
        .order_by(Template.key)).all())


def retire_template(service: str, key: str, now: datetime) -> None:
    template = find_template(service, key)
    template.retired_at = now
    template.updated_at = now
    db.session.commit()


class TemplateVersions:
    """The versions a request (or a batch of them) sends with, each read once."""

    def __init__(self, service: str):
        self.service = service
        self._found: dict[tuple[str, int | None], TemplateVersion] = {}

    def version(self, use: TemplateUse) -> TemplateVersion:
        """The version to render; Invalid naming `template.key` or `template.version` otherwise."""
        wanted = (use.key, use.version)
        if wanted not in self._found:
            try:
                template = find_template(self.service, use.key)
            except NotFound:
                raise Invalid({"template.key": "no such template (or it was retired)"}) from None
            try:
                self._found[wanted] = find_version(template, use.version)
            except NotFound:
                raise Invalid({"template.version": f"no such version (the current one is "
                                                   f"{template.current_version})"}) from None
        return self._found[wanted]


def stored_version(service: str, key: str, version: int) -> TemplateVersion | None:
    """A version a notification was rendered from, retired or not."""
    return db.session.execute(
        select(TemplateVersion).join(Template, Template.id == TemplateVersion.template_id)
        .where(Template.service == service, Template.key == key,
               TemplateVersion.version == version)).scalar_one_or_none()
