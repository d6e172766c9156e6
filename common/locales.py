"""Locales: what a language tag may look like, and which one applies to a recipient."""

from __future__ import annotations

import re

MAX_LOCALE = 35  # recipients.locale

# A language, then optional script, region or variant subtags: "en", "en-GB",
# "zh-Hant-TW", "es-419". Simple on purpose; what a template does with it is its own concern.
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", re.ASCII)


def locale_problem(tag: str) -> str | None:
    if not isinstance(tag, str) or len(tag) > MAX_LOCALE or not _LOCALE.fullmatch(tag):
        return "not a language tag (like en or en-GB)"
    return None


def locale_for(requested: str | None, recipient: str | None, service_default: str) -> str:
    """The locale in force, by precedence request > recipient > the service's default."""
    return requested or recipient or service_default
