"""Settings for a test: a copy of the run's settings with some fields changed."""

from __future__ import annotations

from pydantic import BaseModel


def replace(settings: BaseModel, **changes):
    """A copy of frozen settings with `changes` by field name, checked like the environment's values.

    An unknown name is an error, as a misspelt variable would be caught at start.
    """
    model = type(settings)
    return model(**{**{name: getattr(settings, name) for name in model.model_fields}, **changes})
