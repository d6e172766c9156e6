"""Headless Chromium for the browser tests: Debian's chromium, driven by Playwright.

Without Chromium a browser test is skipped with how to install it, except
under CI=true, where the README's test setup has installed it and its absence
fails the run.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support.services import in_ci

INSTALL = "apt-get update && apt-get install -y chromium"
# The binary's names on Debian and Ubuntu; CHROMIUM_PATH names another.
NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str:
    """The Chromium to drive, or a skip (a failure under CI=true) saying how to install it."""
    found = os.environ.get("CHROMIUM_PATH") or next(filter(None, map(shutil.which, NAMES)), None)
    if found:
        return found
    problem = f"Chromium is not installed (Debian: {INSTALL}; or set CHROMIUM_PATH)"
    if in_ci():
        pytest.fail(f"the browser tests need Chromium under CI=true: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's tests."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()
