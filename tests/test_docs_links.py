"""Every relative link in README.md and docs/*.md points to a file that exists, and to a heading
that exists in it when it names one (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.docs import ROOT, name, pages, prose

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)
# Pages another branch of the same issue adds; a link to one is checked once it exists.
# (docs/configuration.md is generated from the settings.)
ARRIVING = {"docs/configuration.md"}


def anchors(page: Path) -> set[str]:
    """GitHub's ids for a page's headings: lower case, punctuation dropped, spaces to hyphens,
    a repeated heading numbered -1, -2, ..."""
    seen: dict[str, int] = {}
    ids = set()
    for heading in HEADING.findall(prose(page)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        ids.add(slug if count == 0 else f"{slug}-{count}")
    return ids


def relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto:


@pytest.mark.parametrize("page", pages(), ids=name)
def test_every_relative_link_resolves(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            if linked.relative_to(ROOT).as_posix() not in ARRIVING:
                broken.append(f"{target}: no such file")
            continue
        if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {name(linked)}")

    assert broken == [], f"{name(page)} has broken links"


def test_the_checker_sees_links_and_anchors():
    readme = ROOT / "README.md"

    assert "docs/api.md" in relative_links(readme)
    assert {"the-reference-openapijson-and-docs", "rate-limits"} <= anchors(ROOT / "docs" / "api.md")
