"""How templates look in answers: a version with its content and variables, the list, a preview."""

from __future__ import annotations

from typing import Any

from api.response_model import ResponseModel, Timestamp, body, iso
from common.templates.models import Template, TemplateVersion

# {locale: {channel: {field: source}}}: each channel's fields are the registry's.
ContentBlocks = dict[str, dict[str, dict[str, Any]]]


class VersionEntry(ResponseModel):
    version: int
    created_at: Timestamp | None


class TemplateSummary(ResponseModel):
    key: str
    version: int  # the current version
    locales: list[str]  # in the order given; the first is the last-resort fallback
    channels: list[str]
    variables: list[str]  # every name the sources use, found when the version was saved
    updated_at: Timestamp | None


class TemplateView(TemplateSummary):
    """A version of a template: the current one unless `?version=` asked for another."""

    current_version: int
    content: ContentBlocks
    created_at: Timestamp | None  # when this version was saved
    versions: list[VersionEntry]


class TemplateList(ResponseModel):
    data: list[TemplateSummary]


class TemplatePreview(ResponseModel):
    key: str
    version: int
    channel: str
    locale: str  # the locale the fallback chose
    timezone: str
    content: dict[str, Any]  # the rendered fields; a missing variable shows as `{{ name }}`
    missing: list[str]  # variables the block uses that the personalisation did not give


def _channels(version: TemplateVersion) -> list[str]:
    return sorted({name for blocks in version.content.values() for name in blocks})


def _summary_fields(template: Template, version: TemplateVersion) -> dict:
    return dict(key=template.key, version=version.version, locales=version.locale_order,
                channels=_channels(version), variables=version.variables,
                updated_at=iso(template.updated_at))


def template_body(template: Template, version: TemplateVersion,
                  versions: list[TemplateVersion]) -> dict:
    return body(TemplateView(
        **_summary_fields(template, version), current_version=template.current_version,
        content={tag: version.content[tag] for tag in version.locale_order},
        created_at=iso(version.created_at),
        versions=[VersionEntry(version=v.version, created_at=iso(v.created_at)) for v in versions],
    ))


def template_list(found: list[tuple[Template, TemplateVersion]]) -> dict:
    return body(TemplateList(data=[TemplateSummary(**_summary_fields(t, v)) for t, v in found]))


def preview_body(key: str, version: int, channel: str, locale: str, timezone: str,
                 content: dict, missing: list[str]) -> dict:
    return body(TemplatePreview(key=key, version=version, channel=channel, locale=locale,
                                timezone=timezone, content=content, missing=missing))
