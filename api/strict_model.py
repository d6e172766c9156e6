"""The base of every request model (unknown fields and loose types are refused), and its text type."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from api.validators import text_problem


class StrictModel(BaseModel):
    # strict: "1" is not an int and 1 is not a string; a caller's JSON means what it says.
    model_config = ConfigDict(extra="forbid", strict=True)


def _storable(value: str) -> str:
    if problem := text_problem(value):
        raise PydanticCustomError("unstorable_text", problem)
    return value


# Every string in a request ends up in PostgreSQL, which refuses some of them.
Text = Annotated[str, AfterValidator(_storable)]
