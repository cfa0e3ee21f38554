"""What to fix first: criteria below target with their change since the previous period, worked out by
hand, and the comments each one links to by the keyword rule of `comment_topics`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from survey.models import Role
from survey.services.reporting.comment_topics import KEYWORDS, mentions
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import signed_in, staff_app

SIPAS = KEYWORDS["sipas-counter"]


@pytest.mark.parametrize(
    ("text", "criterion", "expected"),
    [
        ("Lệ phí 50.000 đồng được niêm yết rõ ràng.", "e2_fees", True),
        ("Lệ phí 50.000 đồng được niêm yết rõ ràng.", "e2_posted", True),
        ("Ngồi phía trước quầy", "e2_fees", False),  # "phí" is not "phía": whole words only
        ("Cán bộ ghi sai tên tôi", "e4_accurate", True),
        ("Tôi sài điện thoại cũ", "e4_accurate", False),  # with diacritics, "sai" is not "sài"
        ("phai cho doi lau qua", "e2_deadline", True),  # no diacritics: the phrase "chờ đợi"
        ("cam on cho em", "e2_deadline", False),  # no diacritics: a single word "cho" is not "chờ"
        ("le phi cao qua", "e2_fees", True),  # "lệ phí" without its marks
        ("PHÒNG CHỜ NÓNG", "e1_equipment", True),  # case ignored
        ("The fees were not posted", "e2_fees", True),
        ("The staff were very helpful", "e3_dedicated", True),
    ],
)
def test_the_keyword_rule_by_hand(text: str, criterion: str, expected: bool) -> None:
    assert mentions(text, SIPAS[criterion]) is expected


# An Bình's desk: September 40 responses, 5 of them satisfied on every criterion (0.125); October
# AB_CODES, where criteria at positions j % 3 == 0 are 0.45 and the others 0.70 (report_helpers).
# The province's target is 90 %, so every criterion is below it; the five lowest are the 0.45 ones in
# questionnaire order: e1_info (j 0), e1_equipment (3), e2_fees (6), e3_responsive (9), e3_dedicated (12),
# each up 0.45 - 0.125 = 32.5 points, a significant rise with 40 responses in each month.
SEPTEMBER = [2] * 35 + [5] * 5
COMMENTS = ("Lệ phí cao quá", "Máy lấy số hay hỏng", "Cán bộ rất tận tình", "Phòng chờ nóng",
            "phai cho doi lau qua")


@pytest.fixture
def fapp(migrated_db: Path, tmp_path: Path) -> Flask:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", SEPTEMBER, day=10, month=9)
    add_responses(app, "HL-AB-1", AB_CODES, COMMENTS, day=10)
    return app


def _items(html: str) -> dict[str, str]:
    section = html[html.index('class="fix-first"'):]
    section = section[:section.index("</section>")]
    return dict(re.findall(r'<li data-criterion="([^"]+)">(.*?)</li>\s*(?=<li data-criterion|</ol>)',
                           section, re.S))


def test_fix_first_lists_changes_and_the_comments_that_mention_each_criterion(fapp: Flask) -> None:
    client = signed_in(fapp, "ab", Role.MANAGER, ("HL-AB",), totp=True)
    html = client.get(f"/manage/units/{unit_id('HL-AB', fapp)}?period={PERIOD}&weighted=0&lang=vi"
                      ).get_data(as_text=True)
    items = _items(html)
    assert list(items) == ["e1_info", "e1_equipment", "e2_fees", "e3_responsive", "e3_dedicated"]
    for text in items.values():
        assert "45,0%" in text and "▲" in text and "+32,5" in text and "tăng có ý nghĩa thống kê" in text
    assert "Máy lấy số hay hỏng" in items["e1_equipment"] and "Phòng chờ nóng" in items["e1_equipment"]
    assert "2 góp ý nhắc đến tiêu chí này" in items["e1_equipment"]
    assert "Lệ phí cao quá" in items["e2_fees"] and "Máy lấy số" not in items["e2_fees"]
    assert "Cán bộ rất tận tình" in items["e3_dedicated"]
    assert "không có góp ý nào nhắc đến" in items["e1_info"] and "<details" not in items["e1_info"]
    english = client.get(f"/manage/units/{unit_id('HL-AB', fapp)}?period={PERIOD}&weighted=0&lang=en"
                         ).get_data(as_text=True)
    assert "2 comments mention this criterion" in english and "1 comment mentions this criterion" in english


def test_every_keyword_list_names_a_criterion_of_its_instrument() -> None:
    """A typo in a criterion id would silently give that criterion no comment links."""
    from instruments.registry import get_registered

    for instrument_id, lists in KEYWORDS.items():
        criteria = {c for e in get_registered(instrument_id, "2025.1").instrument.index.elements
                    for c in e.criteria}
        assert set(lists) <= criteria, instrument_id
        assert all(lists.values()), instrument_id  # no empty list


def test_outpatient_comments_are_matched_too() -> None:
    outpatient = KEYWORDS["outpatient"]
    assert mentions("Nhà vệ sinh bẩn quá", outpatient["c2_toilets"])
    # no marks: "xét nghiệm" has two syllables, so it is compared without them; "chờ" alone is not
    assert mentions("cho xet nghiem lau qua", outpatient["b6_wait_tests"])
    assert mentions("cho lau qua", outpatient["b5_wait_registration"]) is False
    assert mentions("Chờ kết quả xét nghiệm cả buổi", outpatient["b6_wait_tests"])
