"""docs/configuration.md lists every setting once, with the default the settings really have."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from pydantic_settings import BaseSettings

from common.config import PROJECT_ROOT, Settings
from common.quiet_hours import QuietHours

REFERENCE = PROJECT_ROOT / "docs" / "configuration.md"
# Derived defaults are shown in terms of the variable they derive from.
VAR_DIR_SHOWN = Path("$HERALD_VAR_DIR")
ROW = re.compile(r"^\| `(?P<variable>[A-Z][A-Z0-9_]*)` \| (?P<default>[^|]*) \|")


def shown(value) -> str | None:
    """A default as the table writes it; None for "no value" (written "(none...)")."""
    if value is None or value in (frozenset(), ()):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, QuietHours):
        return f"{value.start:%H:%M}-{value.end:%H:%M}"
    if isinstance(value, Path) and value.is_relative_to(PROJECT_ROOT):
        return f"./{value.relative_to(PROJECT_ROOT)}"
    return str(value)


def defaults_of(model: type[BaseSettings]) -> dict[str, str | None]:
    """Each environment variable of `model` (and of its vendor groups) with its default shown."""
    found: dict[str, str | None] = {}
    data: dict = {}
    for name, field in model.model_fields.items():
        if field.validation_alias is None:  # a vendor group: its own variables
            vendor = next(t for t in getattr(field.annotation, "__args__", ())
                          if isinstance(t, type) and issubclass(t, BaseSettings))
            found.update(defaults_of(vendor))
            continue
        default = field.get_default(call_default_factory=True, validated_data=data)
        data[name] = VAR_DIR_SHOWN if field.validation_alias == "HERALD_VAR_DIR" else default
        found[field.validation_alias] = shown(default)
    return found


def documented() -> dict[str, str | None]:
    """The table's rows: variable -> the first `code` of its default cell, None for (none...)."""
    rows: dict[str, str | None] = {}
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if match := ROW.match(line):
            variable, cell = match["variable"], match["default"].strip()
            assert variable not in rows, f"{variable} has two rows"
            code = re.match(r"`([^`]+)`", cell)
            assert code or cell.startswith("(none"), f"{variable}: no default in {cell!r}"
            rows[variable] = code[1] if code else None
    return rows


def test_every_setting_has_one_row_with_its_default_and_no_row_names_anything_else():
    expected = defaults_of(Settings)

    assert documented() == expected


def test_the_check_reads_the_defaults_the_settings_use():
    # What the comparison above rests on, for a few settings of each kind.
    expected = defaults_of(Settings)

    assert expected["ETA_HORIZON_SECONDS"] == "600"
    assert expected["QUIET_HOURS"] == "22:00-08:00"
    assert expected["DATABASE_URL"] == "sqlite:///$HERALD_VAR_DIR/herald.db"
    assert expected["HERALD_VAR_DIR"] == "./var"
    assert expected["SMTP_PORT"] == "587"
    assert expected["FCM_PROJECT_ID"] is None and expected["QUORUM_QUEUES"] == "false"
