"""docs/bad-input.md's catalogue through `/s/<token>`: each input gets its status and stable
code, and a refused input stores nothing."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer

from survey.extensions import db
from survey.models import Counter
from survey.services.citizens.form_nonce import issue_nonce
from tests.survey.conftest import TEST_SECRET
from tests.survey.survey_helpers import VALID, Served, checked, error_code_in, serve_kitchen_sink


@pytest.fixture
def served(migrated_db: Path, tmp_path: Path) -> Served:
    return serve_kitchen_sink(migrated_db, tmp_path)


def assert_refused(response: Any, status: int, code: str, served: Served) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:800]
    assert code in error_code_in(html), error_code_in(html)
    assert "Mã lỗi" in html and code in html  # visible, in Vietnamese
    assert served.counts() == (0, 0, 0)
    return html


# Rows 1-5: the QR token --------------------------------------------------------------------------

def test_malformed_tokens_are_invalid(served: Served) -> None:
    good = served.token()
    for bad in ("", "not-base64!!", "%%%", good[: len(good) // 2], good + "x", "a.b.c"):
        assert_refused(served.client.get(f"/s/{bad}"), 404, "E-QR-INVALID", served)


def test_forged_tokens_are_invalid(served: Served) -> None:
    good = served.token()
    payload, signature = good.rsplit(".", 1)
    other_payload = URLSafeSerializer("x").dumps([1, 1, 1]).rsplit(".", 1)[0]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for forged in (f"{other_payload}.{signature}", f"{payload}.{flipped}"):
        assert_refused(served.client.get(f"/s/{forged}"), 404, "E-QR-INVALID", served)


def test_tokens_of_another_purpose_are_invalid(served: Served) -> None:
    counter_id = served.counters["HL-AB-1/Q1"]
    other_salt = URLSafeSerializer(TEST_SECRET, salt="itsdangerous",
                                   signer_kwargs={"digest_method": hashlib.sha256}).dumps([2, counter_id, 1])
    nonce = issue_nonce(TEST_SECRET, counter_id, "kitchen-sink@2025.1", datetime.now(UTC))
    with served.app.test_request_context():
        from flask_wtf.csrf import generate_csrf
        csrf_token = generate_csrf()
    for token in (other_salt, nonce, csrf_token):
        assert_refused(served.client.get(f"/s/{token}"), 404, "E-QR-INVALID", served)


def test_revoked_counter_and_old_key_version_are_expired(served: Served) -> None:
    token = served.token()
    with served.app.app_context():
        db.session.get(Counter, served.counters["HL-AB-1/Q1"]).key_version = 2
        db.session.commit()
    assert_refused(served.client.get(f"/s/{token}"), 410, "E-QR-EXPIRED", served)
    fresh = served.token()
    assert served.client.get(f"/s/{fresh}").status_code == 200
    with served.app.app_context():
        db.session.get(Counter, served.counters["HL-AB-1/Q1"]).revoked_at = datetime.now(UTC)
        db.session.commit()
    assert_refused(served.client.get(f"/s/{fresh}"), 410, "E-QR-EXPIRED", served)
    assert_refused(served.client.post(f"/s/{fresh}", data=VALID), 410, "E-QR-EXPIRED", served)


def test_overlong_token_is_refused_before_decoding(served: Served) -> None:
    response = served.client.get("/s/" + "A" * 600)
    assert response.status_code in (400, 414)
    assert served.counts() == (0, 0, 0)


# Rows 7-18, 27, 28: the submitted form ------------------------------------------------------------

def test_nonce_missing_forged_expired_or_foreign(served: Served, migrated_db: Path, tmp_path: Path) -> None:
    url = served.url()
    nonce = served.open_form(url)["nonce"]
    assert_refused(served.client.post(url, data=VALID), 400, "E-NONCE", served)
    assert_refused(served.client.post(url, data={**VALID, "nonce": ""}), 400, "E-NONCE", served)
    forged = nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BB")
    assert_refused(served.client.post(url, data={**VALID, "nonce": forged}), 400, "E-NONCE", served)
    wrong_key = issue_nonce("another-secret", served.counters["HL-AB-1/Q1"], "kitchen-sink@2025.1",
                            datetime.now(UTC))
    assert_refused(served.client.post(url, data={**VALID, "nonce": wrong_key}), 400, "E-NONCE", served)
    other_counter = served.open_form(served.url("HL-AB-1/KIOSK"))["nonce"]  # same instrument, other counter
    assert_refused(served.client.post(url, data={**VALID, "nonce": other_counter}), 400, "E-NONCE", served)
    with served.app.app_context():
        served.app.config["FORM_NONCE_MAX_AGE"] = 0  # every nonce is now older than allowed
    # A genuine nonce that only expired: refused too, but the form comes back renewed with the answers.
    assert_refused(served.client.post(url, data={**VALID, "nonce": nonce}), 400, "E-NONCE-EXPIRED", served)


def test_body_over_the_limit(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "comment": "x" * (70 * 1024)}
    assert_refused(served.client.post(url, data=data), 413, "E-TOO-LARGE", served)


@pytest.mark.parametrize("extra", [{"q99": "1"}, {"unit_id": "7"}, {"admin": "1"}, {"e1_info": "5"},
                                   {"Q_ACCESS": "4"}, {"intro_note": "1"}])
def test_unknown_fields_including_other_instrument_items(served: Served, extra: dict[str, str]) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, **extra}
    assert_refused(served.client.post(url, data=data), 400, "E-SCHEMA", served)


def test_too_many_fields(served: Served) -> None:
    url = served.url()
    body = "&".join([f"nonce={served.open_form(url)['nonce']}"] + ["reasons=1"] * 40)
    response = served.client.post(url, data=body, content_type="application/x-www-form-urlencoded")
    assert_refused(response, 400, "E-SCHEMA", served)


@pytest.mark.parametrize("body", ["q_access=5&q_access=1", "overall=5&overall=5", "nonce=DUP"])
def test_duplicate_keys(served: Served, body: str) -> None:
    url = served.url()
    nonce = served.open_form(url)["nonce"]
    full = f"nonce={nonce}&q_access=4&overall=5&{body.replace('DUP', nonce)}"
    response = served.client.post(url, data=full, content_type="application/x-www-form-urlencoded")
    assert_refused(response, 400, "E-DUPLICATE-FIELD", served)


BAD_SCALE_VALUES = ["0", "6", "-1", "3.0", " 5", "5\x00", "５", "abc", "", "05", "+5", "5 "]


@pytest.mark.parametrize("value", BAD_SCALE_VALUES)
def test_bad_scale_values_re_render_with_answers_kept(served: Served, value: str) -> None:
    url = served.url()
    # q_staff does not allow N/A, so its "0" is a bad value too.
    data = {**served.open_form(url), **VALID, "q_staff": value}
    html = assert_refused(served.client.post(url, data=data), 422, "E-VALUE", served)
    assert 'id="error-summary"' in html and 'href="#item-q_staff"' in html
    assert checked(html, "q_access", "4")  # answers kept
    assert "Cán bộ nhiệt tình." in html and 'value="2"' in html
    assert 'id="err-q_staff"' in html and "has-error" in html


def test_array_syntax_key_is_a_bad_value(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), "q_access[]": "3", "overall": "5"}
    assert_refused(served.client.post(url, data=data), 422, "E-VALUE", served)


def test_bad_choice_number_and_multiple_values(served: Served) -> None:
    url = served.url()
    nonce = served.open_form(url)["nonce"]
    for bad in ({"paid_extra": "3"}, {"visits": "0"}, {"visits": "21"}, {"visits": "2.5"}, {"visits": "٣"},
                {"overall": "1", "reasons": ["1", "2", "99"]}, {"overall": "1", "reasons": ["7"]},
                {"overall": "1", "reasons": ["1", "1"]}):
        data = {"nonce": nonce, **VALID, **bad}
        assert_refused(served.client.post(url, data=data), 422, "E-VALUE", served)


def test_required_missing(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID}
    del data["overall"]
    html = assert_refused(served.client.post(url, data=data), 422, "E-REQUIRED", served)
    assert 'href="#item-overall"' in html
    # A required conditional question is required only when shown.
    data = {**served.open_form(url), **VALID, "overall": "1"}
    html = assert_refused(served.client.post(url, data=data), 422, "E-REQUIRED", served)
    assert 'id="err-reasons"' in html


def test_answer_to_hidden_conditional_item(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "overall": "5", "reasons": "1"}
    html = assert_refused(served.client.post(url, data=data), 400, "E-SCHEMA", served)
    assert checked(html, "q_access")  # kept for the no-JS citizen
    # An empty text box of a hidden item is what every browser sends: not an answer.
    data = {**served.open_form(url), **VALID, "overall": "5", "other_reason": ""}
    assert served.client.post(url, data=data).status_code == 303


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", json.dumps(VALID)), ("text/plain", "q_access=4"), ("application/xml", "<a/>")])
def test_wrong_content_type(served: Served, content_type: str, body: str) -> None:
    response = served.client.post(served.url(), data=body, content_type=content_type)
    assert_refused(response, 415, "E-CONTENT-TYPE", served)


def test_text_is_nfc_normalised_and_checked_after_normalising(served: Served) -> None:
    url = served.url()
    nfc = "Cảm ơn cán bộ " * 35  # 490 code points in NFC, about 560 in NFD
    nfd = unicodedata.normalize("NFD", nfc)
    assert len(nfc) <= 500 < len(nfd)
    data = {**served.open_form(url), **VALID, "comment": nfd}
    assert served.client.post(url, data=data).status_code == 303
    [stored] = served.stored()
    assert {t.item_id: t.text for t in stored.texts}["comment"] == nfc.strip()


def test_text_over_the_limit_after_nfc(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "comment": "ả" * 501}
    html = assert_refused(served.client.post(url, data=data), 422, "E-TOO-LONG", served)
    assert "ả" * 501 in html  # kept to be shortened


def test_invisible_characters_are_removed(served: Served) -> None:
    url = served.url()
    invisible = "".join(map(chr, [*range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060,
                                  *range(0x2066, 0x206A), 0xFEFF]))
    sneaky = f"Tốt{invisible} lắm"
    data = {**served.open_form(url), **VALID, "comment": sneaky}
    assert served.client.post(url, data=data).status_code == 303
    assert {t.item_id: t.text for t in served.stored()[0].texts}["comment"] == "Tốt lắm"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f"])
def test_control_characters_are_refused(served: Served, char: str) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "comment": f"xin{char}chào"}
    assert_refused(served.client.post(url, data=data), 422, "E-CONTROL-CHAR", served)


def test_tabs_and_line_breaks_are_kept(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "comment": "dòng 1\r\n\tdòng 2"}
    assert served.client.post(url, data=data).status_code == 303
    assert served.stored()[0].texts[0].text == "dòng 1\n\tdòng 2"


def test_honeypot_gets_a_normal_thank_you_and_stores_nothing(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "website": "http://spam.example"}
    response = served.client.post(url, data=data, follow_redirects=True)
    assert response.status_code == 200 and "Cảm ơn Ông/Bà!" in response.get_data(as_text=True)
    assert served.counts() == (0, 0, 0)


def test_too_fast_is_stored_flagged_and_thanked(migrated_db: Path, tmp_path: Path) -> None:
    """Sending faster than the minimum is not the citizen's fault: stored, flagged for review."""
    served = serve_kitchen_sink(migrated_db, tmp_path, MIN_FILL_SECONDS=60)
    url = served.url()
    response = served.client.post(url, data={**served.open_form(url), **VALID})
    assert response.status_code == 303 and response.headers["Location"].split("?")[0].endswith("/thanks")
    [stored] = served.stored()
    assert (stored.status.value, stored.status_reason) == ("flagged", "too_fast")


