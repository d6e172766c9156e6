"""The sandbox provider: records each delivery as a JSON line in the channel's outbox.

Magic recipients simulate failures. For push tokens and email addresses:
`herald-fail-permanent` anywhere in the address fails permanently,
`herald-fail-transient-N` fails transiently on the first N attempts and then
succeeds, `herald-reject-first-N` fails permanently on the first N attempts
(a cause fixed later: a replay then sends it), `herald-timeout` waits out the
provider timeout and fails transiently. For SMS, the numbers +15005550001 (permanent), +1500555010N
(transient N times, N = 1..9) and +15005550009 (timeout) do the same; for
Telegram, the usernames @herald_fail_permanent, @herald_fail_transient_N and
@herald_timeout (a username allows no hyphens).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

from workers.providers.base import DeliveryRequest, PermanentError, Receipt, TransientError

_TRANSIENT = re.compile(r"herald[-_]fail[-_]transient[-_](\d+)|^\+1500555010(\d)$")
_PERMANENT = ("herald-fail-permanent", "herald_fail_permanent", "+15005550001")
_TIMEOUT = ("herald-timeout", "herald_timeout", "+15005550009")
_REJECTED_FIRST = re.compile(r"herald-reject-first-(\d+)")


class SandboxProvider:
    def __init__(self, channel: str, outbox_dir: Path, timeout: float):
        self.channel = channel
        self.outbox = Path(outbox_dir) / f"{channel}.jsonl"
        self.timeout = timeout

    def send(self, request: DeliveryRequest) -> Receipt:
        self._simulate_failures(request)
        message_id = f"sandbox-{request.notification_id}-{request.attempt}"
        line = json.dumps(
            {
                "notification_id": str(request.notification_id),
                "channel": request.channel,
                "to": request.recipient,
                "title": request.title,
                "body": request.body,
                "html": request.html,
                "data": request.data,
                "priority": request.priority,
                "options": request.options,
                "attempt": request.attempt,
                "message_id": message_id,
                "worker": socket.gethostname(),
                "at": datetime.now(timezone.utc).isoformat(),
            }
        )
        self._append(line + "\n")
        return Receipt(provider_message_id=message_id)

    def _simulate_failures(self, request: DeliveryRequest) -> None:
        recipient = request.recipient
        if any(magic in recipient for magic in _PERMANENT):
            raise PermanentError("sandbox_rejected", "the sandbox rejects this recipient")
        rejected = _REJECTED_FIRST.search(recipient)
        if rejected and request.attempt <= int(rejected.group(1)):
            raise PermanentError("sandbox_rejected", f"the sandbox rejects attempt {request.attempt}")
        if any(magic in recipient for magic in _TIMEOUT):
            time.sleep(self.timeout)
            raise TransientError("sandbox_timeout", f"no answer within {self.timeout}s")
        match = _TRANSIENT.search(recipient)
        if match and request.attempt <= int(match.group(1) or match.group(2)):
            raise TransientError("sandbox_unavailable", f"simulated outage on attempt {request.attempt}")

    def _append(self, line: str) -> None:
        # One write() on an O_APPEND descriptor: lines from concurrent workers never interleave.
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.outbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def from_settings(config, channel: str) -> SandboxProvider:
    """The sandbox for `channel`, as the channel registry builds it."""
    return SandboxProvider(channel, config.outbox_dir, timeout=config.provider_timeout)
