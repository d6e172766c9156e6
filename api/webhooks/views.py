"""The /v1/webhooks endpoints: parse, call one service function, serialise."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, g, jsonify, request

from api.auth import requires_api_key
from api.openapi import Answer, Parameter, documented
from api.request_parsing import json_body
from api.webhooks import serialize, service
from api.webhooks.schema import (MessagesQuery, RecoverQuery, WebhookBody, parse_messages_query,
                                 parse_recover_query, parse_webhook)
from api.webhooks.serialize import (CreatedWebhook, MessageList, MessageSummary, Recovered,
                                    RotatedSecret, WebhookList, WebhookView)
from common.models import utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")

WEBHOOK_ID = Parameter("webhook_id", "path", uuid.UUID, "The endpoint's id, as created.")
MESSAGE_ID = Parameter("message_id", "path", uuid.UUID, "The message's id, from its log.")


def example_webhook(now=None) -> dict:
    # example.com: documentation's own domain, never a real receiver.
    return {"url": "https://example.com/herald-hooks",
            "event_types": ["notification.sent", "notification.failed"],
            "description": "order service"}


def _settings():
    return current_app.config["HERALD_SETTINGS"]


@bp.post("")
@documented(summary="Receive status changes at a URL", tag="webhooks", body=WebhookBody,
            example=example_webhook,
            answers={201: Answer("Created; `secret` signs every message and is shown only here.",
                                 CreatedWebhook, headers={"Location": "The endpoint's URL."})})
@requires_api_key
def create():
    config = _settings()
    wanted = parse_webhook(json_body(), allow_private=config.webhook_allow_private)
    endpoint = service.create_endpoint(g.api_key.service, wanted, config, utcnow())
    response = jsonify(serialize.created_body(endpoint))
    response.status_code = 201
    response.headers["Location"] = f"/v1/webhooks/{endpoint.id}"
    return response


@bp.get("")
@documented(summary="The service's webhook endpoints", tag="webhooks",
            answers={200: Answer("Every endpoint, oldest first, with its status.", WebhookList)})
@requires_api_key
def index():
    return jsonify(serialize.list_body(service.list_endpoints(g.api_key.service)))


@bp.get("/<uuid:webhook_id>")
@documented(summary="A webhook endpoint", tag="webhooks", parameters=(WEBHOOK_ID,),
            answers={200: Answer("The endpoint, enabled or disabled and why.", WebhookView)})
@requires_api_key
def show(webhook_id: uuid.UUID):
    return jsonify(serialize.webhook_body(service.find_endpoint(g.api_key.service, webhook_id)))


@bp.delete("/<uuid:webhook_id>")
@documented(summary="Remove a webhook endpoint and its messages", tag="webhooks",
            parameters=(WEBHOOK_ID,), answers={204: Answer("Deleted.", media_types=())})
@requires_api_key
def delete(webhook_id: uuid.UUID):
    service.delete_endpoint(g.api_key.service, webhook_id)
    return "", 204


@bp.post("/<uuid:webhook_id>/rotate-secret")
@documented(summary="Rotate the signing secret", tag="webhooks", parameters=(WEBHOOK_ID,),
            description="The new secret signs from now on; the old one also signs (a second "
                        "`v1,` signature) until `previous_secret_expires_at`.",
            answers={200: Answer("The new secret, shown only here.", RotatedSecret)})
@requires_api_key
def rotate_secret(webhook_id: uuid.UUID):
    endpoint = service.rotate_secret(g.api_key.service, webhook_id, _settings(), utcnow())
    return jsonify(serialize.rotated_body(endpoint))


@bp.get("/<uuid:webhook_id>/messages")
@documented(summary="The endpoint's messages, newest first, with every attempt", tag="webhooks",
            parameters=(WEBHOOK_ID,), query=MessagesQuery,
            answers={200: Answer("A page of messages and their attempts; follow `next_cursor`.",
                                 MessageList)})
@requires_api_key
def messages(webhook_id: uuid.UUID):
    filters = parse_messages_query(request.args)
    page, next_cursor = service.list_messages(g.api_key.service, webhook_id, filters)
    return jsonify(serialize.messages_body(page, next_cursor))


@bp.post("/<uuid:webhook_id>/messages/<uuid:message_id>/replay")
@documented(summary="Send a message again now", tag="webhooks",
            parameters=(WEBHOOK_ID, MESSAGE_ID),
            answers={202: Answer("Queued, under the same webhook-id.", MessageSummary)})
@requires_api_key
def replay(webhook_id: uuid.UUID, message_id: uuid.UUID):
    message = service.replay_message(g.api_key.service, webhook_id, message_id, utcnow())
    return jsonify(serialize.message_summary(message)), 202


@bp.post("/<uuid:webhook_id>/recover")
@documented(summary="Send again every failed message since a time", tag="webhooks",
            parameters=(WEBHOOK_ID,), query=RecoverQuery,
            description="Also enables the endpoint again if five days of failures disabled it.",
            answers={202: Answer("How many were queued.", Recovered)})
@requires_api_key
def recover(webhook_id: uuid.UUID):
    now = utcnow()
    since = parse_recover_query(request.args, now)
    replayed, more = service.recover(g.api_key.service, webhook_id, since, now)
    return jsonify(serialize.recovered_body(replayed, more)), 202
