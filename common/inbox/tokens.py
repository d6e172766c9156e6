"""End users' inbox tokens: short-lived JWTs (HS256) bound to one recipient of one service."""

from __future__ import annotations

from datetime import datetime

import jwt

from common.config import Settings
from common.inbox.store import Inbox

ALGORITHM = "HS256"
AUDIENCE = "herald-inbox"
ISSUER = "herald"


class TokenRefused(Exception):
    """Why a token does not open an inbox; `expired` tells a late token from a bad one."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def issue(inbox: Inbox, config: Settings, now: datetime) -> tuple[str, datetime]:
    """A token for `inbox` and when it expires."""
    expires_at = now + config.inbox_token_ttl
    claims = {"iss": ISSUER, "aud": AUDIENCE, "svc": inbox.service, "sub": inbox.recipient,
              "iat": int(now.timestamp()), "exp": int(expires_at.timestamp())}
    token = jwt.encode(claims, config.inbox_signing_secret(), algorithm=ALGORITHM)
    return token, expires_at.replace(microsecond=0)  # as the claim has it: whole seconds


def opened(token: str, config: Settings) -> tuple[Inbox, int]:
    """The inbox a token opens and its expiry (a Unix time); TokenRefused otherwise."""
    try:
        claims = jwt.decode(token, config.inbox_signing_secret(), algorithms=[ALGORITHM],
                            audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        raise TokenRefused("the inbox token has expired: ask for a new one", expired=True) from None
    except jwt.InvalidTokenError:
        raise TokenRefused("not a valid inbox token") from None
    service, recipient = claims.get("svc"), claims.get("sub")
    if not (isinstance(service, str) and isinstance(recipient, str) and service and recipient):
        raise TokenRefused("not a valid inbox token")
    return Inbox(service, recipient), int(claims["exp"])
