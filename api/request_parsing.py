"""Reading a request's parts: its JSON body into a request model, and the Idempotency-Key header."""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from flask import request
from pydantic import BaseModel, Field, ValidationError
from werkzeug.exceptions import BadRequest

from api.errors import ApiError
from api.openapi import Parameter
from common.errors import Invalid

Model = TypeVar("Model", bound=BaseModel)

MAX_IDEMPOTENCY_KEY = 255

IDEMPOTENCY_KEY = Parameter(
    "Idempotency-Key", "header",
    Annotated[str, Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)],
    "Repeat a request with the same key (within the idempotency TTL) to get the first answer "
    "again instead of a second notification.")

# Printable ASCII without commas: servers join repeated headers with a comma,
# so a comma would make two Idempotency-Key headers one key.
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x2b\x2d-\x7e]+")


def json_body() -> object:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json",
                       {"Content-Type": "must be application/json"})
    try:
        return request.get_json()
    except (BadRequest, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise ApiError(400, "invalid_json", "the request body is not valid JSON",
                       {"body": "not valid JSON"}) from None


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if "," in key:
        raise Invalid({"Idempotency-Key": "give one Idempotency-Key header, with no comma in it"})
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise Invalid({"Idempotency-Key": f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"})
    return key


def _field_name(location: tuple) -> str:
    return ".".join(str(part) for part in location) or "body"


def schema_problems(error: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False):
        name = _field_name(item["loc"])
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        problems.setdefault(name, message[0].lower() + message[1:])
    return problems


def not_an_object(name: str) -> ApiError:
    return ApiError(400, "bad_request", "the request body must be a JSON object",
                    {name: "must be a JSON object"})


def validated(model: type[Model], payload: object) -> Model:
    """`payload` read as `model`, or the 4xx error naming every field at fault."""
    if not isinstance(payload, dict):
        raise not_an_object("body")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise Invalid(schema_problems(error)) from None
