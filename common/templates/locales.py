"""Which of a template's locales a message is rendered in: one pure function, the one fallback rule.

The wanted locale is the request's, else the recipient's, else the service's
default. The template answers with that locale, else its language alone
("fr-CA" -> "fr"), else the service's default (and its language), else the
template's first locale. Tags compare case-insensitively, "_" read as "-".
"""

from __future__ import annotations

from collections.abc import Sequence


def normalised(tag: str) -> str:
    return tag.replace("_", "-").lower()


def _candidates(tag: str | None) -> list[str]:
    """"fr-CA" -> ["fr-ca", "fr"]; "zh-Hant-TW" -> ["zh-hant-tw", "zh-hant", "zh"]."""
    if not tag:
        return []
    parts = normalised(tag).split("-")
    return ["-".join(parts[:end]) for end in range(len(parts), 0, -1)]


def resolve_locale(available: Sequence[str], *, requested: str | None, recipient: str | None,
                   service_default: str | None) -> str:
    """The tag of `available` (in the template's order, never empty) to render in."""
    by_key = {normalised(tag): tag for tag in reversed(available)}  # the first spelling wins
    wanted = requested or recipient or service_default
    for candidate in (*_candidates(wanted), *_candidates(service_default)):
        if candidate in by_key:
            return by_key[candidate]
    return available[0]
