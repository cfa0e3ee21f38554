"""The citizen's path through `/s/<token>`: form, submit, thank-you, and what ends up stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState
from werkzeug.datastructures import MultiDict

from survey.extensions import db
from survey.models import Channel, Counter, Response, ResponseStatus
from survey.services.citizens.submissions import (
    Stored,
    SubmissionSettings,
    store_response,
    validate_submission,
)
from survey.services.citizens.surveys import find_instrument
from tests.survey.survey_helpers import (
    KITCHEN_COUNTER,
    VALID,
    Served,
    checked,
    hidden_fields,
    serve_kitchen_sink,
)


@pytest.fixture
def served(migrated_db: Path, tmp_path: Path) -> Served:
    return serve_kitchen_sink(migrated_db, tmp_path)


def test_form_renders_every_item_type_from_the_instrument(served: Served) -> None:
    html = served.client.get(served.url()).get_data(as_text=True)
    assert "Phiếu thử nghiệm đủ loại câu hỏi" in html and "Xin Ông/Bà cho biết ý kiến." in html  # title, note
    assert '<legend>Dễ tìm nơi nộp hồ sơ <span class="required">(bắt buộc)</span></legend>' in html
    assert len(re.findall(r'<label><input [^>]*type=radio name=q_access ', html)) == 5  # 5 levels
    assert len(re.findall(r'<label class=na><input type=radio name=q_access value=0[ >]', html)) == 1  # + N/A
    assert len(re.findall(r'<input [^>]*type=radio name=q_staff ', html)) == 5  # allow_na: false
    assert html.count('type=checkbox') == 3 and 'data-max-choices="2"' in html
    assert 'maxlength="100"' in html and 'maxlength="500"' in html and "<textarea" in html
    assert 'type="number"' in html and 'min="1"' in html and 'max="20"' in html
    assert 'data-show-if-item="overall" data-show-if-in="1 2"' in html
    assert "Rất không hài lòng / Không hài lòng" in html  # the "(only if ...)" note for no-JS phones
    honeypot = re.search(r'<input[^>]*name="website"[^>]*>', html)
    assert honeypot is not None
    for attribute in ('autocomplete="off"', 'tabindex="-1"', 'aria-hidden="true"'):
        assert attribute in honeypot.group(0)
    assert "<script src=" in html and "<style" not in html and " style=" not in html  # CSP-friendly


def test_full_flow_in_vietnamese_stores_raw_codes(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    data = {**VALID, **fields, "overall": "2", "reasons": ["1", "99"], "other_reason": "Chờ\u200b lâu",
            "website": ""}
    response = served.client.post(url, data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{url}/thanks?lang=vi")
    thanks = served.client.get(response.headers["Location"])
    assert thanks.status_code == 200 and "Cảm ơn Ông/Bà!" in thanks.get_data(as_text=True)
    [stored] = served.stored()
    assert (stored.instrument_id, stored.instrument_version) == ("kitchen-sink", "2025.1")
    assert len(stored.instrument_hash) == 64
    assert stored.language == "vi" and stored.channel is Channel.QR and stored.status is ResponseStatus.VALID
    assert stored.procedure_field == "tu-phap" and stored.counter_id == served.counters["HL-AB-1/Q1"]
    assert stored.submitted_at.tzinfo is not None
    assert sorted((a.item_id, a.code) for a in stored.answers) == [
        ("overall", 2), ("paid_extra", 1), ("q_access", 4), ("q_staff", 5), ("q_wait", 0),
        ("reasons", 1), ("reasons", 99), ("visits", 2)]
    assert {t.item_id: t.text for t in stored.texts} == {"comment": "Cán bộ nhiệt tình.",
                                                         "other_reason": "Chờ lâu"}


def test_full_flow_in_english(served: Served) -> None:
    url = served.url()
    form = served.client.get(f"{url}?lang=en")
    html = form.get_data(as_text=True)
    assert '<html lang="en">' in html and "Easy to find where to submit" in html and "Send my answers" in html
    response = served.client.post(f"{url}?lang=en", data={**hidden_fields(html), "q_access": "5",
                                                           "overall": "4"})
    assert response.status_code == 303 and "lang=en" in response.headers["Location"]
    thanks = served.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you!" in thanks and "Your answers have been recorded." in thanks
    [stored] = served.stored()
    assert stored.language == "en"
    assert sorted((a.item_id, a.code) for a in stored.answers) == [("overall", 4), ("q_access", 5)]
    assert stored.texts == []  # empty optional texts store nothing


def test_kiosk_channel_and_return_to_a_fresh_form(served: Served) -> None:
    url = served.url()
    fields = served.open_form(f"{url}?mode=kiosk")
    html = served.client.get(f"{url}?mode=kiosk").get_data(as_text=True)
    assert "mode=kiosk" in re.search(r'<form method="post" action="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    response = served.client.post(f"{url}?mode=kiosk&lang=en", data={**fields, **VALID})
    assert response.status_code == 303 and "mode=kiosk" in response.headers["Location"]
    thanks = served.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "http-equiv" not in thanks  # a timed refresh the citizen cannot stop fails WCAG 2.2.1
    back = re.search(r'data-return-url="([^"]+)" data-return-seconds="(\d+)"', thanks)
    assert back is not None and back.group(2) == "8"
    assert "mode=kiosk" in back.group(1) and "lang=vi" in back.group(1)  # next citizen: Vietnamese
    assert served.client.get(back.group(1).replace("&amp;", "&")).status_code == 200
    [stored] = served.stored()
    assert stored.channel is Channel.KIOSK and stored.language == "en"


def test_plain_qr_thanks_page_does_not_refresh(served: Served) -> None:
    thanks = served.client.get(f"{served.url()}/thanks").get_data(as_text=True)
    assert "http-equiv" not in thanks


def test_shipped_instruments_render_for_demo_counters(served: Served) -> None:
    sipas = served.client.get(served.url("HL-TTHCC-1/Q1")).get_data(as_text=True)
    assert "Tiếp cận dịch vụ" in sipas and "Không có ý kiến / không áp dụng" in sipas
    quick = served.client.get(served.url("HL-HL-1/Q1")).get_data(as_text=True)
    assert "Đánh giá nhanh" in quick


def test_double_submit_stores_exactly_one_response(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID}
    first = served.client.post(url, data=data)
    again = served.client.post(url, data=data)
    changed = served.client.post(url, data={**data, "q_access": "1"})  # back button, answer changed
    assert first.status_code == 303
    for repeat in (again, changed):  # a used nonce leads to the thank-you page, storing nothing
        assert repeat.status_code == 303
        assert repeat.headers["Location"] == first.headers["Location"]
    assert served.counts() == (1, 6, 1)


def test_unique_key_holds_when_a_concurrent_twin_commits_first(served: Served) -> None:
    """The UNIQUE constraint, not the look-up, is the guarantee: a twin request commits the same key
    between this request's look-up and its insert; the service reports ALREADY and stores nothing."""
    url = served.url()
    data = MultiDict({**served.open_form(url), **VALID})
    with served.app.test_request_context():
        registered = find_instrument("kitchen-sink", "2025.1", served.app.config["INSTRUMENT_PATHS"])
        counter = db.session.get(Counter, served.counters[KITCHEN_COUNTER])
        now = datetime.now(UTC)
        result = validate_submission(data, registered.instrument, counter_id=counter.id, now=now,
                                     settings=SubmissionSettings.from_config(served.app.config))
        assert result.nonce is not None

        twins: list[str] = []

        def twin_commits(execution: ORMExecuteState) -> None:
            # Just before this request's INSERT of the response (a Core statement, no flush), once.
            if twins or not (execution.is_insert and execution.statement.table.name == "responses"):
                return
            twins.append(result.nonce.key)
            with db.engine.begin() as other:  # another connection, as another worker would have
                other.execute(sa.insert(Response).values(
                    instrument_id="kitchen-sink", instrument_version="2025.1", instrument_hash="0" * 64,
                    unit_id=counter.unit_id, counter_id=counter.id, channel="qr", language="vi",
                    submitted_at=now, status="valid", idempotency_key=result.nonce.key))

        sa.event.listen(db.session(), "do_orm_execute", twin_commits)
        outcome = store_response(db.session, result, counter=counter, registered=registered,
                                 channel=Channel.QR, language="vi", now=now)
        assert twins and outcome is Stored.ALREADY
    assert served.counts() == (1, 0, 0)


