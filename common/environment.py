"""How Herald's settings read the environment: each field from its own variable, empty meaning unset."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import Field, model_validator
from pydantic_settings import (BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource,
                               SettingsConfigDict)

TRUE_WORDS = {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class _DocumentedVariables(EnvSettingsSource):
    """Reads a field from its own variable (its alias) only: never from its Python name."""

    def get_field_value(self, field, field_name):
        if field.validation_alias is None:  # the vendors: each reads its own variables
            return None, field_name, False
        return super().get_field_value(field, field_name)

    def _extract_field_info(self, field, field_name, model_config=None):
        return super()._extract_field_info(field, field_name,
                                           {**(model_config or self.config), "validate_by_name": False})


class FromEnvironment(BaseSettings):
    # Names exactly as written; compose passes an unset variable as an empty
    # string, which means "unset" (the few where empty means something say so).
    # Code and tests may build one by field name; the environment never does.
    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, validate_by_name=True,
                                      validate_by_alias=True, arbitrary_types_allowed=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _DocumentedVariables(settings_cls)

    # Variables whose empty value is a value, not "unset".
    EMPTY_IS_A_VALUE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data):
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v != "" or k in cls.EMPTY_IS_A_VALUE}


# A duration variable: given in seconds, held as a timedelta, never negative.
Seconds = Annotated[timedelta, Field(ge=timedelta(0))]


def seconds(value):
    """A duration given in seconds (the variables' unit) as a timedelta."""
    return timedelta(seconds=float(value)) if isinstance(value, (str, int, float)) else value


def flag(value):
    """A true/false switch: 1, true, yes or on (any case) is true, anything else false."""
    return value.strip().lower() in TRUE_WORDS if isinstance(value, str) else value


def items(value):
    """A comma-separated list (`push, sms`) as a tuple of its non-blank items, stripped."""
    return tuple(item.strip() for item in value.split(",") if item.strip()) if isinstance(value, str) else value
