"""A citizen on a 360-px phone, JavaScript on and off: every scenario checked in the database."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.survey.browser.conftest import PageFactory, screenshot
from tests.survey.browser.fill import COMMENT, Mood, expect_kept, fill_form, option_label, submit
from tests.survey.browser.live import Live

pytestmark = pytest.mark.browser

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
SIPAS = "HL-TTHCC-1/Q1"  # the province's SIPAS questionnaire
# instrument -> the demo counter that serves it (`flask seed demo`: the hospital's and school's too)
COUNTERS = {"sipas-counter": SIPAS, "quick-rating": "HL-HL-1/Q1", "outpatient": "HL-BV-1/KKB",
            "school-parents": "HL-HL-THCS/PH"}


def thanks_shown(page) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator("[data-page=thanks]")).to_be_visible()


@JS
@pytest.mark.parametrize("mood", list(Mood))
@pytest.mark.parametrize("instrument", list(COUNTERS))
def test_every_instrument_completed(live: Live, open_page: PageFactory, instrument: str, mood: Mood,
                                    js: bool) -> None:
    page = open_page(js=js)
    page.goto(live.url(COUNTERS[instrument]))
    answers, texts = fill_form(page, mood)
    submit(page)
    thanks_shown(page)
    [stored] = live.responses()
    assert stored.answers == answers and stored.texts == texts
    assert stored.channel == "qr" and stored.language == "vi"


@JS
def test_validation_error_keeps_answers_and_focuses_the_summary(live: Live, open_page: PageFactory,
                                                                js: bool) -> None:
    page = open_page(js=js)
    page.goto(live.url(SIPAS))
    answers, texts = fill_form(page, Mood.DISSATISFIED, skip=frozenset({"overall"}))  # the required one
    submit(page)
    summary = page.locator("#error-summary")
    # The app's own Vietnamese summary (no native bubble: the form is `novalidate`), and the focus on it.
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Xin vui lòng kiểm tra lại câu trả lời")
    expect(summary).to_be_focused()
    assert page.locator("#survey-form").get_attribute("novalidate") is not None
    screenshot(page, f"validation-error-{'js' if js else 'nojs'}")
    assert live.responses() == []
    expect_kept(page, answers)  # everything answered is still ticked
    expect(page.locator("#q-comment")).to_have_value(COMMENT)
    option_label(page, "overall", 0).click()
    submit(page)
    thanks_shown(page)
    [stored] = live.responses()
    assert stored.answers == {**answers, "overall": (1,)} and stored.texts == texts


@JS
def test_language_switch_mid_survey_keeps_the_answers(live: Live, open_page: PageFactory, js: bool) -> None:
    page = open_page(js=js)
    page.goto(live.url(SIPAS))
    answers, texts = fill_form(page, Mood.SATISFIED)
    page.locator(".lang-switch [lang=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".submit-button")).to_have_text("Send my answers")
    expect_kept(page, answers)
    assert live.responses() == []
    submit(page)
    thanks_shown(page)
    [stored] = live.responses()
    assert stored.answers == answers and stored.texts == texts and stored.language == "en"


@JS
def test_double_tap_stores_one_response(live: Live, open_page: PageFactory, js: bool) -> None:
    page = open_page(js=js)
    page.goto(live.url("HL-HL-1/Q1"))
    answers, _ = fill_form(page, Mood.SATISFIED)
    page.locator(".submit-button").dblclick()
    thanks_shown(page)
    assert [r.answers for r in live.responses()] == [answers]


@pytest.mark.parametrize("detour", ["errors", "language"])
def test_back_after_thanks_from_a_page_that_answered_a_post(live: Live, open_page: PageFactory,
                                                            detour: str) -> None:
    """The form sent back with its errors, or switched to English, is the answer to a post; Back to it
    after the thank-you page once showed a blank "confirm resubmission" page (ERR_CACHE_MISS)."""
    page = open_page(js=True)
    page.goto(live.url("HL-HL-1/Q1"))
    if detour == "errors":
        submit(page)  # nothing answered: the required questions come back marked
        expect(page.locator("#error-summary")).to_be_visible()
    else:
        page.locator(".lang-switch button[lang=en]").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    fill_form(page, Mood.SATISFIED)
    submit(page)
    thanks_shown(page)
    page.go_back()
    thanks_shown(page)
    assert len(live.responses()) == 1


@JS
def test_back_after_thanks_never_stores_a_second_response(live: Live, open_page: PageFactory,
                                                          js: bool) -> None:
    page = open_page(js=js)
    page.goto(live.url("HL-HL-1/Q1"))
    fill_form(page, Mood.DISSATISFIED)
    submit(page)
    thanks_shown(page)
    page.go_back()
    # The form this browser already sent leads to the thank-you page, with no answer to send again.
    thanks_shown(page)
    expect(page.locator("#survey-form")).to_have_count(0)
    page.reload()
    thanks_shown(page)
    assert len(live.responses()) == 1
