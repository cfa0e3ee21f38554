"""A unit's frame with a total row and field rows counts its dossiers once, everywhere; a breakdown
above its total is refused with the lines named (survey/services/weighting/frame_levels.py)."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from survey.extensions import db
from survey.models import ALL
from survey.services.reporting.respondent_data import frame_table
from survey.services.weighting import frames
from survey.services.weighting.frame_levels import FrameCell, mismatches, served_by_field
from tests.survey.conftest import unit_id
from tests.survey.manage_helpers import NOW, in_request, user

HEADER = "unit_code,period_start,period_end,procedure_field,channel,served\n"


def test_cells_are_the_fields_and_the_total_is_reconciled() -> None:
    rows = [FrameCell(ALL, ALL, 250, 2), FrameCell("dat-dai", ALL, 160, 3), FrameCell("tu-phap", ALL, 90, 4)]
    assert served_by_field(rows) == {"dat-dai": 160, "tu-phap": 90}
    assert mismatches(rows) == []
    # a partial breakdown: the dossiers of no known field form the blank cell, the total is kept
    partial = [FrameCell(ALL, ALL, 250, 2), FrameCell("dat-dai", ALL, 160, 3)]
    assert served_by_field(partial) == {"dat-dai": 160, ALL: 90}
    # field x channel rows stand for their field when it has no row of its own
    crossed = [FrameCell(ALL, ALL, 100, 2), FrameCell("dat-dai", "online", 30, 3),
               FrameCell("dat-dai", "direct", 50, 4), FrameCell("tu-phap", ALL, 20, 5)]
    assert served_by_field(crossed) == {"dat-dai": 80, "tu-phap": 20}
    assert mismatches(crossed) == []
    assert served_by_field([FrameCell(ALL, "online", 30), FrameCell(ALL, "direct", 50)]) == {ALL: 80}
    assert served_by_field([FrameCell(ALL, ALL, 75), FrameCell(ALL, "direct", 75)]) == {ALL: 75}


def test_breakdowns_above_their_total_are_named() -> None:
    rows = [FrameCell(ALL, ALL, 250, 2), FrameCell("dat-dai", ALL, 200, 3), FrameCell("tu-phap", ALL, 90, 4),
            FrameCell(ALL, "online", 60, 5), FrameCell(ALL, "direct", 200, 6),
            FrameCell("tu-phap", "online", 30, 7), FrameCell("tu-phap", "direct", 70, 8)]
    found = {(m.lines, m.served, m.check_lines, m.check_served) for m in mismatches(rows)}
    assert found == {((7, 8), 100, (4,), 90), ((3, 4), 290, (2,), 250), ((5, 6), 260, (2,), 250)}


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "Line 2: the rows on lines 3, 4 add up to 290 dossiers, more than the 250 of line 2: a "
           "breakdown cannot exceed its total."),
    ("vi", "Dòng 2: các dòng 3, 4 cộng lại được 290 hồ sơ, nhiều hơn 250 hồ sơ của dòng 2: số chi tiết "
           "không được vượt quá tổng."),
])
def test_an_upload_whose_fields_exceed_the_total_is_refused(app: Flask, ids: dict[str, int], lang: str,
                                                            message: str) -> None:
    data = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,250\n"
            "HL-AB-1,2026-03-01,2026-03-31,dat-dai,,200\n"
            "HL-AB-1,2026-03-01,2026-03-31,tu-phap,,90\n").encode()
    with app.app_context(), in_request(app, lang):
        with pytest.raises(frames.FramesRefused) as refused:
            frames.import_csv(db.session, data, actor=user(ids, "admin"), now=NOW)
        [error] = refused.value.errors
        assert error.code == "breakdown_exceeds_total"
        assert error.describe() == message


def test_a_total_with_its_fields_counts_once_for_weights_and_rates(app: Flask, ids: dict[str, int]) -> None:
    data = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,250\n"
            "HL-AB-1,2026-03-01,2026-03-31,dat-dai,,160\n"
            "HL-AB-1,2026-03-01,2026-03-31,tu-phap,,60\n").encode()
    with app.app_context(), in_request(app):
        frames.import_csv(db.session, data, actor=user(ids, "admin"), now=NOW)
        db.session.commit()
        unit = unit_id("HL-AB-1")
        table = frame_table(db.session, {unit}, date(2026, 3, 1), date(2026, 3, 31))
        assert sorted(zip(table["field"], table["served"], strict=True)) == [
            ("", 30), ("dat-dai", 160), ("tu-phap", 60)]
        rate = frames.response_rates(db.session, [unit], date(2026, 3, 1), date(2026, 3, 31))[unit]
        assert rate.served == int(table["served"].sum()) == 250
