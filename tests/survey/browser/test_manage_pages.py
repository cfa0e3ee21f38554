"""The managers' pages in a browser under the app's own Content-Security-Policy: nothing refused or
missing, and the unit tree indented by depth (its indents were once style attributes the policy dropped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page

from survey.models import Role
from tests.survey.browser.conftest import PageFactory, screenshot
from tests.survey.browser.live import Live, serve
from tests.survey.staff_helpers import CHEAP_ARGON2, PASSWORD, add_staff

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def manager_live(migrated_db: Path, tmp_path: Path) -> Iterator[Live]:
    with serve(migrated_db, tmp_path, **CHEAP_ARGON2) as server:
        add_staff(server.app, "quanly.tinh", Role.MANAGER, ("HL",))
        yield server


def _signed_in(live: Live, open_page: PageFactory, refused: list[str]) -> Page:
    page = open_page(js=True, viewport=DESKTOP)
    # Chromium reports each thing the policy refuses as a console error naming the policy, and each
    # resource the page asks for and does not get (the browser's own /favicon.ico once) as well.
    page.on("console", lambda message: _note_refusal(message, refused))
    page.on("response", lambda response: refused.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.goto(f"{live.base}/auth/login")
    page.fill("input[name=username]", "quanly.tinh")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url(f"{live.base}/manage/**")
    return page


def _note_refusal(message: ConsoleMessage, refused: list[str]) -> None:
    if "Content Security Policy" in message.text:
        refused.append(message.text[:200])


def _indents(page: Page) -> dict[int, set[float]]:
    """The left padding (px) of the unit column's cells, by the depth their row gives."""
    cells = page.evaluate("""() => [...document.querySelectorAll('table.units tbody tr[class^="depth-"]')]
        .map(row => [Number(row.className.match(/depth-(\\d+)/)[1]),
                     parseFloat(getComputedStyle(row.querySelector('th[scope=row]')).paddingLeft)])""")
    indents: dict[int, set[float]] = {}
    for depth, padding in cells:
        indents.setdefault(depth, set()).add(padding)
    return indents


def test_the_dashboard_tree_is_indented_and_nothing_is_refused(manager_live: Live,
                                                               open_page: PageFactory) -> None:
    refused: list[str] = []
    page = _signed_in(manager_live, open_page, refused)
    page.goto(f"{manager_live.base}/manage/")
    page.wait_for_load_state("load")
    screenshot(page, "manage-dashboard-tree")
    indents = _indents(page)
    # The demo province: the province itself, its departments and communes, and units below them.
    assert sorted(indents) == [0, 1, 2], indents
    assert all(len(paddings) == 1 for paddings in indents.values()), indents  # one indent per depth
    first, second, third = (indents[depth].pop() for depth in (0, 1, 2))
    # app.css makes the root 17 px (106.25 %): .55rem = 9.35 px, then 1.2em more at each level, of the
    # table's 0.93rem: 1.2 × 0.93 × 17 = 18.972 px
    assert first == pytest.approx(9.35, abs=0.05)
    assert second - first == pytest.approx(18.972, abs=0.05)
    assert third - second == pytest.approx(18.972, abs=0.05)
    assert refused == []


def test_a_unit_page_lists_the_units_below_it_indented(manager_live: Live, open_page: PageFactory) -> None:
    refused: list[str] = []
    page = _signed_in(manager_live, open_page, refused)
    page.goto(f"{manager_live.base}/manage/")
    page.locator("table.units tbody tr.depth-0 th a").first.click()
    page.wait_for_load_state("load")
    screenshot(page, "manage-unit-below")
    paddings = page.evaluate("""() => [...document.querySelectorAll('#below-h ~ table.units tbody th')]
        .map(th => [th.className, parseFloat(getComputedStyle(th).paddingLeft)])""")
    assert paddings, "the province's page lists the units below it"
    by_level = {name: padding for name, padding in paddings}
    assert set(by_level) >= {"tree-level-1", "tree-level-2"}, by_level
    assert by_level["tree-level-2"] - by_level["tree-level-1"] == pytest.approx(18.972, abs=0.05)
    assert refused == []
