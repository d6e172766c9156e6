"""A service's stored recipients: replace one whole, read it, forget it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.recipients.schema import RecipientPreferences
from common.db import db
from common.errors import NotFound
from common.models import Recipient

# A PUT that loses an insert race updates the winner's row instead; only a
# DELETE landing in between each time could use these up.
_PUT_ATTEMPTS = 3


def _not_found() -> NotFound:
    return NotFound("no such recipient")


def find_recipient(service: str, external_id: str) -> Recipient | None:
    return db.session.execute(
        select(Recipient).where(Recipient.service == service, Recipient.external_id == external_id)
    ).scalar_one_or_none()


def _locked(service: str, external_id: str) -> Recipient | None:
    return db.session.execute(
        select(Recipient)
        .where(Recipient.service == service, Recipient.external_id == external_id)
        .with_for_update()
    ).scalar_one_or_none()


def _replace(recipient: Recipient, preferences: RecipientPreferences, now: datetime) -> None:
    recipient.timezone = preferences.timezone
    recipient.locale = preferences.locale
    recipient.email = preferences.email
    recipient.phone = preferences.phone
    recipient.telegram_chat_id = preferences.telegram_chat_id
    recipient.push_tokens = list(preferences.push_tokens)
    recipient.quiet_hours = preferences.quiet_hours
    recipient.opted_out = list(preferences.opted_out)
    recipient.updated_at = now


def put_recipient(service: str, external_id: str, preferences: RecipientPreferences,
                  now: datetime) -> tuple[Recipient, bool]:
    """Create or replace the whole record; returns it and whether it was created."""
    for _ in range(_PUT_ATTEMPTS):
        recipient = _locked(service, external_id)
        if recipient is not None:
            _replace(recipient, preferences, now)
            db.session.commit()
            return recipient, False
        recipient = Recipient(service=service, external_id=external_id, created_at=now)
        _replace(recipient, preferences, now)
        try:
            with db.session.begin_nested():
                db.session.add(recipient)
        except IntegrityError:
            # A concurrent PUT inserted the same id first (its commit is what
            # ended our wait on the unique index): replace its row instead.
            continue
        db.session.commit()
        return recipient, True
    raise RuntimeError(f"could not store recipient {external_id!r} of {service!r}: "
                       f"it kept being created and deleted concurrently")


def get_recipient(service: str, external_id: str) -> Recipient:
    recipient = find_recipient(service, external_id)
    if recipient is None:
        raise _not_found()
    return recipient


def delete_recipient(service: str, external_id: str) -> None:
    recipient = _locked(service, external_id)
    if recipient is None:
        raise _not_found()
    db.session.delete(recipient)
    db.session.commit()
