"""POST /v1/recipients/{id}/inbox-token: a calling service opens one recipient's inbox for its front end."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from api.auth import requires_api_key
from api.inbox.serialize import InboxToken, token_body
from api.openapi import Answer, documented
from api.recipients.views import EXTERNAL_ID
from common.channels.inapp import recipient_id_problem
from common.errors import Invalid
from common.inbox.store import Inbox
from common.inbox.tokens import issue
from common.models import utcnow

bp = Blueprint("inbox_tokens", __name__, url_prefix="/v1/recipients")


@bp.post("/<path:external_id>/inbox-token")
@documented(summary="A short-lived token for one recipient's inbox", tag="inbox",
            parameters=(EXTERNAL_ID,), errors=(422,),
            description="Hand it to the recipient's front end: it opens that recipient's "
                        "inbox and stream (and nothing else) until `expires_at`. The recipient "
                        "need not be stored.",
            answers={200: Answer("The token.", InboxToken)})
@requires_api_key
def create(external_id: str):
    if problem := recipient_id_problem(external_id):
        raise Invalid({"external_id": problem})
    token, expires_at = issue(Inbox(g.api_key.service, external_id),
                              current_app.config["HERALD_SETTINGS"], utcnow())
    return jsonify(token_body(token, expires_at))


@bp.before_app_request
def refuse_other_methods():
    """405 for GET, PUT or DELETE on .../inbox-token, which the recipient routes (whose ids may
    hold slashes) would otherwise take for a recipient whose id ends in /inbox-token."""
    if request.method == "OPTIONS" and request.endpoint == "inbox_tokens.create":
        response = current_app.response_class()
        response.headers["Allow"] = "OPTIONS, POST"
        return response
    if (request.endpoint or "").startswith("recipients.") and \
            str((request.view_args or {}).get("external_id", "")).endswith("/inbox-token"):
        raise MethodNotAllowed(valid_methods=["POST"])
    return None
