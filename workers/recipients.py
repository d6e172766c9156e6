"""What deliveries teach Herald about stored recipients: device tokens that no longer exist."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import select

from common.db import db
from common.models import Recipient, utcnow

log = logging.getLogger(__name__)

# The permanent failures that mean "this device token is gone for good"
# (FCM's UNREGISTERED: the app was uninstalled or the token expired).
TOKEN_GONE = frozenset({"fcm_unregistered"})


def forget_push_token(service: str, external_id: str, token: str) -> bool:
    """Remove `token` from the recipient's push tokens; True if it was there.

    Housekeeping after the outcome is already recorded: it never raises, and
    leaves the session clean. The row is locked while it is rewritten, so a
    concurrent PUT or another removal is not lost.
    """
    try:
        recipient = db.session.execute(
            select(Recipient)
            .where(Recipient.service == service, Recipient.external_id == external_id)
            .with_for_update()
        ).scalar_one_or_none()
        tokens = list(recipient.push_tokens or []) if recipient is not None else []
        if token not in tokens:
            db.session.rollback()
            return False
        recipient.push_tokens = [t for t in tokens if t != token]
        recipient.updated_at = utcnow()
        db.session.commit()
    except Exception:
        with contextlib.suppress(Exception):  # the connection may be what failed
            db.session.rollback()
        log.exception("could not remove an unregistered push token from recipient %r of %r",
                      external_id, service)
        return False
    log.info("removed an unregistered push token (%s…) from recipient %r of %r",
             token[:6], external_id, service)
    return True
