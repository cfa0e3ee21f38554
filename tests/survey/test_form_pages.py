"""The empty form served from the app's cache of rendered pages (survey.blueprints.form_pages) is the
page a full render gives, byte for byte, for every shipped instrument, language and mode; and no two
requests share the values written into it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, session
from markupsafe import escape

from instruments.registry import RegisteredInstrument, list_instruments
from survey.blueprints import public
from survey.blueprints.form_pages import FormPages, Slots, form_pages
from survey.extensions import db
from survey.models import Counter
from survey.services.citizens.surveys import OpenSurvey, find_instrument
from survey.services.qr.qr_tokens import issue_token, token_secret
from tests.survey.conftest import counter_id, make_app
from tests.survey.survey_helpers import (
    KITCHEN_COUNTER,
    VALID,
    hidden_fields,
    kitchen_sink_paths,
    serve_kitchen_sink_on,
)

# Every shipped instrument, and the fixture that has every item type (conditions, drop-downs, texts).
INSTRUMENTS = [entry.key for entry in list_instruments()] + ["kitchen-sink@2025.1"]
# Two counters of different units, one renamed with every character HTML escapes: the cached page,
# rendered for one of them, must carry the other's names and token, escaped as the template would.
FIRST, SECOND = "HL-AB-1/Q1", "HL-HL-1/Q1"
AWKWARD_NAME = 'Quầy "Một" & <Hai> \'Ba\''


@pytest.fixture
def app(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(migrated_db, tmp_path, WTF_CSRF_ENABLED=True, RECEIPT_COUNTERS=[],
                   INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path))
    serve_kitchen_sink_on(app)
    with app.app_context():
        counter = db.session.get(Counter, counter_id(SECOND, app))
        assert counter is not None
        counter.name_vi = counter.name_en = AWKWARD_NAME
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _pages(app: Flask, registered: RegisteredInstrument, counter_key: str, query: str,
           device: str | None = None) -> tuple[str, str]:
    """(from the cache, full render) of the empty form at `counter_key` with the same nonce."""
    with app.app_context():
        counter = db.session.get(Counter, counter_id(counter_key, app))
        assert counter is not None
        token = issue_token(counter, token_secret(app.config))
        survey = OpenSurvey(counter, registered)
        with app.test_request_context(f"/s/{token}?{query}"):
            if device is not None:
                session[public.KIOSK_DEVICE] = device
            nonce = f"nonce-for-{counter_key}-{query}"
            cached = public.empty_form_page(survey, token, nonce)
            return cached, public.full_empty_form_page(survey, token, nonce)


@pytest.mark.parametrize("instrument_key", INSTRUMENTS)
def test_cached_form_equals_a_full_render(app: Flask, instrument_key: str) -> None:
    instrument_id, version = instrument_key.split("@")
    registered = find_instrument(instrument_id, version, app.config["INSTRUMENT_PATHS"])
    variants = [("lang=vi", None), ("lang=en", None), ("lang=vi&mode=kiosk", None),
                ("lang=en&mode=kiosk", None), ("lang=vi&mode=kiosk", "device-token-1")]
    for (query, device), counter_key in itertools.product(variants, (FIRST, SECOND, FIRST)):
        cached, full = _pages(app, registered, counter_key, query, device)
        assert cached == full, (instrument_key, query, device, counter_key)
        assert str(escape(f"nonce-for-{counter_key}-{query}")) in cached
    assert len(form_pages(app)) == len(variants)  # one page per variant, reused for both counters
    if "kiosk" in query:
        assert "kiosk-offline" in full and "device-token-1" in full  # the registered tablet was seen
    assert "&#34;Một&#34; &amp; &lt;Hai&gt; &#39;Ba&#39;" in _pages(app, registered, SECOND, "lang=vi")[0]


def test_receipt_counter_has_a_page_of_its_own(app: Flask) -> None:
    registered = next(e for e in list_instruments() if e.key.startswith("sipas-counter@"))
    app.config["RECEIPT_COUNTERS"] = ["HL-AB-1"]
    for counter_key in (FIRST, SECOND, FIRST):
        cached, full = _pages(app, registered, counter_key, "lang=vi")
        assert cached == full
    assert 'name="receipt"' in _pages(app, registered, FIRST, "lang=vi")[0]
    assert 'name="receipt"' not in _pages(app, registered, SECOND, "lang=vi")[0]


def test_without_csrf_the_page_has_no_token(app: Flask) -> None:
    registered = next(e for e in list_instruments() if e.key.startswith("sipas-counter@"))
    app.config["WTF_CSRF_ENABLED"] = False
    for counter_key in (FIRST, SECOND):
        cached, full = _pages(app, registered, counter_key, "lang=en")
        assert cached == full and "csrf_token" not in cached


def test_no_two_requests_share_a_nonce_or_csrf_token(app: Flask) -> None:
    with app.app_context():
        counter = db.session.get(Counter, counter_id(KITCHEN_COUNTER, app))
        assert counter is not None
        url = f"/s/{issue_token(counter, token_secret(app.config))}?new=1"
    browsers = [app.test_client() for _ in range(3)]
    seen = [hidden_fields(browser.get(url).get_data(as_text=True)) for browser in browsers for _ in range(2)]
    assert all(set(fields) == {"nonce", "csrf_token"} for fields in seen)
    assert len({fields["nonce"] for fields in seen}) == len(seen)
    # The CSRF token is the browser's (its session's): never another browser's.
    by_browser = [{fields["csrf_token"] for fields in seen[i:i + 2]} for i in range(0, len(seen), 2)]
    assert all(a.isdisjoint(b) for a, b in itertools.combinations(by_browser, 2))


def test_a_cached_form_is_accepted_and_stored_once(app: Flask) -> None:
    with app.app_context():
        counter = db.session.get(Counter, counter_id(KITCHEN_COUNTER, app))
        assert counter is not None
        url = f"/s/{issue_token(counter, token_secret(app.config))}"
    browser = app.test_client()
    browser.get(url + "?new=1")  # fills the cache
    fields = hidden_fields(browser.get(url + "?new=1").get_data(as_text=True))
    data = {**VALID, **fields, "website": ""}
    assert browser.post(url, data=data).status_code == 303
    assert browser.post(url, data=data).status_code == 303  # a double tap: the thank-you page again
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM responses")) == 1


def test_the_cache_is_bounded_and_keeps_what_is_used() -> None:
    from survey.blueprints.form_pages import FormPageKey

    pages = FormPages(max_pages=2)
    renders: list[str] = []

    def render(slots: Slots) -> str:
        renders.append("x")
        return f"<p>{slots.mark('nonce')}</p>"

    keys = [FormPageKey("a@1", "h", lang, False, False, False, "") for lang in ("vi", "en", "fr")]
    pages.get(keys[0], render)
    pages.get(keys[1], render)
    pages.get(keys[0], render)  # used again: the least recently used is now keys[1]
    pages.get(keys[2], render)
    assert len(pages) == 2 and len(renders) == 3
    assert pages.get(keys[0], render).fill({"nonce": lambda: "<n>"}) == "<p>&lt;n&gt;</p>"
    assert len(renders) == 3
    pages.get(keys[1], render)
    assert len(renders) == 4
