"""How a batch answers: each item by its index, accepted (as a single create answers) or refused."""

from __future__ import annotations

from api.errors import ErrorDetail, as_api_error, error_body
from api.notifications.serialize import Accepted, AcceptedGroup
from api.response_model import ResponseModel, body, iso
from common.errors import Invalid


class Indexed(ResponseModel):
    index: int  # the item's place in `items`, from 0


# Indexed last: pydantic lays out a base's fields before its subclasses', so `index` comes first.
class BatchAccepted(Accepted, Indexed):
    """An item with an address: its notification, as POST /v1/notifications answers."""


class BatchAcceptedGroup(AcceptedGroup, Indexed):
    """An item for a stored recipient: one notification per device (push), or one."""


class BatchRefused(Indexed):
    """An item not accepted: nothing was written for it. `error` is the one error shape."""

    error: ErrorDetail


class BatchAnswer(ResponseModel):
    accepted: int
    refused: int
    items: list[BatchAccepted | BatchAcceptedGroup | BatchRefused]


def accepted_values(values: dict) -> dict:
    """What the 202 of a single create says of a notification, from its row's values."""
    return {
        "id": values["id"],
        "status": values["status"],
        "deliver_at": iso(values["deliver_at"]),
        "schedule_reason": values["schedule_reason"],
        "quiet_hours_shifted": values["schedule_reason"] == "quiet_hours",
        "schedule": values["schedule_detail"],
    }


def accepted_item(index: int, stored_recipient: bool, group_id, rows: list[dict]):
    if not stored_recipient:
        return BatchAccepted(index=index, **accepted_values(rows[0]))
    return BatchAcceptedGroup(index=index, group_id=group_id,
                              notifications=[Accepted(**accepted_values(row)) for row in rows])


def refused_item(index: int, error: Invalid) -> BatchRefused:
    return BatchRefused(index=index, error=ErrorDetail(**error_body(as_api_error(error))["error"]))


def batch_answer(items: list) -> dict:
    """The 202 body; `items` in index order."""
    refused = sum(isinstance(item, BatchRefused) for item in items)
    return body(BatchAnswer(accepted=len(items) - refused, refused=refused, items=items))
