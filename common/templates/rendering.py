"""Rendering one channel's content block of a template version for one recipient.

A sent message is rendered strictly: a variable the message needs and the
caller did not give refuses it, named `personalisation.<name>`. A preview
renders leniently, showing `{{ name }}` where a variable is missing, and lists
the missing names. Any other failure of the template (a filter given the wrong
kind of value, a sandbox guard) refuses it naming the field that failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from babel import Locale
from jinja2 import TemplateError, UndefinedError

from common.errors import Invalid
from common.templates.formatting import WHERE, Where
from common.templates.sandbox import OutputTooLarge, render_bounded, variables_of
from common.templates.time_limit import RenderTimeout

AUTOESCAPED_FIELDS = frozenset({"html"})  # HTML email bodies: a variable's `<` arrives as `&lt;`
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


@dataclass(frozen=True)
class Rendered:
    content: dict  # field -> text, or {key: text} for a mapping field (push data)
    missing: list[str]  # variables the block uses that were not given


def sources_of(block: Mapping) -> list[str]:
    """Every template source in a content block: its text, and a mapping field's text values."""
    found = []
    for value in block.values():
        found.extend(value.values() if isinstance(value, Mapping) else [value])
    return [source for source in found if isinstance(source, str)]


def block_variables(block: Mapping) -> set[str]:
    return set().union(*(variables_of(source) for source in sources_of(block)))


def _missing_problem(error: UndefinedError, missing: list[str], place: str) -> dict[str, str]:
    if missing:
        return {f"personalisation.{name}": "missing: the template uses it" for name in missing}
    match = _UNDEFINED_NAME.match(str(error.message))
    if match:
        return {f"personalisation.{match.group(1)}": "missing: the template uses it"}
    return {"personalisation": f"{place}: {error.message}"}


def _render_text(source: str, variables: dict, *, field: str, limit: int, strict: bool,
                 place: str, missing: list[str]) -> str:
    try:
        return render_bounded(source, variables, autoescape=field in AUTOESCAPED_FIELDS,
                              limit=limit, strict=strict)
    except UndefinedError as error:
        raise Invalid(_missing_problem(error, missing, place)) from None
    except (OutputTooLarge, RenderTimeout) as error:
        raise Invalid({"template": f"{place}: {error}"}) from None
    except (TemplateError, ArithmeticError, ValueError, TypeError, LookupError, RecursionError,
            OverflowError, AttributeError) as error:
        # The template's own fault (a filter given text where it needs a time, a sandbox guard):
        # told to the caller as data, never logged.
        raise Invalid({"template": f"{place}: {type(error).__name__}: {error}"}) from None


def render_block(block: Mapping, *, locale: str, timezone: str, personalisation: Mapping,
                 limits: Mapping[str, int], place: str, strict: bool = True) -> Rendered:
    """The block rendered for `locale` (a tag babel knows) in the IANA `timezone`."""
    missing = sorted(block_variables(block) - set(personalisation))
    variables = {**personalisation, WHERE: Where(Locale.parse(locale, sep="-"), timezone)}
    content = {}
    for field, value in block.items():
        where = f"{place}.{field}"
        if isinstance(value, Mapping):
            content[field] = {key: _render_text(source, variables, field=field, limit=limits[field],
                                                strict=strict, place=f"{where}.{key}", missing=missing)
                              if isinstance(source, str) else source
                              for key, source in value.items()}
        elif isinstance(value, str):
            content[field] = _render_text(value, variables, field=field, limit=limits[field],
                                          strict=strict, place=where, missing=missing)
        else:  # a number or flag a channel's content may hold is not a template
            content[field] = value
    return Rendered(content, missing)
