"""The OpenAPI 3.1 contract at GET /openapi.json, built from the views' own models.

Each view says what it takes and answers with `@documented(...)`: the pydantic
model that validates its body, its parameters, and the models its answers are
serialised through. The document is generated from the app's routes and those
declarations (`api.openapi`), so there is no second copy of any schema; a
route without a declaration is refused when the document is built (and a test
builds it).
Errors every operation of a kind can meet are added here, once: 401 and 429
for operations behind an API key, 400/413/415/422 for JSON bodies, 404 for
operations on a resource named in the path.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from api.errors import ErrorBody
from api.openapi import JSON, Answer, Operation, Parameter, documented
from common.models import utcnow

bp = Blueprint("openapi", __name__)

REF = "#/components/schemas/{model}"
REBUILD_AFTER = timedelta(hours=1)
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")  # a route argument, its converter optional
# The headers a 429 carries (IETF RateLimit fields, and Retry-After).
RATE_LIMIT_HEADERS = {
    "Retry-After": "Seconds to wait before trying again.",
    "RateLimit-Limit": "Requests allowed in the current window.",
    "RateLimit-Remaining": "Requests left in the current window.",
    "RateLimit-Reset": "Seconds until the window resets.",
}
# In the order the docs show them.
TAGS = {
    "notifications": "Send notifications and follow them.",
    "recipients": "A service's recipients: addresses, timezone, quiet hours, opt-outs.",
    "reminders": "Notifications timed before an event, kept as one group.",
    "inbox": "End users' in-app inbox, opened by an inbox token (the stream is documented in the "
             "API guide).",
    "metrics": "Counts of the calling service's own notifications.",
    "receipts": "Delivery receipts from providers.",
    "operations": "For operators and orchestrators; no API key.",
    "docs": "This document and its page.",
}
ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON, or not a JSON object.",
    401: "No API key, or an unknown or revoked one.",
    403: "The request is not signed as it must be, or the item is in another inbox.",
    404: "No such resource for this service.",
    409: "The request conflicts with the resource's state.",
    411: "A chunked body this server cannot read: send Content-Length.",
    413: "The body, or a part of its content, is larger than allowed.",
    415: "The body is not sent as the media type the operation takes.",
    422: "A field, parameter or header is invalid; `error.fields` names each one.",
    429: "Too many requests for this API key.",
    503: "A dependency is down.",
}


def _openapi_path(rule) -> str:
    """Flask's "/v1/x/<uuid:x_id>" as OpenAPI's "/v1/x/{x_id}"."""
    return _ARGUMENT.sub(r"{\1}", rule.rule)


def _routes(app: Flask):
    """(path, method, view, endpoint) for every route the app serves, sorted."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield _openapi_path(rule), method.lower(), view, rule.endpoint


def undocumented_routes(app: Flask) -> list[str]:
    return [f"{method.upper()} {path}" for path, method, view, _ in _routes(app)
            if getattr(view, "openapi", None) is None]


def _in_contract(app: Flask):
    return [route for route in _routes(app) if route[2].openapi is not False]


def _models(operations) -> list[tuple[type[BaseModel], str]]:
    found: dict[tuple[type[BaseModel], str], None] = {(ErrorBody, "serialization"): None}
    for operation in operations:
        if operation.body is not None:
            found[(operation.body, "validation")] = None
        for answer in operation.answers.values():
            models = answer.model if isinstance(answer.model, tuple) else (answer.model,)
            for model in models:
                if model is not None:
                    found[(model, "serialization")] = None
    return list(found)


def _ref(model: type[BaseModel], mode: str, refs: dict) -> dict:
    return refs[(model, mode)]


def _content(answer: Answer, refs: dict) -> dict:
    if answer.model is None:  # text, or JSON this API does not describe (such as this document)
        return {media_type: {"schema": {} if media_type == JSON else {"type": "string"}}
                for media_type in answer.media_types}
    elif isinstance(answer.model, tuple):
        schema = {"oneOf": [_ref(model, "serialization", refs) for model in answer.model]}
    else:
        schema = _ref(answer.model, "serialization", refs)
    return {media_type: {"schema": schema} for media_type in answer.media_types}


