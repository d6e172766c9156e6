"""The answer to a delivery receipt."""

from __future__ import annotations

import uuid

from api.response_model import ResponseModel
from common.statuses import Status


class ReceiptAck(ResponseModel):
    """The notification the receipt was for, and its status once the receipt is applied.

    (The view's answer is checked against it by tests/api/test_openapi.py.)
    """

    id: uuid.UUID
    status: Status


def receipt_ack(notification_id: str, status: str) -> dict:
    # The id as the receipt's URL gave it (the model describes it; tests hold the view to it).
    return {"id": notification_id, "status": status}
