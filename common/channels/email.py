"""The email channel: addresses, a subject with text and HTML bodies, sent over SMTP."""

from __future__ import annotations

import re

from common.channels.registry import Channel

# Deliberately simple but strict: an RFC 5322 dot-atom of ASCII characters, one @,
# a dotted domain of letters, digits and inner hyphens. No spaces, controls,
# commas, quotes, brackets or `?` (which opens an RFC 2047 encoded word), so an
# address is always one address on the wire. The SMTP server has the last word.
# Used with fullmatch and ASCII classes: `$` also matches before a trailing newline.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=^_`{|}~-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")

MAX_EMAIL = 254  # RFC 5321's limit on a forward path, less its angle brackets


def email_problem(address: str) -> str | None:
    local, at, domain = address.rpartition("@")
    if (len(address) > MAX_EMAIL or not at or len(local) > 64 or len(domain) > 253
            or not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(domain)):
        return "not a valid email address"
    return None


def mask_email(address: str) -> str:
    """"alice@example.com" -> "a***@example.com"."""
    local, at, domain = (address or "").rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


CHANNEL = Channel(
    name="email",
    address_problem=email_problem,
    # The subject shares the 255-character title column.
    limits={"subject": 255, "body": 100_000, "html": 200_000},
    required=frozenset({"subject", "body"}),
    stored_addresses=lambda recipient: [recipient.email],
    mask=mask_email,
    title_field="subject",
    vendor="smtp",
    vendor_settings="smtp",
    vendor_factory="workers.providers.smtp_pool:from_settings",
)