def test_wrong_method(served: Served) -> None:
    response = served.client.put(served.url(), data=VALID)
    assert response.status_code == 405 and served.counts() == (0, 0, 0)


def test_re_render_keeps_check_boxes_numbers_and_short_text(served: Served) -> None:
    url = served.url()
    data = {**served.open_form(url), **VALID, "overall": "1", "reasons": ["1", "2", "99"],
            "other_reason": "Xếp hàng lâu", "visits": "7"}
    html = assert_refused(served.client.post(url, data=data), 422, "E-VALUE", served)
    for code in ("1", "2", "99"):
        assert checked(html, "reasons", code)
    assert 'value="Xếp hàng lâu"' in html and 'value="7"' in html
    assert checked(html, "overall", "1")


def test_multipart_is_accepted_but_files_are_not(served: Served) -> None:
    import io

    url = served.url()
    data = {**served.open_form(url), **VALID}
    with_file = {**data, "upload": (io.BytesIO(b"x"), "x.txt")}
    response = served.client.post(url, data=with_file, content_type="multipart/form-data")
    assert_refused(response, 400, "E-SCHEMA", served)
    assert served.client.post(url, data=data, content_type="multipart/form-data").status_code == 303


def test_error_pages_follow_the_page_language(served: Served) -> None:
    english = served.client.get("/s/not-a-token?lang=en").get_data(as_text=True)
    assert "This QR code is not valid" in english and "Error code" in english and "E-QR-INVALID" in english
    url = served.url()
    data = {**served.open_form(url), **VALID, "q_staff": "9"}
    html = served.client.post(f"{url}?lang=en", data=data).get_data(as_text=True)
    assert "Please choose one of the answers shown." in html and "Error code: E-VALUE" in html
    vietnamese = served.client.post(f"{url}?lang=vi", data=data).get_data(as_text=True)
    assert "Xin vui lòng chọn một trong các câu trả lời có sẵn." in vietnamese
