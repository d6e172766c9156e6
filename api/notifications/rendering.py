"""A notification request with a template, rendered for its recipient at accept time.

The locale is chosen by `common.templates.locales`, the recipient's timezone
(UTC when none is known) places the times, and the rendered content passes the
same channel checks as content a caller writes. The request comes back with
its content filled in, the version it used and the locale it was rendered in,
which the notification stores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytz
from pydantic import ValidationError

from api.notifications.schema import Content, NotificationRequest, checked_content, message_fields
from api.request_parsing import schema_problems
from api.templates.service import TemplateVersions, stored_version
from common import channels
from common.errors import Invalid, TooLarge
from common.models import Notification, Recipient
from common.templates.locales import resolve_locale
from common.templates.models import TemplateVersion
from common.templates.rendering import Rendered, render_block

UTC = "UTC"


@dataclass(frozen=True)
class ReminderEvent:
    """What a reminder's template may say of its event: `event_at` (local time) and `remind_before`."""

    at: datetime  # aware
    remind_before: timedelta

    def variables(self, timezone: str) -> dict:
        return {"event_at": self.at.astimezone(pytz.timezone(timezone)),
                "remind_before": self.remind_before}


def render_version(version: TemplateVersion, *, key: str, channel: str, requested: str | None,
                   recipient: Recipient | None, service_locale: str | None, timezone: str | None,
                   personalisation: dict, strict: bool = True) -> tuple[str, Rendered]:
    """(the locale used, the rendered block) of `version` for `channel`."""
    available = [tag for tag in version.locale_order if channel in version.content[tag]]
    if not available:
        raise Invalid({"template.key": f"template {key!r} version {version.version} has no "
                                       f"content for the {channel} channel"})
    locale = resolve_locale(available, requested=requested,
                            recipient=recipient.locale if recipient else None,
                            service_default=service_locale)
    rendered = render_block(version.content[locale][channel], locale=locale,
                            timezone=timezone or UTC, personalisation=personalisation,
                            limits=channels.channel(channel).limits,
                            place=f"{key} v{version.version} {locale}.{channel}", strict=strict)
    return locale, rendered


def _checked(channel: channels.Channel, content: dict, options: dict | None) -> Content:
    """The rendered content, as the channel takes it: its fields, limits and vendor's rules."""
    try:
        rendered = Content.model_validate(content)
    except ValidationError as error:
        problems, too_large = {f"content.{name}": p for name, p in schema_problems(error).items()}, {}
    else:
        problems, too_large = checked_content(channel, rendered, options)
    # Named as rendered: the caller wrote no `content`.
    if problems:
        raise Invalid({f"rendered.{name}": problem for name, problem in problems.items()})
    if too_large:
        raise TooLarge({f"rendered.{name}": problem for name, problem in too_large.items()})
    return rendered


def rendered_request(request: NotificationRequest, *, recipient: Recipient | None,
                     timezone: str | None, service_locale: str | None, templates: TemplateVersions,
                     event: ReminderEvent | None = None) -> NotificationRequest:
    """The request with its template rendered; a request with content comes back as it is."""
    if request.template is None:
        return request
    version = templates.version(request.template)
    personalisation = {**(request.personalisation or {}),
                       **(event.variables(timezone or UTC) if event else {})}
    locale, rendered = render_version(
        version, key=request.template.key, channel=request.channel, requested=request.locale,
        recipient=recipient, service_locale=service_locale, timezone=timezone,
        personalisation=personalisation)
    channel = channels.channel(request.channel)
    content = _checked(channel, rendered.content, request.options)
    return replace(request, **message_fields(channel, content, request.options),
                   template=replace(request.template, version=version.version), locale=locale)


def rerender(member: Notification, request: NotificationRequest, event: ReminderEvent) -> None:
    """Render a pending reminder again for its moved event: same version, locale and personalisation."""
    version = stored_version(member.service, member.template_key, member.template_version)
    if version is None:
        return  # the rows are never deleted; nothing to render from otherwise
    _locale, rendered = render_version(
        # The member's own locale is one of the version's: the fallback stops there.
        version, key=member.template_key, channel=member.channel, requested=member.locale,
        recipient=None, service_locale=None, timezone=member.timezone,
        personalisation={**(request.personalisation or {}),
                         **event.variables(member.timezone or UTC)})
    channel = channels.channel(member.channel)
    content = _checked(channel, rendered.content, member.options)
    for column, value in message_fields(channel, content, member.options).items():
        setattr(member, column, value)
