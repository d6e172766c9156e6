"""The project's Markdown pages (README.md and docs/*.md) and what the docs tests read from them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def code_blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def prose(page: Path) -> str:
    """The page without its fenced blocks, where a `[x](y)` is code, not a link."""
    return FENCE.sub("", page.read_text())
