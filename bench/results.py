"""The figures `make bench` reports: their keys, the goals beside them, the table and var/bench/results.json."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from common.config import PROJECT_ROOT

RESULTS_PATH = PROJECT_ROOT / "var" / "bench" / "results.json"

# Exactly the keys issue 10 asks for, in its order; every value a number, or
# null when the figure was not measured (the table says why).
FIGURES: dict[str, tuple[str, ...]] = {
    "api_single": ("herald_rps", "baseline_rps", "ratio", "herald_p99_ms"),
    "api_batch": ("herald_nps",),
    "drain_sandbox": ("herald_tps", "baseline_tps", "ratio"),
    "drain_latency": ("provider_latency_ms", "in_flight", "herald_dps", "ideal_dps", "ratio"),
    "end_to_end": ("sustained_nps", "seconds", "p99_accept_to_sent_ms"),
    "relay": ("rows", "seconds"),
}


@dataclass(frozen=True)
class Goal:
    text: str
    met: Callable[[dict], bool]  # given the section's figures, all present


GOALS: dict[str, Goal] = {
    "api_single": Goal("ratio >= 0.8, p99 <= 25 ms", lambda f: f["ratio"] >= 0.8 and f["herald_p99_ms"] <= 25),
    "api_batch": Goal(">= 10,000 notifications/s", lambda f: f["herald_nps"] >= 10_000),
    "drain_sandbox": Goal("ratio >= 0.5", lambda f: f["ratio"] >= 0.5),
    "drain_latency": Goal(">= 500/s from one process (>= 50 in flight), ratio >= 0.8",
                          lambda f: f["herald_dps"] >= 500 and f["in_flight"] >= 50 and f["ratio"] >= 0.8),
    "end_to_end": Goal(">= 1,000/s for 60 s, p99 <= 1 s",
                       lambda f: f["sustained_nps"] >= 1000 and f["seconds"] >= 60
                       and f["p99_accept_to_sent_ms"] <= 1000),
    "relay": Goal("100,000 rows in < 30 s", lambda f: f["rows"] >= 100_000 and f["seconds"] < 30),
}


@dataclass
class Section:
    """One figure group: its numbers (None = not measured), why any is missing, what bounds it."""

    figures: dict[str, float | None]
    notes: list[str] = field(default_factory=list)


def empty_results() -> dict[str, Section]:
    return {name: Section(dict.fromkeys(keys)) for name, keys in FIGURES.items()}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def as_json(results: dict[str, Section]) -> dict:
    """The document results.json holds: exactly FIGURES' keys, numbers rounded, None as null."""
    document = {}
    for name, keys in FIGURES.items():
        figures = results[name].figures
        if set(figures) != set(keys):
            raise ValueError(f"{name}: keys {sorted(figures)} are not {sorted(keys)}")
        section = {}
        for key in keys:
            value = figures[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ValueError(f"{name}.{key} must be a finite number or None, not {value!r}")
            section[key] = value if value is None or isinstance(value, int) else round(value, 3)
        document[name] = section
    return document


def write_results(results: dict[str, Section], path: Path = RESULTS_PATH) -> Path:
    document = as_json(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(path)
    return path


def verdict(name: str, section: Section) -> str:
    if any(value is None for value in section.figures.values()):
        return "not measured"
    return "met" if GOALS[name].met(section.figures) else "NOT met"


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def table(results: dict[str, Section]) -> str:
    """The figures beside their goals, then each section's notes."""
    lines = ["", f"{'figure':<22}{'value':>12}   goal", "-" * 78]
    for name, keys in FIGURES.items():
        section = results[name]
        lines.append(f"{name:<22}{'':>12}   {GOALS[name].text}: {verdict(name, section)}")
        for key in keys:
            lines.append(f"  {key:<20}{_number(section.figures[key]):>12}")
        lines.extend(f"    · {note}" for note in section.notes)
    return "\n".join(lines)
