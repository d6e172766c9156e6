"""How a request names a template to send with: its key and, optionally, a version."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from api.recipients.schema import Locale
from api.strict_model import StrictModel

MAX_KEY = 100  # templates.key
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)
KEY_HELP = "letters, digits, `.`, `_` and `-`, starting with a letter or digit"

LocaleTag = Locale  # "en", "fr-CA": the recipients' language tags


def key_problem(key: str) -> str | None:
    if not 0 < len(key) <= MAX_KEY or not _KEY.fullmatch(key):
        return f"must be 1 to {MAX_KEY} {KEY_HELP}"
    return None


def _checked_key(key: str) -> str:
    if problem := key_problem(key):
        raise PydanticCustomError("invalid_format", problem)
    return key


TemplateKey = Annotated[str, AfterValidator(_checked_key)]


@dataclass(frozen=True)
class TemplateUse:
    key: str
    version: int | None  # None: the current version


class TemplateRef(StrictModel):
    """A template to render the content from; without `version`, its current version."""

    key: TemplateKey
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)

    def use(self) -> TemplateUse:
        return TemplateUse(self.key, self.version)
