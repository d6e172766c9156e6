"""The /v1/inbox endpoints, for end users with an inbox token: list, count, read state.

Browsers call them from the calling service's own pages, so they answer
cross-origin requests (CORS): the token travels in a header, never a cookie.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, g, jsonify, request

from api.inbox import service
from api.inbox.auth import requires_inbox_token
from api.inbox.schema import InboxQuery, ReadAllBody, parse_inbox_query, parse_read_all
from api.inbox.serialize import InboxCounts, InboxPage, counts_body, page_body
from api.openapi import Answer, Parameter, documented
from common.models import utcnow

bp = Blueprint("inbox", __name__, url_prefix="/v1/inbox")

ITEM_ID = Parameter("item_id", "path", uuid.UUID, "The item's id (the notification's id).")
COUNTS = Answer("Done; the inbox's counts after it.", InboxCounts)


@bp.after_request
def allow_other_origins(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE"
    return response


@bp.get("")
@documented(summary="The inbox, newest first", tag="inbox", query=InboxQuery,
            description="The items shown become seen (`seen_at`).",
            answers={200: Answer("A page; follow `next_cursor` for the next.", InboxPage)})
@requires_inbox_token
def index():
    items, next_seq, counts = service.list_items(g.inbox, parse_inbox_query(request.args), utcnow())
    return jsonify(page_body(items, next_seq, counts))


@bp.get("/count")
@documented(summary="Unread and unseen items", tag="inbox",
            answers={200: Answer("The counts, from the rows.", InboxCounts)})
@requires_inbox_token
def count():
    return jsonify(counts_body(service.counts(g.inbox)))


def _marking(action: str, summary: str):
    @documented(summary=summary, tag="inbox", parameters=(ITEM_ID,), errors=(403,),
                answers={200: COUNTS})
    @requires_inbox_token
    def view(item_id: uuid.UUID):
        _item, counts = service.mark(g.inbox, item_id, action, utcnow())
        return jsonify(counts_body(counts))

    view.__name__ = action
    return view


for _action, _summary in (("read", "Mark an item read"), ("unread", "Mark an item unread"),
                          ("archive", "Archive an item")):
    bp.add_url_rule(f"/<uuid:item_id>/{_action}", view_func=_marking(_action, _summary),
                    methods=["POST"])


@bp.delete("/<uuid:item_id>")
@documented(summary="Delete an item", tag="inbox", parameters=(ITEM_ID,), errors=(403,),
            answers={200: COUNTS})
@requires_inbox_token
def delete(item_id: uuid.UUID):
    return jsonify(counts_body(service.delete(g.inbox, item_id, utcnow())))


@bp.post("/read-all")
@documented(summary="Mark every item read, up to a seq", tag="inbox", body=ReadAllBody,
            example=lambda now=None: {"up_to": 42},
            description="The body is optional: without it, every item is marked read.",
            answers={200: COUNTS})
@requires_inbox_token
def read_all():
    return jsonify(counts_body(service.read_all(g.inbox, parse_read_all(), utcnow())))
