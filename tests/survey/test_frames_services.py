"""Served-dossier frames: CSV checks with line numbers, atomic replacement, response-rate arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Channel, FrameUpload, Response, ResponseStatus, ServedCount
from survey.services.weighting import frames
from survey.services.weighting.frame_rows import parse_period
from tests.survey.conftest import audit_actions, unit_id
from tests.survey.manage_helpers import NOW, in_request, user

HEADER = "unit_code,period_start,period_end,procedure_field,channel,served\n"


def stored() -> list[tuple[str, str, str, str, str, int]]:
    rows = db.session.execute(sa.select(ServedCount).order_by(ServedCount.id)).scalars()
    return sorted((r.unit.code, r.period_start.isoformat(), r.period_end.isoformat(), r.procedure_field,
                   r.channel, r.served) for r in rows)


@pytest.mark.parametrize(("text", "period"), [
    ("2026-03", (date(2026, 3, 1), date(2026, 3, 31))),
    ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),  # leap year
    ("2026-12", (date(2026, 12, 1), date(2026, 12, 31))),
    ("2026-Q1", (date(2026, 1, 1), date(2026, 3, 31))),
    ("2026-q4", (date(2026, 10, 1), date(2026, 12, 31))),
    ("2026-13", None), ("2026-Q5", None), ("2026/03", None), ("March", None),
    ("2026", None), ("1999-03", None),  # a frame counts a month or a quarter; years before 2000 are typos
])
def test_periods(text: str, period: tuple[date, date] | None) -> None:
    assert parse_period(text) == period


def test_a_good_file_with_bom_and_both_period_forms_is_imported(app: Flask, ids: dict[str, int]) -> None:
    data = ("\ufeffunit_code,period,period_start,period_end,procedure_field,channel,served\n"
            "HL-AB-1,2026-03,,,,,120\n"
            "HL-AB-1,,2026-03-01,2026-03-31,tu-phap,direct,70\n"
            "\n"
            "HL-AB-1,2026-03,,,tu-phap,online,50\n"
            "HL-HL-1,2026-Q1,,,,,300\n").encode()
    with app.app_context(), in_request(app):
        result = frames.import_csv(db.session, data, actor=user(ids, "province"), now=NOW)
        db.session.commit()
        assert (result.rows, result.units, result.replaced) == (4, 2, 0)
        assert stored() == [
            ("HL-AB-1", "2026-03-01", "2026-03-31", "", "", 120),
            ("HL-AB-1", "2026-03-01", "2026-03-31", "tu-phap", "direct", 70),
            ("HL-AB-1", "2026-03-01", "2026-03-31", "tu-phap", "online", 50),
            ("HL-HL-1", "2026-01-01", "2026-03-31", "", "", 300)]
        upload = db.session.get(FrameUpload, result.upload_id)
        assert upload is not None and (upload.source, upload.actor_id, upload.rows) == (
            "csv", ids["province"], 4)
        [(action, object_id, detail)] = audit_actions("frames.")
        assert (action, object_id, detail["rows"], detail["replaced"]) == (
            "frames.import", str(result.upload_id), 4, 0)


def test_every_error_is_reported_with_its_line_and_nothing_is_stored(app: Flask, ids: dict[str, int]) -> None:
    data = (HEADER +
            "HL-AB-1,2026-03-01,2026-03-31,,,10\n"  # 2 fine
            "NOPE,2026-03-01,2026-03-31,,,10\n"  # 3 unknown unit
            "HL-HL-1,2026-03-01,2026-03-31,,,10\n"  # 4 outside the An Binh manager's scope
            "HL-AB-1,2026-04-01,2026-04-30,,,-5\n"  # 5 negative
            "HL-AB-1,2026-05-01,2026-05-31,,,3.5\n"  # 6 not an integer
            "HL-AB-1,2026-31-01,2026-06-30,,,1\n"  # 7 bad date
            "HL-AB-1,2026-07-31,2026-07-01,,,1\n"  # 8 ends before it starts
            "HL-AB-1,2026-03-01,2026-03-31,,,11\n"  # 9 duplicates line 2
            "HL-AB-1,2026-03-15,2026-04-15,dat-dai,,1\n"  # 10 overlaps line 2's period
            "HL-AB-1,2026-08-01,2026-08-31,Đất đai,fax,1\n"  # 11 bad field and channel
            "HL-AB-1,2026-09-01,2026-09-30,,\n"  # 12 too few values
            ).encode()
    with app.app_context(), in_request(app):
        with pytest.raises(frames.FramesRefused) as refused:
            frames.import_csv(db.session, data, actor=user(ids, "anbinh"), now=NOW)
        assert [(e.line, e.code) for e in refused.value.errors] == [
            (3, "unit_unknown"), (4, "unit_out_of_scope"), (5, "served"), (6, "served"), (7, "date"),
            (8, "date"), (9, "duplicate"), (10, "overlap"), (11, "field"), (11, "channel"), (12, "columns")]
        assert refused.value.errors[0].describe() == "Line 3: unit code 'NOPE' does not exist."
        db.session.rollback()
        assert stored() == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FrameUpload)) == 0
    with app.app_context(), in_request(app, "vi"):
        with pytest.raises(frames.FramesRefused) as refused:
            frames.import_csv(db.session, data, actor=user(ids, "anbinh"), now=NOW)
        assert refused.value.errors[0].describe() == "Dòng 3: mã đơn vị 'NOPE' không tồn tại."


@pytest.mark.parametrize(("data", "line", "code"), [
    (b"", 0, "empty"),
    (HEADER.encode(), 0, "empty"),
    (b"unit_code,served,colour\nHL-AB-1,1,red\n", 1, "header"),
    (b"unit_code,period\nHL-AB-1,2026-03\n", 1, "header"),  # served missing
    ((HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,1\nHL-AB-1,2026-04-01,2026-04-30,,,\xff\n").encode("latin-1"),
     3, "encoding"),
    ((HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,1\x00\n").encode(), 0, "encoding"),
    (b"unit_code,period,period_start,period_end,served\nHL-AB-1,2026-03,2026-03-01,2026-03-31,4\n",
     2, "period"),
    (b"unit_code,period,served\nHL-AB-1,2026-3,4\n", 2, "period"),
])
def test_file_level_errors(app: Flask, ids: dict[str, int], data: bytes, line: int, code: str) -> None:
    with app.app_context(), in_request(app):
        with pytest.raises(frames.FramesRefused) as refused:
            frames.import_csv(db.session, data, actor=user(ids, "admin"), now=NOW)
        assert (refused.value.errors[0].line, refused.value.errors[0].code) == (line, code)


def test_reuploading_a_period_replaces_it_and_a_failed_upload_changes_nothing(
        app: Flask, ids: dict[str, int]) -> None:
    first = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,tu-phap,,70\n"
                      "HL-AB-1,2026-03-01,2026-03-31,dat-dai,,30\n"
                      "HL-AB-1,2026-04-01,2026-04-30,,,99\n"
                      "HL-HL-1,2026-03-01,2026-03-31,,,40\n").encode()
    again = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,110\n").encode()
    broken = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,1\nHL-AB-1,2026-04-01,2026-04-30,,,x\n").encode()
    with app.app_context(), in_request(app):
        admin = user(ids, "admin")
        frames.import_csv(db.session, first, actor=admin, now=NOW)
        db.session.commit()
        result = frames.import_csv(db.session, again, actor=admin, now=NOW)
        db.session.commit()
        assert result.replaced == 2  # both March rows of HL-AB-1; April and the other unit untouched
        expected = [("HL-AB-1", "2026-03-01", "2026-03-31", "", "", 110),
                    ("HL-AB-1", "2026-04-01", "2026-04-30", "", "", 99),
                    ("HL-HL-1", "2026-03-01", "2026-03-31", "", "", 40)]
        assert stored() == expected
        with pytest.raises(frames.FramesRefused):
            frames.import_csv(db.session, broken, actor=admin, now=NOW)
        db.session.rollback()
        assert stored() == expected
        # A quarter replaces the months it covers, so nothing is ever counted twice.
        quarter = (HEADER.replace("period_start,period_end", "period") + "HL-AB-1,2026-Q2,,,500\n").encode()
        assert frames.import_csv(db.session, quarter, actor=admin, now=NOW).replaced == 1
        db.session.commit()
        assert [r for r in stored() if r[0] == "HL-AB-1"] == [
            ("HL-AB-1", "2026-03-01", "2026-03-31", "", "", 110),
            ("HL-AB-1", "2026-04-01", "2026-06-30", "", "", 500)]


def _response(unit: str, when: datetime, status: ResponseStatus = ResponseStatus.VALID,
              instrument: str = "sipas-counter") -> None:
    db.session.add(Response(instrument_id=instrument, instrument_version="2025.1", instrument_hash="0" * 64,
                            unit_id=unit_id(unit), channel=Channel.QR, language="vi", submitted_at=when,
                            status=status, idempotency_key=f"k{db.session.scalar(sa.func.random())}"))


def test_response_rates_by_hand(app: Flask, ids: dict[str, int]) -> None:
    data = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,200\n"
                     "HL-AB-1,2026-03-01,2026-03-31,tu-phap,,150\n"  # breakdown beside the total: ignored
                     "HL-AB-1,2026-03-01,2026-03-31,dat-dai,,50\n"
                     "HL-HL-1,2026-03-01,2026-03-31,tu-phap,direct,30\n"  # field × channel only: summed
                     "HL-HL-1,2026-03-01,2026-03-31,tu-phap,online,10\n"
                     "HL-HL-1,2026-02-15,2026-02-28,,,999\n").encode()  # straddles nothing: before window
    with app.app_context(), in_request(app):
        frames.import_csv(db.session, data, actor=user(ids, "admin"), now=NOW)
        for day in (1, 10, 31):
            _response("HL-AB-1", datetime(2026, 3, day, 3, 0, tzinfo=UTC))
        # 31 March 17:30 UTC is 1 April 00:30 in Vietnam: outside the window.
        _response("HL-AB-1", datetime(2026, 3, 31, 17, 30, tzinfo=UTC))
        # 28 February 17:30 UTC is 1 March 00:30 in Vietnam: inside.
        _response("HL-AB-1", datetime(2026, 2, 28, 17, 30, tzinfo=UTC))
        _response("HL-AB-1", datetime(2026, 3, 5, tzinfo=UTC), status=ResponseStatus.FLAGGED)
        _response("HL-AB-1", datetime(2026, 3, 6, tzinfo=UTC), instrument="quick-rating")
        _response("HL-HL-1", datetime(2026, 3, 6, tzinfo=UTC))
        db.session.commit()
        rates = frames.response_rates(db.session, [unit_id("HL"), unit_id("HL-AB"), unit_id("HL-TTHCC")],
                                      date(2026, 3, 1), date(2026, 3, 31))
        # HL-AB subtree: served 200 (the total row), responses 3 + 1 (Vietnam day) + 1 quick-rating = 5.
        assert rates[unit_id("HL-AB")] == frames.ResponseRate(unit_id("HL-AB"), 200, 5, 5 / 200, 0)
        # HL: 200 + (30 + 10) = 240 served, 5 + 1 = 6 responses.
        assert rates[unit_id("HL")] == frames.ResponseRate(unit_id("HL"), 240, 6, 6 / 240, 0)
        assert rates[unit_id("HL-TTHCC")] == frames.ResponseRate(unit_id("HL-TTHCC"), None, 0, None, 0)
        only = frames.response_rates(db.session, [unit_id("HL-AB")], date(2026, 3, 1), date(2026, 3, 31),
                                     instrument_id="sipas-counter")
        assert only[unit_id("HL-AB")].responses == 4
        # A window inside March leaves the March frame out as partial rather than pro-rating it.
        half = frames.response_rates(db.session, [unit_id("HL-AB")], date(2026, 3, 1), date(2026, 3, 15))
        assert (half[unit_id("HL-AB")].served, half[unit_id("HL-AB")].partial_periods) == (None, 1)
