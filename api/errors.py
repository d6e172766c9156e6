"""One JSON shape for every error the API returns, and the one mapping of domain errors to HTTP.

    {"error": {"status": 422, "code": "invalid_request",
               "message": "to: not a valid E.164 phone number",
               "fields": {"to": "not a valid E.164 phone number"}}}
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from common.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer decided by HTTP itself: a body that is not JSON, no API key, a bad signature."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


# Most specific first: a TooLarge is also an Invalid.
_DOMAIN_STATUS = ((TooLarge, 413), (Invalid, 422), (NotFound, 404), (Conflict, 409),
                  (Forbidden, 403))


def http_status(error: DomainError) -> int:
    return next((status for kind, status in _DOMAIN_STATUS if isinstance(error, kind)), 422)


def as_api_error(error: DomainError) -> ApiError:
    return ApiError(http_status(error), error.code, error.message, error.fields)


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int
    code: str
    message: str
    # Each offending field (body field, parameter or header) and its problem; absent when none.
    fields: dict[str, str] = Field(default_factory=dict, min_length=1)


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def error_body(error: ApiError) -> dict:
    """The JSON document of an error, through the model the contract describes."""
    fields = {"fields": error.fields} if error.fields else {}
    detail = ErrorDetail(status=error.status, code=error.code, message=error.message, **fields)
    return ErrorBody(error=detail).model_dump(mode="json", exclude_unset=True)


def error_response(error: ApiError):
    return jsonify(error_body(error)), error.status


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(DomainError, lambda error: error_response(as_api_error(error)))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = _HTTP_CODES.get(exc.code, "http_error")
        message, fields = exc.description or exc.name, None
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"the request body is larger than {limit} bytes"
            fields = {"body": f"larger than {limit} bytes"}
        response, status = error_response(ApiError(exc.code or 500, code, message, fields))
        # Keep what the exception says about itself, such as the Allow header of a 405.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(ApiError(500, "internal_error", "an unexpected error occurred"))
