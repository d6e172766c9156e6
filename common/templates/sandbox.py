"""The Jinja2 sandbox templates run in, and its guards against hostile templates.

Jinja's SandboxedEnvironment refuses attribute access to internals
(`__class__`, `mro`, function globals...). On top of it: undefined variables
are errors (StrictUndefined), the `html` field is autoescaped, string repetition
and powers are bounded, `range` has one budget per render, filters that build
arbitrarily wide text are gone, output stops at its size limit, and a render
has a time limit (`common.templates.time_limit`: a nested loop that prints
nothing still ends).
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, meta, pass_context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from common.templates.formatting import FILTERS
from common.templates.time_limit import time_limit

MAX_REPEAT = 10_000  # characters or items a `*` may make
MAX_POWER = 1_000  # largest exponent of `**`
RANGE_BUDGET = 10_000  # items all the `range` calls of one render may make together
RENDER_SECONDS = 2.0  # one field's render
BUDGET = "__range_budget__"
# Filters whose width argument can build text of any size.
_UNBOUNDED_FILTERS = ("center", "indent", "wordwrap", "format", "xmlattr")
_UNBOUNDED_METHODS = frozenset({"format", "format_map", "center", "ljust", "rjust", "zfill",
                                "expandtabs"})


@pass_context
def _bounded_range(context, *args):
    budget = context[BUDGET]
    items = range(*args)
    budget[0] -= len(items)
    if budget[0] < 0:
        raise SecurityError(f"range() made more than {RANGE_BUDGET} items in one message")
    return items


class HeraldSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) \
                        and len(sequence) * count > MAX_REPEAT:
                    raise SecurityError(f"a repetition of more than {MAX_REPEAT} is refused")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_POWER:
            raise SecurityError(f"an exponent above {MAX_POWER} is refused")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("printf-style formatting is refused; use filters")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value):
        return None  # no sandboxed str.format either: is_safe_attribute refuses it

    def is_safe_attribute(self, obj, attr, value):
        if isinstance(obj, str) and attr in _UNBOUNDED_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)


class Placeholder(ChainableUndefined):
    """What a preview shows for a variable not given: `{{ name }}`, as the template wrote it."""

    def __str__(self) -> str:
        return f"{{{{ {self._undefined_name} }}}}" if self._undefined_name else ""


def _environment(autoescape: bool, strict: bool) -> HeraldSandbox:
    environment = HeraldSandbox(undefined=StrictUndefined if strict else Placeholder,
                                autoescape=autoescape, keep_trailing_newline=True)
    for name in _UNBOUNDED_FILTERS:
        environment.filters.pop(name, None)
    environment.filters.update(FILTERS)
    environment.globals.pop("lipsum", None)
    environment.globals["range"] = _bounded_range
    return environment


# (autoescape, strict) -> its environment; previews are not strict.
ENVIRONMENTS = {(escape, strict): _environment(escape, strict)
                for escape in (False, True) for strict in (False, True)}
PARSER = ENVIRONMENTS[False, True]


def syntax_problem(source: str) -> str | None:
    """None when `source` parses; otherwise what is wrong and on which line."""
    try:
        compiled(source, False, True)  # compiling also finds unknown filters and tests
    except TemplateSyntaxError as error:
        return f"template syntax error on line {error.lineno}: {error.message}"
    return None


def variables_of(source: str) -> set[str]:
    """The names a template reads from its caller (jinja2.meta), less the ones it sets itself."""
    tree = PARSER.parse(source)
    return {name for name in meta.find_undeclared_variables(tree)
            if name not in PARSER.globals}


@lru_cache(maxsize=512)
def compiled(source: str, autoescape: bool, strict: bool):
    return ENVIRONMENTS[autoescape, strict].from_string(source)


class OutputTooLarge(Exception):
    pass


def render_bounded(source: str, variables: dict, *, autoescape: bool, limit: int,
                   strict: bool = True) -> str:
    """The rendered text; OutputTooLarge past `limit` characters, RenderTimeout, or the template's error."""
    template = compiled(source, autoescape, strict)
    parts, size = [], 0
    with time_limit(RENDER_SECONDS):
        for chunk in template.generate({**variables, BUDGET: [RANGE_BUDGET]}):
            size += len(chunk)
            if size > limit:
                raise OutputTooLarge(f"renders to more than {limit} characters")
            parts.append(chunk)
    return "".join(parts)
