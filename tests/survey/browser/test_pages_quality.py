"""Every public page, as a phone shows it: axe-core, touch targets, focus outline, scale labels, wording."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import Page, expect

from tests.survey.browser.conftest import PageFactory, axe_violations, screenshot
from tests.survey.browser.fill import Mood, fill_form, submit
from tests.survey.browser.live import Live

pytestmark = pytest.mark.browser

SIPAS, QUICK, KIOSK = "HL-TTHCC-1/Q1", "HL-HL-1/Q1", "HL-AB-1/KIOSK"


def _survey(live: Live, page: Page) -> None:
    page.goto(live.url(SIPAS))


def _quick(live: Live, page: Page) -> None:
    page.goto(live.url(QUICK))


def _outpatient(live: Live, page: Page) -> None:
    page.goto(live.url("HL-BV-1/KKB"))


def _school(live: Live, page: Page) -> None:
    page.goto(live.url("HL-HL-THCS/PH"))


def _errors(live: Live, page: Page) -> None:
    page.goto(live.url(QUICK))
    submit(page)  # nothing answered: the required rating is missing
    expect(page.locator("#error-summary")).to_be_visible()


def _error_page(live: Live, page: Page) -> None:
    page.goto(f"{live.base}/s/not-a-real-code")


def _thanks(live: Live, page: Page) -> None:
    page.goto(live.url(QUICK))
    fill_form(page, Mood.SATISFIED)
    submit(page)
    expect(page.locator("[data-page=thanks]")).to_be_visible()


def _kiosk_thanks(live: Live, page: Page) -> None:
    page.goto(live.url(KIOSK, mode="kiosk"))
    fill_form(page, Mood.SATISFIED)
    submit(page)
    expect(page.locator("[data-page=thanks]")).to_be_visible()


PAGES = {"survey": _survey, "quick-rating": _quick, "outpatient": _outpatient, "school": _school,
         "errors": _errors,
         "error-page": _error_page, "thanks": _thanks, "kiosk-thanks": _kiosk_thanks}


def _open(name: str, live: Live, page: Page) -> None:
    """Open a page as its scenario does, then wait for its load event: a page reached by a form post is
    visible before its stylesheet applies on a busy machine, and sizes measured then are unstyled."""
    PAGES[name](live, page)
    page.wait_for_load_state("load")


@pytest.mark.parametrize("name", list(PAGES))
def test_axe_and_wording(live: Live, open_page: PageFactory, name: str) -> None:
    """No serious or critical axe-core violation; the citizen is addressed as Ông/Bà, never "bạn"."""
    page = open_page(js=True, bypass_csp=True)  # the app's CSP rightly refuses axe's injected script
    _open(name, live, page)
    screenshot(page, f"page-{name}")
    assert axe_violations(page) == []
    text = page.locator("body").inner_text()
    assert not re.findall(r".{40}\bbạn\b.{0,20}", text, re.IGNORECASE)


@pytest.mark.parametrize("name", ["survey", "quick-rating", "errors", "thanks", "kiosk-thanks"])
def test_touch_targets_are_at_least_44_px(live: Live, open_page: PageFactory, name: str) -> None:
    page = open_page(js=True)
    _open(name, live, page)
    small = page.evaluate("""() => [...document.querySelectorAll('a[href], button, .options label, '
        + 'input:not([type=hidden]):not([type=radio]):not([type=checkbox]), textarea')]
      .filter(el => el.offsetParent !== null && !el.closest('.hp-field'))
      .map(el => { const r = el.getBoundingClientRect();
                   return {tag: el.tagName, text: el.textContent.trim().slice(0, 30),
                           w: Math.round(r.width), h: Math.round(r.height)}; })
      .filter(t => t.w < 44 || t.h < 44)""")
    assert small == []


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])


def test_focus_outline_contrasts_3_to_1_with_what_surrounds_it(live: Live, open_page: PageFactory) -> None:
    """WCAG 2.2 SC 1.4.11 / 2.4.13: the focus indicator against the page and the option behind it."""
    page = open_page(js=True)
    page.goto(live.url(QUICK))
    page.keyboard.press("Tab")
    for _ in range(8):  # to the first rating option
        if page.evaluate("document.activeElement.type") == "radio":
            break
        page.keyboard.press("Tab")
    option = page.locator(".options label:has(input:focus)")
    outline = _rgb(option.evaluate("el => getComputedStyle(el).outlineColor"))
    width = option.evaluate("el => parseFloat(getComputedStyle(el).outlineWidth)")
    backgrounds = [_rgb(page.evaluate("getComputedStyle(document.body).backgroundColor")),
                   _rgb(page.evaluate("getComputedStyle(document.querySelector('.item')).backgroundColor"))]
    assert width >= 2
    assert min(_contrast(outline, bg) for bg in backgrounds) >= 3, (outline, backgrounds)


@pytest.mark.parametrize("counter", [SIPAS, "HL-BV-1/KKB", "HL-HL-THCS/PH"])  # SIPAS, outpatient, school
def test_five_point_labels_fit_in_two_lines(live: Live, open_page: PageFactory, counter: str) -> None:
    page = open_page(js=True)
    page.goto(live.url(counter))
    # the lines of each label's text (after its radio button): distinct tops of the text's line boxes
    lines = page.evaluate("""() => [...document.querySelectorAll('.n5 label:not(.na)')].map(el => {
        const text = document.createRange();
        text.selectNodeContents(el.lastChild);
        return new Set([...text.getClientRects()].map(r => Math.round(r.top))).size; })""")
    assert lines and max(lines) <= 2, lines


@pytest.mark.parametrize("js", [True, False])
def test_five_point_scale_reads_in_order_on_a_phone(live: Live, open_page: PageFactory, js: bool) -> None:
    """On a 360-px phone the levels are a list, one under the other in scale order, "no opinion" last: a
    3 + 3 grid put "Hài lòng" under "Rất không hài lòng" and the scale's meaning was lost."""
    page = open_page(js=js)
    page.goto(live.url(SIPAS))
    scales = page.evaluate("""() => [...document.querySelectorAll('.item-scale .options')].map(options =>
        [...options.querySelectorAll('label')].map(label => {
          const r = label.getBoundingClientRect();
          return {top: Math.round(r.top), bottom: Math.round(r.bottom), width: r.width,
                  room: options.getBoundingClientRect().width}; }))""")
    assert len(scales) > 10 and {len(levels) for levels in scales} >= {5, 6}  # with and without "no opinion"
    for levels in scales:
        assert all(below["top"] >= above["bottom"] for above, below in itertools.pairwise(levels)), levels
        assert all(level["width"] >= 0.95 * level["room"] for level in levels), levels  # full width


@pytest.mark.parametrize("name", ["errors", "error-page"])
def test_error_codes_only_in_small_print(live: Live, open_page: PageFactory, name: str) -> None:
    """The stable code is for staff and support: smaller than the message, never the message itself."""
    page = open_page(js=True)
    _open(name, live, page)
    codes = page.evaluate("""() => {
        const body = parseFloat(getComputedStyle(document.body).fontSize);
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const found = [];
        while (walker.nextNode()) {
          const node = walker.currentNode;
          if (!/\\bE-[A-Z]/.test(node.textContent) || !node.parentElement.offsetParent) continue;
          found.push(parseFloat(getComputedStyle(node.parentElement).fontSize) / body);
        }
        return found; }""")
    assert codes and max(codes) <= 0.9, codes
