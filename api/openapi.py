"""How a view declares its contract for GET /openapi.json: `@documented(...)` and its parts.

Each view says what it takes and answers with `@documented(...)`: the pydantic
model that validates its body, its parameters, and the models its answers are
serialised through. `api.openapi_document` builds the document from the app's
routes and those declarations, so there is no second copy of any schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Answer:
    """One response of an operation: a model (or several, any one of them) and its media type."""

    description: str
    model: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    media_types: tuple[str, ...] = (JSON,)  # none: the answer has no body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "query", "header" or "path"
    annotation: Any  # a type pydantic can describe
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    answers: dict[int, Answer]
    body: type[BaseModel] | None = None
    body_media_type: str = JSON
    # A body that succeeds, for the docs and the contract test: now -> body (times relative to now).
    example: Callable[[datetime], dict] | None = None
    query: type[BaseModel] | None = None  # each field is a query parameter
    parameters: tuple[Parameter, ...] = ()
    errors: tuple[int, ...] = ()
    description: str = ""


def documented(*, summary: str, tag: str, answers: dict[int, Answer], **details) -> Any:
    """Attach the operation's contract to a view (put it right under the route decorator)."""
    operation = Operation(summary=summary, tag=tag, answers=answers, **details)

    def mark(view):
        view.openapi = operation
        return view

    return mark


def not_in_contract(view):
    """Leave a route out of the document (the docs page's static files)."""
    view.openapi = False
    return view
