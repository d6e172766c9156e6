"""The requests of /v1/templates: a template's content blocks per locale and channel, and a preview.

    {"locales": {"en": {"sms": {"body": "Hi {{ name }}, see you {{ at | local_datetime }}"},
                        "email": {"subject": "...", "body": "...", "html": "..."}},
                 "fr": {"sms": {"body": "Bonjour {{ name }} ..."}}}}

Each block holds the content fields its channel takes (the channel registry's
fields, required ones included, each within the channel's limit); every field is
a Jinja2 template, and a mapping field (push `data`) has a template per value.
A syntax error is named by its place, like `locales.fr.sms.body`. The first
locale given is the template's last-resort fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from api.notifications.schema import Content, content_problems
from api.recipients.schema import Locale as LocaleSyntax
from api.request_parsing import validated
from api.strict_model import StrictModel, Text
from api.templates.reference import LocaleTag
from common import channels
from common.errors import Invalid, TooLarge
from common.templates.locales import normalised
from common.templates.rendering import block_variables
from common.templates.sandbox import syntax_problem

MAX_LOCALES = 50


def _known_locale(tag: str) -> str:
    # Babel formats the dates and numbers: a tag it cannot read could not be rendered.
    try:
        Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        raise PydanticCustomError("unknown_locale", "a language tag with no locale data (like en, "
                                                    "fr or fr-CA)") from None
    return tag


TemplateLocale = Annotated[LocaleSyntax, AfterValidator(_known_locale)]
Channel = Literal[channels.names()]


class TemplateBody(StrictModel):
    """A new version of the template: for each locale, a content block for each channel it serves."""

    locales: dict[TemplateLocale, dict[Channel, Content]] = Field(min_length=1, max_length=MAX_LOCALES)


class PreviewBody(StrictModel):
    """What a message rendered from the template would say; nothing is written."""

    channel: Channel
    personalisation: dict[Text, Any] | None = None
    locale: LocaleTag | None = None
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    # Whose locale and timezone to use when `locale` or `timezone` is not given.
    recipient_id: Text | None = Field(default=None, min_length=1, max_length=255)
    timezone: Text | None = Field(default=None, max_length=64)


@dataclass(frozen=True)
class TemplateDraft:
    locale_order: list[str]
    content: dict  # {locale: {channel: {field: source}}}
    variables: list[str]


def _block_problems(place: str, channel: channels.Channel, block: Content
                    ) -> tuple[dict[str, str], dict[str, str]]:
    problems, too_large = content_problems(channel, block)
    problems = {f"{place}.{name.removeprefix('content.')}": p for name, p in problems.items()}
    too_large = {f"{place}.{name.removeprefix('content.')}": p for name, p in too_large.items()}
    for field, value in block.model_dump(exclude_none=True).items():
        for key, source in (value.items() if isinstance(value, dict) else [(None, value)]):
            if isinstance(source, str) and (problem := syntax_problem(source)):
                problems[f"{place}.{field}" + (f".{key}" if key is not None else "")] = problem
    return problems, too_large


def parse_template(key: str, payload: object) -> TemplateDraft:
    body = validated(TemplateBody, payload)
    problems: dict[str, str] = {}
    too_large: dict[str, str] = {}
    seen: dict[str, str] = {}
    content = {}
    for tag, blocks in body.locales.items():
        if (same := seen.setdefault(normalised(tag), tag)) != tag:
            problems[f"locales.{tag}"] = f"the same locale as locales.{same}"
        if not blocks:
            problems[f"locales.{tag}"] = "give a content block for at least one channel"
        for name, block in blocks.items():
            block_problems, block_too_large = _block_problems(f"locales.{tag}.{name}",
                                                              channels.channel(name), block)
            problems.update(block_problems)
            too_large.update(block_too_large)
        content[tag] = {name: block.model_dump(exclude_none=True) for name, block in blocks.items()}
    if problems:
        raise Invalid(problems)
    if too_large:
        raise TooLarge(too_large)
    variables = set().union(*(block_variables(block) for blocks in content.values()
                              for block in blocks.values()))
    return TemplateDraft(list(content), content, sorted(variables))


def parse_preview(payload: object) -> PreviewBody:
    return validated(PreviewBody, payload)

