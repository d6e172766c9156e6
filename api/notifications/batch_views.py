"""POST /v1/notifications/batch: up to 1,000 notifications in one request, each accepted or refused."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from api.auth import requires_api_key
from api.notifications.batch_schema import MAX_ITEMS, BatchBody, parse_batch
from api.notifications.batch_serialize import BatchAnswer
from api.notifications.batch_service import create_batch
from api.request_parsing import IDEMPOTENCY_KEY, idempotency_key, json_body
from api.openapi import Answer, documented
from api.rate_limits import costs
from common.channels.email import CHANNEL as EMAIL
from common.models import utcnow

bp = Blueprint("batch", __name__, url_prefix="/v1/notifications")


def example_batch(now=None) -> dict:
    """Two emails sharing their channel and content; the second has a body of its own."""
    return {"defaults": {"channel": EMAIL.name,
                         "content": {"subject": "Your order has shipped",
                                     "body": "It arrives on Thursday."}},
            "items": [{"to": "ada@example.com", "reference": "order-42"},
                      {"to": "grace@example.com", "reference": "order-43",
                       "content": {"body": "It arrives on Friday."}}]}


def items_in_batch() -> int:
    """What a batch costs its service's write budget: one per item, as that many single POSTs.

    A body that is not a batch of 1 to MAX_ITEMS items costs one request: the view refuses it.
    """
    try:
        payload = request.get_json(silent=True)
    except (HTTPException, RecursionError):  # too large, or nested too deeply: refused below
        return 1
    items = payload.get("items") if isinstance(payload, dict) else None
    return len(items) if isinstance(items, list) and 0 < len(items) <= MAX_ITEMS else 1


@bp.post("/batch")
@documented(
    summary="Send up to 1,000 notifications in one request", tag="notifications",
    body=BatchBody, example=example_batch, parameters=(IDEMPOTENCY_KEY,), errors=(409,),
    description="Each item is `defaults` with the item's own fields on top (`content`, "
                "`options` and `personalisation` field by field; `null` drops a default) and "
                "is checked exactly as "
                "POST /v1/notifications checks a notification. A refused item writes nothing "
                "and does not stop the others. Each item counts as one request against the "
                "write budget. When no item is accepted the answer is a 422 naming every "
                "item's fields (`items.<index>.<field>`).",
    answers={202: Answer("At least one item accepted: every item by its index, with its "
                         "notification (or the recipient's group) or its error.", BatchAnswer,
                         headers={"Idempotent-Replayed": "`true` when this is the first answer "
                                                         "given again."})},
)
@costs(items_in_batch)
@requires_api_key
def create():
    payload = json_body()
    items = parse_batch(payload)
    answer, replayed = create_batch(
        g.api_key, items, payload=payload, idempotency_key=idempotency_key(),
        config=current_app.config["HERALD_SETTINGS"], now=utcnow(),
    )
    response = jsonify(answer)
    response.status_code = 202
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
