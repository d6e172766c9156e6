"""The /v1/recipients endpoints: a service's recipients and their preferences.

A recipient is known by the calling service's own id for them (`external_id`)
and is visible to that service only. PUT replaces the whole record.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, g, jsonify, url_for
from pydantic import Field

from api.auth import requires_api_key
from api.openapi import Answer, Parameter, documented
from api.recipients.schema import MAX_EXTERNAL_ID, RecipientBody, checked_external_id, parse_recipient
from api.recipients.serialize import RecipientView, recipient_body
from api.recipients.service import delete_recipient, get_recipient, put_recipient
from api.request_parsing import json_body
from common.models import utcnow

bp = Blueprint("recipients", __name__, url_prefix="/v1/recipients")

# `path`: a caller's ids may contain slashes ("tenant/42").
ROUTE = "/<path:external_id>"
EXTERNAL_ID = Parameter("external_id", "path",
                        Annotated[str, Field(min_length=1, max_length=MAX_EXTERNAL_ID)],
                        "The calling service's own id for the recipient; may contain slashes.")


def example_recipient(now=None) -> dict:
    # example.com and a UK drama number (07700 900xxx): no real person.
    return {"timezone": "Europe/London", "locale": "en-GB", "email": "ada@example.com",
            "phone": "+447700900123", "quiet_hours": {"start": "22:00", "end": "08:00"}}


@bp.put(ROUTE)
@documented(summary="Create or replace a recipient", tag="recipients", body=RecipientBody,
            example=example_recipient,
            parameters=(EXTERNAL_ID,),
            answers={200: Answer("Replaced.", RecipientView),
                     201: Answer("Created.", RecipientView,
                                 headers={"Location": "The recipient's URL."})})
@requires_api_key
def put(external_id: str):
    preferences = parse_recipient(external_id, json_body())
    recipient, created = put_recipient(g.api_key.service, external_id, preferences, utcnow())
    response = jsonify(recipient_body(recipient))
    response.status_code = 201 if created else 200
    if created:
        response.headers["Location"] = url_for("recipients.show", external_id=external_id)
    return response


@bp.get(ROUTE)
@documented(summary="A recipient", tag="recipients", parameters=(EXTERNAL_ID,), errors=(422,),
            answers={200: Answer("The recipient.", RecipientView)})
@requires_api_key
def show(external_id: str):
    return jsonify(recipient_body(get_recipient(g.api_key.service, checked_external_id(external_id))))


@bp.delete(ROUTE)
@documented(summary="Forget a recipient", tag="recipients", parameters=(EXTERNAL_ID,),
            errors=(422,), answers={204: Answer("Deleted.", media_types=())})
@requires_api_key
def delete(external_id: str):
    delete_recipient(g.api_key.service, checked_external_id(external_id))
    return "", 204
