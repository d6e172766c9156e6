"""Standard Webhooks signatures: the secret's format, the headers, the HMAC over id.timestamp.body.

https://www.standardwebhooks.com: `webhook-signature` holds one `v1,<base64>`
per secret that signs, space-separated, so a receiver that knows either the
old or the new secret accepts a message during a rotation's overlap.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_id(message_id: uuid.UUID) -> str:
    """The id a receiver de-duplicates on: the message's, the same on every attempt."""
    return f"msg_{message_id.hex}"


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(signing_secrets: list[str], msg_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    """The three headers of one attempt, signed with every secret still in force."""
    timestamp = int(sent_at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in signing_secrets),
    }
