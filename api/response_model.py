"""The base of every response model, and how times are written in every answer.

Views serialise through pydantic models (`body(...)`), and /openapi.json is
generated from the same models, so the contract cannot drift from the code.
A field left unset is left out of the body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, WithJsonSchema

from common.localtime import utc_iso

# Times are written by `iso`: ISO 8601, UTC as "Z".
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


def iso(moment: datetime | None) -> str | None:
    """Every time in every answer: UTC with `Z`, whatever offset the caller used."""
    return utc_iso(moment) if moment else None


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def body(model: ResponseModel) -> dict:
    """The JSON body of a response model: every field that was set, none that was not."""
    return model.model_dump(mode="json", exclude_unset=True)