def _response(answer: Answer, refs: dict) -> dict:
    response: dict[str, Any] = {"description": answer.description}
    if answer.media_types:
        response["content"] = _content(answer, refs)
    if answer.headers:
        response["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                               for name, text in answer.headers.items()}
    return response


def _error(status: int, refs: dict) -> dict:
    headers = RATE_LIMIT_HEADERS if status == 429 else {}
    return _response(Answer(ERROR_DESCRIPTIONS[status], ErrorBody, headers=headers), refs)


def _parameter(parameter: Parameter) -> dict:
    schema = TypeAdapter(parameter.annotation).json_schema(ref_template=REF)
    described = {"name": parameter.name, "in": parameter.location,
                 "required": parameter.required or parameter.location == "path", "schema": schema}
    if parameter.description:
        described["description"] = parameter.description
    return described


def _inlined(schema: Any, definitions: dict) -> Any:
    """`schema` with each local $ref replaced by its definition: a parameter stands alone."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inlined(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
        return {key: _inlined(value, definitions) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    return schema


def _query_parameter(model: type[BaseModel], name: str) -> dict:
    schema = model.model_json_schema()
    property_schema = _inlined(schema["properties"][name], schema.get("$defs", {}))
    described = {"name": name, "in": "query", "required": name in schema.get("required", ()),
                 "schema": property_schema}
    if description := model.model_fields[name].description:
        described["description"] = description
    return described


def _operation(operation: Operation, endpoint: str, path_arguments: list[str], secured: str | None,
               refs: dict, now: datetime) -> dict:
    described: dict[str, Any] = {"operationId": endpoint.replace(".", "_"),
                                 "summary": operation.summary, "tags": [operation.tag]}
    if operation.description:
        described["description"] = operation.description
    declared = {p.name for p in operation.parameters if p.location == "path"}
    parameters = [_parameter(Parameter(name, "path", str)) for name in path_arguments
                  if name not in declared]
    parameters += [_query_parameter(operation.query, name) for name in
                   (operation.query.model_fields if operation.query else ())]
    parameters += [_parameter(p) for p in operation.parameters]
    if parameters:
        described["parameters"] = parameters
    errors = set(operation.errors)
    if operation.body is not None:
        media = {"schema": _ref(operation.body, "validation", refs)}
        if operation.example is not None:
            media["example"] = operation.example(now)
        described["requestBody"] = {"required": True, "content": {operation.body_media_type: media}}
        if operation.body_media_type == JSON:
            errors |= {400, 411, 413, 415, 422}
    if path_arguments:
        errors.add(404)
    if operation.query is not None or any(p.location == "header" for p in operation.parameters):
        errors.add(422)  # a parameter out of bounds
    if secured:
        errors |= {401, 429}
        described["security"] = [{secured: []}]
    else:
        described["security"] = []
    responses = {str(status): _response(answer, refs)
                 for status, answer in operation.answers.items()}
    for status in sorted(errors - set(operation.answers)):
        responses[str(status)] = _error(status, refs)
    described["responses"] = dict(sorted(responses.items()))
    return described


def build_document(app: Flask, now: datetime) -> dict:
    """The whole OpenAPI 3.1 document for `app`; examples are timed from `now`."""
    missing = undocumented_routes(app)
    if missing:
        raise LookupError(f"routes without @documented: {', '.join(missing)}")
    routes = _in_contract(app)
    models = _models(view.openapi for _, _, view, _ in routes)
    refs, schemas = models_json_schema(models, ref_template=REF)
    paths: dict[str, dict] = {}
    for path, method, view, endpoint in routes:
        arguments = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        secured = ("apiKey" if getattr(view, "requires_api_key", False) else
                   "inboxToken" if getattr(view, "requires_inbox_token", False) else None)
        paths.setdefault(path, {})[method] = _operation(view.openapi, endpoint, arguments, secured,
                                                        refs, now)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Herald",
            "version": "1",
            "description": "Notification delivery: push (FCM), email (SMTP) and SMS (Twilio), "
                           "timed around each recipient's quiet hours.",
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "An API key made with `flask --app api keys create`."},
                "inboxToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "An end user's inbox token, from "
                                              "POST /v1/recipients/{external_id}/inbox-token."},
            },
        },
    }


@bp.get("/openapi.json")
@documented(summary="This API's OpenAPI 3.1 document", tag="docs",
            answers={200: Answer("The OpenAPI document.")})
def openapi_json():
    return jsonify(document(current_app, utcnow()))


def document(app: Flask, now: datetime) -> dict:
    """The document, built again only once an hour: the examples' times move, the rest does not."""
    built_at, cached = app.extensions.get("herald_openapi", (None, None))
    if cached is None or now - built_at > REBUILD_AFTER:
        cached = build_document(app, now)
        app.extensions["herald_openapi"] = (now, cached)
    return cached
