"""A claimed delivery attempt, and what it came to: the facts a delivery task logs and counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from common.config import Settings
from common.scheduling import QuietRule
from workers.providers.base import DeliveryRequest


@dataclass(frozen=True)
class Attempt:
    """One claimed delivery attempt, as the worker knows it once the connection is released."""

    request: DeliveryRequest
    token: uuid.UUID
    config: Settings
    sandbox: bool
    quiet: QuietRule | None  # None when no window applies, or the notification is critical
    worker: str
    # Recording the outcome may wait out a database outage, but not past the lease.
    record_until: float
    service: str
    recipient_ref: str | None  # the stored recipient the address came from


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; `str()` gives the text of the task's log line.

    `kind` is sent | retrying | failed | deferred (as herald_deliveries_total
    counts them), superseded when another claim had taken the row over before
    the outcome could be written, stale when the task found nothing to do, or
    early when it came before its time.
    """

    kind: str
    reason: str | None = None  # the error code; for a stale task: missing | superseded | finished
    attempt: int | None = None
    recipient: str | None = field(default=None, repr=False)
    status: str | None = None  # the row's status, for a stale task
    next_at: datetime | None = None  # deferred and early: when it is due; retrying: the next try
    wait: float | None = None  # retrying: seconds until the next try
    exhausted: bool = False  # failed because no attempt is left
    to_relay: bool = False  # early, and too far ahead for the broker: left to the relay
    meant: str | None = None  # superseded: the outcome that could not be written

    @classmethod
    def of(cls, attempt: Attempt, kind: str, reason: str | None = None, **facts) -> Outcome:
        return cls(kind, reason, attempt.request.attempt, attempt.request.recipient, **facts)

    def __str__(self) -> str:
        match self.kind:
            case "sent":
                return "sent"
            case "superseded" if self.meant == "sent":
                return "sent, but another claim had taken the row over"
            case "superseded":
                return str(replace(self, kind=self.meant))
            case "failed":
                return f"failed: {self.reason}" + (" (attempts exhausted)" if self.exhausted else "")
            case "retrying":
                return f"retrying in {self.wait:.1f}s: {self.reason}"
            case "deferred":
                return f"deferred to {self.next_at.isoformat()}: quiet hours"
            case "stale":
                return {"missing": "stale: no such notification",
                        "superseded": f"stale: superseded ({self.status})",
                        "finished": f"stale: already {self.status}"}[self.reason]
            case "early":
                verb = "left to the relay" if self.to_relay else "republished"
                return f"early: {verb} for {self.next_at.isoformat()}"
        return self.kind