def test_language_switch_keeps_kiosk_mode_and_the_answers(served: Served) -> None:
    url = served.url()
    html = served.client.get(f"{url}?mode=kiosk").get_data(as_text=True)
    switch = re.search(
        r'<button type="submit" form="survey-form" formaction="([^"]+)" formnovalidate lang="en"', html)
    assert switch is not None and "mode=kiosk" in switch.group(1) and "lang=en" in switch.group(1)
    fields = hidden_fields(html)
    english = served.client.post(switch.group(1).replace("&amp;", "&"), data={**fields, "q_access": "4"})
    page = english.get_data(as_text=True)
    assert english.status_code == 200 and '<html lang="en">' in page
    assert checked(page, "q_access", "4") and hidden_fields(page)["nonce"] == fields["nonce"]
    assert served.counts() == (0, 0, 0)  # switching stores nothing


def test_pages_with_a_nonce_are_never_cached(served: Served) -> None:
    url = served.url()
    assert served.client.get(url).headers["Cache-Control"] == "no-store"
    response = served.client.post(url, data={**served.open_form(url), **VALID})
    assert response.headers["Cache-Control"] == "no-store"


def test_reopening_an_answered_form_leads_to_the_thank_you_page(served: Served) -> None:
    url = served.url()
    sent = served.client.post(url, data={**served.open_form(url), **VALID})
    again = served.client.get(url)  # the Back button after the thank-you page, or a reload
    assert again.status_code == 303 and again.headers["Location"] == sent.headers["Location"]
    assert served.client.get(f"{url}?new=1").status_code == 200  # asked for explicitly: a fresh form
    other = served.url("HL-TTHCC-1/Q1")  # another counter is not affected
    assert served.client.get(other).status_code == 200
    assert served.counts()[0] == 1


