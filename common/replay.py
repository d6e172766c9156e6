"""Sending a failed notification again: back to scheduled, due now, under a fresh dispatch token.

A replay is a status change like any other (`failed -> scheduled` in
`common.statuses`), recorded with who asked; the notification keeps its id,
history and attempt count, and the commit publishes its task.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from common import dispatch, lifecycle
from common.models import Notification
from common.statuses import Status


def replay_failed(notification_id: uuid.UUID, *, requested_by: str,
                  now: datetime) -> Notification | None:
    """Schedule a failed notification for one more attempt now; None if it is not failed."""
    replayed = lifecycle.transition(
        notification_id, Status.SCHEDULED, now=now,
        # Only a failure is replayed: the other way into `scheduled` is a worker's deferral.
        where=(Notification.status == Status.FAILED.value,),
        detail=f"replay requested by key {requested_by}",
        deliver_at=now, dispatch_token=uuid.uuid4(), enqueued_at=now, lease_expires_at=None,
        error_code=None, error_message=None, schedule_reason="replay")
    if replayed is not None:
        dispatch.publish_after_commit(replayed, now)
    return replayed
