"""Query strings: the parameters an endpoint reads, and no others."""

from __future__ import annotations

from pydantic import BaseModel


def unknown_parameters(given, model: type[BaseModel]) -> dict[str, str]:
    """A problem for each query parameter that is not a field of `model` (the documented query).

    Refused rather than ignored: a misspelt filter (`?stauts=failed`) would
    otherwise answer with everything.
    """
    return {name: "unknown query parameter" for name in given if name not in model.model_fields}