def test_an_answered_form_is_forgotten_when_its_nonce_expires(migrated_db: Path, tmp_path: Path) -> None:
    # A lifetime that cannot run out between these requests, however busy the machine (nonce ages are
    # whole seconds: a lifetime of 1 s once expired between two requests under a loaded test run).
    served = serve_kitchen_sink(migrated_db, tmp_path, FORM_NONCE_MAX_AGE=3600)
    url = served.url()
    served.client.post(url, data={**served.open_form(url), **VALID})
    assert served.client.get(url).status_code == 303
    served.app.config["FORM_NONCE_MAX_AGE"] = 0  # now it has expired
    assert served.client.get(url).status_code == 200


def test_an_expired_form_comes_back_renewed_with_the_answers(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    served.app.config["FORM_NONCE_MAX_AGE"] = 0  # the page was left open past the nonce's lifetime
    renewed = served.client.post(url, data={**fields, **VALID})
    page = renewed.get_data(as_text=True)
    assert renewed.status_code == 400 and "E-NONCE-EXPIRED" in page
    assert checked(page, "q_access", "4") and "Cán bộ nhiệt tình." in page
    fresh = hidden_fields(page)["nonce"]
    assert fresh != fields["nonce"] and served.counts() == (0, 0, 0)
    served.app.config["FORM_NONCE_MAX_AGE"] = 3600
    assert served.client.post(url, data={**fields, **VALID, "nonce": fresh}).status_code == 303
    assert served.counts()[0] == 1


def test_a_forged_nonce_is_still_refused(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    refused = served.client.post(url, data={**fields, **VALID, "nonce": fields["nonce"][:-2] + "xx"})
    assert refused.status_code == 400 and "E-NONCE-EXPIRED" not in refused.get_data(as_text=True)
    assert served.counts() == (0, 0, 0)
