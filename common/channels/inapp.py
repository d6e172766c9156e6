"""The in-app channel: an item in the recipient's inbox, addressed by the caller's own id for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from common.channels.registry import Channel

MAX_RECIPIENT_ID = 255  # the recipients.external_id column
MAX_ACTION_URL = 2_048


def recipient_id_problem(external_id: str) -> str | None:
    if not 0 < len(external_id) <= MAX_RECIPIENT_ID:
        return f"not a recipient id: must be 1 to {MAX_RECIPIENT_ID} characters"
    if not external_id.isprintable() or external_id.strip() != external_id:
        return "not a recipient id: printable characters, no leading or trailing space"
    return None


def mask_recipient_id(external_id: str) -> str:
    """A caller's id for a person may be an address or a name: its first two characters only."""
    return f"{(external_id or '')[:2]}…"


def action_url_problems(content: Mapping[str, Any], options: Mapping[str, Any] | None
                        ) -> tuple[dict[str, str], dict[str, str]]:
    """An action URL is a web address (http or https) or a path in the caller's own app ("/orders/42")."""
    url = content.get("action_url")
    if url is None:
        return {}, {}
    parts = urlsplit(url)
    web = parts.scheme in ("http", "https") and bool(parts.netloc)
    path = not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
    if not (web or path) or any(c.isspace() for c in url):
        return {"content.action_url": "must be an http(s) URL or a path starting with /"}, {}
    return {}, {}


CHANNEL = Channel(
    name="inapp",
    address_problem=recipient_id_problem,
    limits={"title": 255, "body": 10_000, "data": 3_500, "action_url": MAX_ACTION_URL},
    required=frozenset({"body"}),
    # The inbox is the recipient's own: its address is the caller's id for them.
    stored_addresses=lambda recipient: [recipient.external_id],
    mask=mask_recipient_id,
    title_field="title",
    content_check=action_url_problems,
    content_options=frozenset({"action_url"}),
    addressed_by_id=True,
    quiet_hours_apply=False,  # an inbox item waits to be looked at; it never interrupts anyone
    # No outside vendor: the inbox is Herald's own. A test key's items go to the sandbox's
    # outbox, as on every channel: never into a real person's inbox.
    vendor="inbox",
    vendor_factory="workers.providers.inapp:from_settings",
)
