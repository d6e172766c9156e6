"""What a message rendered from a template would say, for a channel and a locale; nothing is written.

Missing variables do not refuse a preview: they show as `{{ name }}` and are listed.
"""

from __future__ import annotations

from api.notifications.rendering import UTC, render_version
from api.recipients.service import find_recipient
from api.templates.schema import PreviewBody
from api.templates.service import find_template, find_version
from api.validators import timezone_problem
from common.errors import Invalid, NotFound
from common.service_settings import effective


def preview_template(service: str, key: str, request: PreviewBody) -> dict:
    """The preview's parts: version, locale, timezone, rendered content and missing variables."""
    template = find_template(service, key)
    try:
        version = find_version(template, request.version)
    except NotFound:
        raise Invalid({"version": f"no such version (the current one is "
                                  f"{template.current_version})"}) from None
    if not any(request.channel in version.content[tag] for tag in version.locale_order):
        raise Invalid({"channel": f"version {version.version} has no content for this channel"})
    if request.timezone is not None and (problem := timezone_problem(request.timezone)):
        raise Invalid({"timezone": problem})
    recipient = None
    if request.recipient_id is not None:
        recipient = find_recipient(service, request.recipient_id)
        if recipient is None:
            raise Invalid({"recipient_id": "no recipient with this id"})
    in_force = effective(service)
    timezone = (request.timezone or (recipient.timezone if recipient else None)
                or in_force.timezone or UTC)
    locale, rendered = render_version(
        version, key=key, channel=request.channel, requested=request.locale, recipient=recipient,
        service_locale=in_force.locale, timezone=timezone,
        personalisation=request.personalisation or {}, strict=False)
    return dict(key=key, version=version.version, channel=request.channel, locale=locale,
                timezone=timezone, content=rendered.content, missing=rendered.missing)
