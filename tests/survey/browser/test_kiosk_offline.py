"""The offline kiosk in a real browser: answers taken without a network survive a browser restart and
are stored exactly once when the network returns (docs/kiosk.md, "Offline")."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from tests.survey.browser.conftest import (
    TABLET,
    TIMEOUT_MS,
    PageFactory,
    axe_violations,
    chromium_path,
    screenshot,
)
from tests.survey.browser.fill import Answers, Mood, expect_kept, fill_form, option_label, submit
from tests.survey.browser.live import Live, StoredResponse

pytestmark = pytest.mark.browser

KIOSK = "HL-AB-1/KIOSK"  # serves the province's SIPAS questionnaire


def tablet_url(live: Live) -> str:
    from survey.demo.tree import seed_demo_kiosk
    from survey.extensions import db
    from survey.models import Counter
    from survey.services.organisation.kiosks import device_token

    with live.app.app_context():
        device = seed_demo_kiosk(db.session, [db.session.get(Counter, live.counters[KIOSK])])  # type: ignore[list-item]
        db.session.commit()
        return f"{live.base}/k/{device_token(device, live.app.config['SECRET_KEY'])}"


def launch(playwright: Playwright, profile: Path) -> BrowserContext:
    """Chromium on a profile kept on disk: closing and launching again is a real browser restart."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_path(), headless=True, viewport=TABLET, locale="vi-VN",
        bypass_csp=True)  # for axe's injected script
    context.set_default_timeout(TIMEOUT_MS)
    return context


def open_tablet(context: BrowserContext, url: str) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url)
    # The worker answers the page once it has cached the form and its nonce stock and tried the queue.
    expect(page.locator("#kiosk-queue[data-ready]")).to_have_count(1, timeout=30000)
    return page


def wait_for_rows(live: Live, count: int, seconds: float = 30) -> list[StoredResponse]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = live.responses()
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    return live.responses()


def test_three_answers_taken_offline_are_stored_once_after_a_restart(live: Live, playwright: Playwright,
                                                                      tmp_path: Path) -> None:
    url, profile = tablet_url(live), tmp_path / "tablet-profile"
    context = launch(playwright, profile)
    page = open_tablet(context, url)
    context.set_offline(True)
    given: list[Answers] = []
    for n, (mood, skip) in enumerate([(Mood.SATISFIED, frozenset()), (Mood.DISSATISFIED, frozenset()),
                                      (Mood.SATISFIED, frozenset({"comment"}))]):
        answers, _ = fill_form(page, mood, skip)
        given.append(answers)
        if n == 0:  # the language switch needs the server: offline it leaves the page as it is
            page.locator(".lang-switch button[lang=en]").click()
            expect(page.locator("html")).to_have_attribute("lang", "vi")
            expect_kept(page, answers)
        submit(page)
        expect(page.locator("[data-page=thanks]")).to_be_visible()  # the normal thank-you, in Vietnamese
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        expect(page.locator("#kiosk-queue")).to_have_attribute("data-waiting-count", str(n + 1),
                                                                            timeout=10000)
        page.locator(".button-link").click()  # "start a new form now": the cached form, empty
        expect(page.locator("#survey-form input:checked")).to_have_count(0)
    queue = page.locator("#kiosk-queue")
    expect(queue).to_have_text("3 câu trả lời đang chờ gửi")
    screenshot(page, "kiosk-offline-3-waiting", full_page=False)
    assert axe_violations(page) == []  # the cached form with the staff's line, served by the worker
    assert live.responses() == []  # nothing reached the server
    context.close()

    context = launch(playwright, profile)  # the same tablet, the next morning, online again
    page = open_tablet(context, url)
    rows = wait_for_rows(live, 3)
    assert len(rows) == 3
    assert sorted((r.answers for r in rows), key=str) == sorted(given, key=str)
    assert {r.channel for r in rows} == {"kiosk"}
    expect(queue := page.locator("#kiosk-queue")).to_be_hidden()
    assert queue.get_attribute("data-waiting-count") == "0"

    # Reconnecting twice and reloading sends nothing again.
    for _ in range(2):
        context.set_offline(True)
        context.set_offline(False)
    page.reload()
    expect(page.locator("#kiosk-queue[data-ready]")).to_have_count(1, timeout=30000)
    time.sleep(1)
    assert [r.id for r in live.responses()] == [r.id for r in rows]
    context.close()


