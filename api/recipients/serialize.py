"""How a stored recipient looks in answers."""

from __future__ import annotations

from api.recipients.schema import Channel, RecipientQuietHours
from api.response_model import ResponseModel, Timestamp, body, iso
from common.models import Recipient


class RecipientView(ResponseModel):
    external_id: str
    timezone: str | None
    locale: str | None
    email: str | None
    phone: str | None
    telegram_chat_id: str | None
    push_tokens: list[str]
    quiet_hours: RecipientQuietHours | None
    opted_out: list[Channel]
    created_at: Timestamp | None
    updated_at: Timestamp | None


def recipient_body(r: Recipient) -> dict:
    return body(RecipientView(
        external_id=r.external_id,
        timezone=r.timezone,
        locale=r.locale,
        email=r.email,
        phone=r.phone,
        telegram_chat_id=r.telegram_chat_id,
        push_tokens=list(r.push_tokens or []),
        quiet_hours=r.quiet_hours,
        opted_out=list(r.opted_out or []),
        created_at=iso(r.created_at),
        updated_at=iso(r.updated_at),
    ))
