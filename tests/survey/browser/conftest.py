"""Fixtures of the browser suite: Debian's Chromium driven by Playwright, a live server, axe-core.

Chromium is the distribution's (`scripts/system-deps.sh`), never a browser downloaded by Playwright;
axe-core is the npm package pinned in this folder's package-lock.json (`make browser-deps`), injected
from disk. Both are required: a missing one fails the suite with the command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.survey.browser.live import Live, serve

HERE = Path(__file__).parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots are artifacts to look at, not committed (the repository's .gitignore has /out/).
SCREENSHOTS = Path(__file__).parents[3] / "out" / "screenshots"
PHONE = {"width": 360, "height": 640}
TABLET = {"width": 800, "height": 1280}
TIMEOUT_MS = 5000  # a control that is not clickable within 5 s is a failure, not a slow machine


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is missing: run `make system-deps` (Debian package `chromium`)")
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
    yield browser
    browser.close()


@pytest.fixture
def live(migrated_db: Path, tmp_path: Path) -> Iterator[Live]:
    with serve(migrated_db, tmp_path) as server:
        yield server


PageFactory = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[PageFactory]:
    """`open_page(js=True, viewport=PHONE)`: a page in a new, isolated browser context (own cookies)."""
    contexts = []

    def factory(js: bool = True, viewport: dict[str, int] = PHONE, **options: Any) -> Page:
        context = browser.new_context(viewport=viewport, java_script_enabled=js, locale="vi-VN", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of `impacts` on the page as it is now (WCAG 2.x A/AA rules and best practice)."""
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is missing: run `make browser-deps` ({AXE_JS} not found)")
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("async () => await axe.run(document)")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "targets": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in impacts]


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot under out/screenshots/ (an artifact to look at) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".png")
    page.screenshot(path=str(path), full_page=full_page)
    return path
