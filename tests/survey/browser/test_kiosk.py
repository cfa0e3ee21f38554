"""The counter tablet (800 x 1280, ?mode=kiosk): nobody sees or re-sends the previous citizen's answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.survey.browser.conftest import TABLET, PageFactory, axe_violations, screenshot
from tests.survey.browser.fill import Mood, fill_form, option_label, submit
from tests.survey.browser.live import Live, serve

pytestmark = pytest.mark.browser

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
KIOSK = "HL-AB-1/KIOSK"  # serves the province's SIPAS questionnaire


@pytest.fixture
def quick_kiosk(migrated_db: Path, tmp_path: Path) -> Iterator[Live]:
    """A live server whose kiosk returns after 2 s and asks "still answering?" after 2 s idle
    (6 s to answer)."""
    with serve(migrated_db, tmp_path, KIOSK_RETURN_SECONDS=2, KIOSK_IDLE_SECONDS=2,
               KIOSK_IDLE_WARNING_SECONDS=6) as server:
        yield server


def nothing_answered(page: Page) -> None:
    expect(page.locator("#survey-form input:checked")).to_have_count(0)
    expect(page.locator("#q-comment")).to_have_value("")


@JS
def test_back_and_reload_after_thanks_reveal_nothing(live: Live, open_page: PageFactory, js: bool) -> None:
    page = open_page(js=js, viewport=TABLET)
    page.goto(live.url(KIOSK, mode="kiosk"))
    answers, _ = fill_form(page, Mood.DISSATISFIED)
    submit(page)
    expect(page.locator("[data-page=thanks]")).to_be_visible()
    page.go_back()
    # The form already sent leads to the thank-you page: no previous answer is on screen.
    expect(page.locator("[data-page=thanks]")).to_be_visible()
    expect(page.locator("input:checked")).to_have_count(0)
    page.reload()
    expect(page.locator("input:checked")).to_have_count(0)
    page.locator(".button-link").click()  # "start a new form now"
    nothing_answered(page)
    submit(page)  # the next citizen sends it empty: refused, nothing stored
    expect(page.locator("#error-summary")).to_be_visible()
    assert [(r.answers, r.channel) for r in live.responses()] == [(answers, "kiosk")]


def test_thanks_returns_to_a_fresh_form_out_of_the_history(quick_kiosk: Live, open_page: PageFactory) -> None:
    page = open_page(js=True, viewport=TABLET)
    page.goto(quick_kiosk.url(KIOSK, mode="kiosk"))
    fill_form(page, Mood.SATISFIED)
    submit(page)
    expect(page.locator("[data-page=thanks] [data-countdown]")).to_be_visible()
    expect(page.locator("#survey-form")).to_be_visible(timeout=6000)  # after the countdown
    nothing_answered(page)
    page.go_back()
    expect(page.locator("#survey-form input:checked")).to_have_count(0)
    assert len(quick_kiosk.responses()) == 1


def test_idle_form_asks_then_clears_itself(quick_kiosk: Live, open_page: PageFactory) -> None:
    page = open_page(js=True, viewport=TABLET, bypass_csp=True)  # for axe's injected script
    page.goto(quick_kiosk.url(KIOSK, mode="kiosk"))
    option_label(page, "e1_info", 0).click()
    dialog = page.locator("#kiosk-idle")
    expect(dialog).to_be_visible(timeout=4000)
    expect(dialog.locator("[data-countdown]")).to_be_visible()
    screenshot(page, "kiosk-idle-dialog", full_page=False)
    assert axe_violations(page) == []
    dialog.locator("[data-continue]").click()  # the citizen is still there: the answer stays
    expect(dialog).to_be_hidden()
    expect(option_label(page, "e1_info", 0).locator("input")).to_be_checked()
    expect(dialog).to_be_visible(timeout=4000)  # idle again, and this time nobody answers
    expect(option_label(page, "e1_info", 0).locator("input")).not_to_be_checked(timeout=10000)
    nothing_answered(page)
    page.go_back()
    expect(page.locator("#survey-form input:checked")).to_have_count(0)
    assert quick_kiosk.responses() == []



def test_registered_tablet_url_serves_forms_until_revoked(quick_kiosk: Live, open_page: PageFactory) -> None:
    from datetime import UTC, datetime

    from survey.demo.tree import seed_demo_kiosk
    from survey.extensions import db
    from survey.models import Counter, KioskDevice
    from survey.services.organisation.kiosks import device_token

    with quick_kiosk.app.app_context():
        device = seed_demo_kiosk(db.session, [db.session.get(Counter, quick_kiosk.counters[KIOSK])])
        db.session.commit()
        url = f"{quick_kiosk.base}/k/{device_token(device, quick_kiosk.app.config['SECRET_KEY'])}"
        device_id = device.id
    page = open_page(js=True, viewport=TABLET)
    page.goto(url)
    answers, _ = fill_form(page, Mood.SATISFIED)
    submit(page)
    expect(page.locator("[data-page=thanks]")).to_be_visible()
    expect(page.locator("#survey-form")).to_be_visible(timeout=6000)  # the next citizen's form
    nothing_answered(page)
    assert [(r.answers, r.channel) for r in quick_kiosk.responses()] == [(answers, "kiosk")]
    with quick_kiosk.app.app_context():
        db.session.get(KioskDevice, device_id).revoked_at = datetime.now(UTC)  # type: ignore[union-attr]
        db.session.commit()
    page.goto(url)
    expect(page.locator("[data-error-code=E-KIOSK-REVOKED]")).to_be_visible()
