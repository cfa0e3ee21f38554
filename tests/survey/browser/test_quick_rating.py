"""Quick rating on a 360-px phone, JavaScript on and off: every button reaches the database.

The bug this guards: with JavaScript on, the hidden "only if…" note left the reason options of a
dissatisfied rating floating in a 77-px column at the right edge, where they could not be ticked, so
dissatisfied answers never arrived and the index leaned upward.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.survey.browser.conftest import PHONE, PageFactory, screenshot
from tests.survey.browser.fill import option_label
from tests.survey.browser.live import Live

pytestmark = pytest.mark.browser

QUICK = "HL-HL-1/Q1"  # the demo commune assigned the quick rating
NOT_SATISFIED, SATISFIED, VERY_SATISFIED = 1, 2, 3


def tap_option(page: Page, item: str, index: int) -> None:
    """Tap an option's label as a finger would (Playwright refuses a covered or off-screen target)."""
    label = option_label(page, item, index)
    label.click()
    expect(label.locator("input")).to_be_checked()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("rating", [NOT_SATISFIED, SATISFIED, VERY_SATISFIED])
def test_every_rating_button_is_stored(live: Live, open_page: PageFactory, js: bool, rating: int) -> None:
    page = open_page(js=js)
    page.goto(live.url(QUICK))
    tap_option(page, "rating", rating - 1)
    expected: dict[str, tuple[int, ...]] = {"rating": (rating,)}
    if rating == NOT_SATISFIED:
        expect(page.locator("#item-reasons")).to_be_visible()
        tap_option(page, "reasons", 0)  # long wait
        tap_option(page, "reasons", 3)  # result returned late
        expected["reasons"] = (1, 4)
        screenshot(page, f"quick-rating-dissatisfied-{'js' if js else 'nojs'}")
    elif js:
        expect(page.locator("#item-reasons")).to_be_hidden()
    page.locator(".submit-button").click()
    expect(page.locator("[data-page=thanks]")).to_be_visible()
    [stored] = live.responses()
    assert stored.answers == expected
    assert (stored.channel, stored.language) == ("qr", "vi")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_reason_options_span_the_phone_width(live: Live, open_page: PageFactory, js: bool) -> None:
    page = open_page(js=js)
    page.goto(live.url(QUICK))
    tap_option(page, "rating", 0)
    question = page.locator("#item-reasons").bounding_box()
    assert question is not None
    for index in range(6):
        box = option_label(page, "reasons", index).bounding_box()
        assert box is not None
        # Under the question, as wide as it (less its padding), inside the screen, tall enough to tap.
        assert box["x"] < question["x"] + 30, box
        assert box["width"] > question["width"] - 60, box
        assert box["x"] + box["width"] <= PHONE["width"], box
        assert box["height"] >= 44, box
