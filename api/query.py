"""Query strings: the parameters an endpoint reads, and no others."""

from __future__ import annotations

from pydantic import BaseModel


def unknown_parameters(given, model: type[BaseModel]) -> dict[str, str]:
    """A problem for each query parameter that is not a field of `model` (the documented query).

    Refused rather than ignored: a misspelt filter (`?stauts=failed`) would
    otherwise answer with everything.
    """
    return {name: "unknown query parameter" for name in given if name not in model.model_fields}


def whole_number(text: str) -> int | None:
    """The number a query parameter spells in ASCII digits, or None."""
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses;
    # the length cap keeps int() under Python's limit on the digits it reads.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None
