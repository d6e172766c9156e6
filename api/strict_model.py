"""The base of every request model: unknown fields and loose types are refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    # strict: "1" is not an int and 1 is not a string; a caller's JSON means what it says.
    model_config = ConfigDict(extra="forbid", strict=True)
