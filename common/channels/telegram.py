"""The Telegram channel: chat ids or public @usernames, a plain text message, sent by a Telegram bot."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from common.channels.registry import Channel

# A chat id: a user (positive), a group (negative) or a supergroup or channel
# (-100...). Telegram promises at most 52 significant bits.
_CHAT_ID = re.compile(r"-?[1-9][0-9]{0,15}", re.ASCII)
MAX_CHAT_ID_BITS = 52
# A public channel or supergroup by its username: 5 to 32 letters, digits and
# underscores, starting with a letter and not ending with an underscore.
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]", re.ASCII)
MAX_CHAT = 33  # "@" and a 32-character username; the recipients.telegram_chat_id column
SUPERGROUP_PREFIX = "-100"

# sendMessage's limit: 4,096 characters, which Telegram counts in UTF-16 code
# units (an emoji outside the Basic Multilingual Plane counts twice).
MAX_TEXT = 4_096


def chat_problem(chat: str) -> str | None:
    if _USERNAME.fullmatch(chat):
        return None
    if _CHAT_ID.fullmatch(chat) and abs(int(chat)) < 2 ** MAX_CHAT_ID_BITS:
        return None
    return ("not a Telegram chat: a chat id as a string (like \"123456789\", or \"-100...\" "
            "for a group) or a public @username")


def mask_chat(chat: str) -> str:
    """"123456789" -> "*******89", "-1001234567890" -> "-100********90", "@herald_news" -> "@h***"."""
    chat = chat or ""
    if chat.startswith("@"):
        return f"{chat[:2]}***"
    prefix = SUPERGROUP_PREFIX if chat.startswith(SUPERGROUP_PREFIX) else chat[:1] if chat.startswith("-") else ""
    digits = chat[len(prefix):]
    return prefix + "*" * max(len(digits) - 2, 0) + digits[-2:]


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def telegram_text_problems(content: Mapping[str, Any], options: Mapping[str, Any] | None
                           ) -> tuple[dict[str, str], dict[str, str]]:
    """(problems, size problems) of a message as Telegram will judge it: its length in UTF-16 units."""
    size = utf16_length(content.get("text") or "")
    if size > MAX_TEXT:
        return {}, {"content.text": f"{size} characters as Telegram counts them (UTF-16 code units), "
                                    f"more than Telegram's limit of {MAX_TEXT}"}
    return {}, {}


CHANNEL = Channel(
    name="telegram",
    address_problem=chat_problem,
    # Sent as plain text (no parse_mode): no caller text is ever read as markup.
    limits={"text": MAX_TEXT},
    required=frozenset({"text"}),
    stored_addresses=lambda recipient: [recipient.telegram_chat_id],
    mask=mask_chat,
    body_field="text",
    content_check=telegram_text_problems,
    vendor="telegram",
    vendor_settings="telegram",
    vendor_factory="workers.providers.telegram:from_settings",
)
