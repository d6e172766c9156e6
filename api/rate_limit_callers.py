"""Who a request's API key belongs to, for counting it: remembered per process for a few seconds.

A refused request should cost as little as possible, so the limiter does not
ask the database again for a key it saw moments ago. The view still
authenticates every request it serves against the database: a revoked key
gets 401 at once; it may only go on being counted (not served) for the
cache's lifetime, and a changed key limit applies within that time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from api.auth import authenticate
from api.keys.service import hash_key
from api.errors import ApiError
from common.config import check_rate_limit
from common.inbox.tokens import TokenRefused, opened
from common.models import ApiKey

log = logging.getLogger(__name__)

LIFETIME_SECONDS = 10.0
MAX_CALLERS = 4096


def _checked(key: ApiKey, limits: str | None) -> str | None:
    """The key's own limits; None (the default) if unset or not valid (written by hand?)."""
    if limits is None:
        return None
    try:
        return check_rate_limit(limits)
    except ValueError:
        log.warning("API key %s of service %s has malformed rate limits; using the default",
                    key.id, key.service)
        return None


@dataclass(frozen=True)
class Caller:
    service: str
    kind: str  # live | test | inbox: the budgets are counted per service and kind
    write_limits: str | None  # the key's own limits; None: the settings' default
    read_limits: str | None
    subject: str | None = None  # inbox: a hash of the recipient, counted on their own


def inbox_caller(authorization: str, config) -> Caller | None:
    """An end user with a valid inbox token: counted per recipient, on the default budgets."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None  # the view answers 401
    try:
        inbox, _expires = opened(token.strip(), config)
    except TokenRefused:
        return None
    subject = hashlib.sha256(inbox.recipient.encode()).hexdigest()[:16]
    return Caller(inbox.service, "inbox", None, None, subject)


class CallerCache:
    """The callers of recent Authorization headers (by their hash), oldest dropped first."""

    def __init__(self, lifetime: float = LIFETIME_SECONDS, size: int = MAX_CALLERS):
        self.lifetime, self.size = lifetime, size
        self._entries: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._lock = threading.Lock()  # gthread and gevent workers serve requests side by side

    def identify(self, authorization: str) -> Caller | None:
        """The caller, or None if the header holds no valid key (nothing is remembered then)."""
        digest, now = hash_key(authorization), time.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        try:
            key = authenticate()
        except ApiError:
            return None
        caller = Caller(key.service, key.kind, _checked(key, key.write_rate_limit),
                        _checked(key, key.read_rate_limit))
        with self._lock:
            self._entries[digest] = (now + self.lifetime, caller)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return caller
