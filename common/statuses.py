"""A notification's statuses and the transitions between them, in one table.

Every status change in Herald goes through `allowed_sources`, so a rule such
as "terminal statuses never change" lives here and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its deliver_at
    SENDING = "sending"  # claimed by a worker, inside the provider call
    RETRYING = "retrying"  # a transient failure; waiting for the next attempt
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider reported delivery to the device
    FAILED = "failed"  # permanently failed or out of attempts
    CANCELLED = "cancelled"  # the caller cancelled it before it was sent
    SUPPRESSED = "suppressed"  # never sent: the recipient opted out of the channel, or has no address


# target status -> the statuses it may be reached from
TRANSITIONS: dict[Status, frozenset[Status]] = {
    # Back from a claim that found the recipient inside quiet hours (a late retry),
    # or a failed notification the caller asked to send again (a replay).
    Status.SCHEDULED: frozenset({Status.SENDING, Status.FAILED}),
    Status.SENDING: frozenset({Status.SCHEDULED, Status.RETRYING}),
    Status.SENT: frozenset({Status.SENDING}),
    # Retrying is also where the sweeper puts a claim whose lease ran out.
    Status.RETRYING: frozenset({Status.SENDING}),
    Status.DELIVERED: frozenset({Status.SENT}),
    Status.FAILED: frozenset({Status.SENDING, Status.SENT}),
    Status.CANCELLED: frozenset({Status.SCHEDULED, Status.RETRYING}),
}

# Waiting for a worker: what the relay publishes, send-now hurries and cancel stops.
PENDING = frozenset({Status.SCHEDULED, Status.RETRYING})


def allowed_sources(target: Status) -> frozenset[Status]:
    return TRANSITIONS[target]
