"""The push channel: FCM registration tokens, a title and body with data, FCM's payload rules."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from common.channels.registry import Channel

_FCM_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII, no spaces

# FCM refuses a message whose payload is over 4,096 bytes, counted as the app
# receives it: each data key and value, and each notification field under its
# key `gcm.notification.<field>`. Herald also sets the notification `tag` (the
# collapse_key, or the 36-character notification id).
FCM_PAYLOAD_LIMIT = 4_096
FCM_RESERVED_DATA_KEYS = {"from", "notification", "message_type"}
FCM_RESERVED_DATA_PREFIXES = ("google", "gcm")
_NOTIFICATION_ID_LENGTH = 36


def push_token_problem(token: str) -> str | None:
    if not _FCM_TOKEN.fullmatch(token):
        return "not a valid FCM registration token (non-empty, printable, no spaces)"
    return None


def mask_push_token(token: str) -> str:
    """An FCM registration token: its first six characters, enough to tell devices apart."""
    return f"{(token or '')[:6]}…"


def fcm_payload_problems(content: Mapping[str, Any], options: Mapping[str, Any] | None
                         ) -> tuple[dict[str, str], dict[str, str]]:
    """(problems, size problems) of a push as FCM will judge it: reserved data keys, the payload limit."""
    data = content.get("data") or {}
    reserved = sorted(key for key in data if key.lower() in FCM_RESERVED_DATA_KEYS
                      or key.lower().startswith(FCM_RESERVED_DATA_PREFIXES))
    if reserved:
        shown = ", ".join(json.dumps(key) for key in reserved)
        return {"content.data": f"key {shown} is reserved by FCM (from, notification, message_type, "
                                f"and any key starting with google or gcm)"}, {}
    tag = (options or {}).get("collapse_key") or "x" * _NOTIFICATION_ID_LENGTH
    fields = {"title": content.get("title"), "body": content.get("body"), "tag": tag}
    size = sum(len(f"gcm.notification.{name}".encode()) + len(value.encode())
               for name, value in fields.items() if value)
    size += sum(len(key.encode()) + len(value.encode()) for key, value in data.items())
    if size > FCM_PAYLOAD_LIMIT:
        return {}, {"content": f"the push payload (title, body and data) is {size} bytes as FCM counts it, "
                               f"more than FCM's limit of {FCM_PAYLOAD_LIMIT}"}
    return {}, {}


CHANNEL = Channel(
    name="push",
    address_problem=push_token_problem,
    # FCM refuses messages over 4 KB: the payload check above has the last word.
    limits={"title": 200, "body": 2_000, "data": 3_500},
    required=frozenset({"body"}),
    stored_addresses=lambda recipient: list(recipient.push_tokens or []),
    mask=mask_push_token,
    title_field="title",
    content_check=fcm_payload_problems,
    takes_options=True,
    vendor="fcm",
    vendor_settings="fcm",
    vendor_factory="workers.providers.fcm:from_settings",
)