def test_without_service_workers_the_tablet_works_as_before(live: Live, open_page: PageFactory) -> None:
    page = open_page(js=True, viewport=TABLET, service_workers="block")
    page.goto(tablet_url(live))
    answers, _ = fill_form(page, Mood.SATISFIED)
    submit(page)
    expect(page.locator("[data-page=thanks]")).to_be_visible()
    expect(page.locator("#kiosk-queue")).to_be_hidden()
    assert page.evaluate("navigator.serviceWorker.controller") is None
    assert [(r.answers, r.channel) for r in live.responses()] == [(answers, "kiosk")]


def test_offline_the_tablet_points_at_a_required_question_before_queueing(live: Live, playwright: Playwright,
                                                                          tmp_path: Path) -> None:
    url = tablet_url(live)
    context = launch(playwright, tmp_path / "tablet-profile")
    page = open_tablet(context, url)
    context.set_offline(True)
    answers, _ = fill_form(page, Mood.SATISFIED, skip=frozenset({"overall"}))
    # The language switch sends the form unchecked (formnovalidate); offline it leaves the page as it is.
    page.locator(".lang-switch button[lang=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("#error-summary")).to_have_count(0)
    submit(page)
    submit(page)  # a second tap shows the errors once
    # Nobody could tell the citizen later that the server refused it: the tablet does now, with the
    # error summary the server gives an online form, styled by a style sheet the worker kept, focused.
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("Xin vui lòng kiểm tra lại câu trả lời")
    expect(summary.locator("li")).to_have_text(re.compile(
        r"^Nhìn chung, Ông/Bà hài lòng thế nào .*\?: Xin vui lòng trả lời câu hỏi này\.$"))
    expect(summary.locator(".error-code code")).to_have_text("E-REQUIRED")
    assert summary.evaluate("el => getComputedStyle(el).borderTopWidth") == "3px"
    question = page.locator("#item-overall")
    expect(question).to_have_class(re.compile(r"\bhas-error\b"))
    expect(question.locator(".field-error")).to_have_count(1)
    expect(question.locator(".field-error")).to_contain_text("E-REQUIRED")
    assert axe_violations(page) == []
    summary.locator("a").click()  # leads to the question's first answer, ready to be chosen
    expect(question.locator("input").first).to_be_focused()
    expect(page.locator("[data-page=thanks]")).to_have_count(0)
    expect_kept(page, answers)
    option_label(page, "overall", 4).click()
    submit(page)
    expect(page.locator("[data-page=thanks]")).to_be_visible()
    expect(page.locator("#kiosk-queue")).to_have_attribute("data-waiting-count", "1", timeout=10000)
    context.set_offline(False)  # the `online` event sends the queue (not the 30 s round)
    rows = wait_for_rows(live, 1, seconds=20)
    assert [(r.answers, r.channel) for r in rows] == [({**answers, "overall": (5,)}, "kiosk")]
    context.close()


def test_offline_the_required_question_is_pointed_at_in_the_page_language(live: Live, playwright: Playwright,
                                                                          tmp_path: Path) -> None:
    context = launch(playwright, tmp_path / "tablet-profile")
    page = open_tablet(context, tablet_url(live))
    page.locator(".lang-switch button[lang=en]").click()  # online: the same form in English
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.set_offline(True)
    submit(page)  # nothing answered: only the required question is named
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("Please check your answers")
    expect(summary.locator("li")).to_have_text("Overall, how satisfied are you with the agency's service on "
                                               "this occasion?: Please answer this question.")
    screenshot(page, "kiosk-offline-required-en", full_page=False)
    context.close()
