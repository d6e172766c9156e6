"""A bounded set of SMTP connections shared by a pool's threads: one message per connection at a time.

An SMTP connection carries one conversation, so each `SmtpProvider` (one kept
connection) serves one thread at a time. The set holds `size` of them, made on
first need; a delivery beyond them waits for one to come back, at most the
provider timeout, then counts as a transient failure.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from workers.providers.base import DeliveryRequest, Receipt, TransientError
from workers.providers.smtp import SmtpProvider


class SmtpConnectionPool:
    """Sends through at most `size` SMTP connections, each used by one thread at a time."""

    def __init__(self, make: Callable[[], SmtpProvider], size: int, wait: float):
        self._make = make
        self._wait = wait
        # Most recently used first: idle connections at the back time out on
        # the server's side, the ones in use stay warm.
        self._idle: queue.LifoQueue[SmtpProvider] = queue.LifoQueue()
        self._free_slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._all: list[SmtpProvider] = []
        self._last_used: SmtpProvider | None = None

    def send(self, request: DeliveryRequest) -> Receipt:
        if not self._free_slots.acquire(timeout=self._wait):
            raise TransientError("smtp_busy", f"no SMTP connection came free within {self._wait}s")
        try:
            connection = self._take()
            try:
                return connection.send(request)
            finally:
                self._last_used = connection
                self._idle.put(connection)
        finally:
            self._free_slots.release()

    def _take(self) -> SmtpProvider:
        # Holding a slot guarantees an idle connection exists or one may be made.
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            connection = self._make()
            with self._lock:
                self._all.append(connection)
            return connection

    def credential_problem(self) -> str | None:
        """What the last login said (see SmtpProvider.credential_problem); one server, one answer."""
        last = self._last_used
        return last.credential_problem() if last is not None else None

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()


def from_settings(config, channel: str) -> SmtpConnectionPool:
    """The email channel's vendor, as the channel registry builds it: SMTP_CONNECTIONS connections."""
    SmtpProvider(config.smtp, timeout=config.provider_timeout)  # bad settings fail here, at start
    return SmtpConnectionPool(lambda: SmtpProvider(config.smtp, timeout=config.provider_timeout),
                              size=config.smtp_connections, wait=config.provider_timeout)
