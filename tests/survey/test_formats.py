"""Figures in the reader's locale (Babel/CLDR) in every output: web page, PDF text, XLSX cell; the
one-sided p-value labelled; one charset; one unit order everywhere.

Expected strings are written out by hand from CLDR's conventions (vi: "1 thg 10, 2026", decimal
comma, no space before %; en: "Oct 1, 2026", decimal point), never produced by the code under test.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from survey.extensions import db
from survey.models import AuditEvent, Role
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import PERIOD, seed_responses
from tests.survey.staff_helpers import add_staff, sign_in, staff_app

QUERY = f"period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0"


@pytest.fixture
def fapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    seed_responses(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def _province(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, app, add_staff(app, "tinh", Role.MANAGER, ("HL",)))
    return client


def test_web_pages_print_figures_and_times_the_locales_way(fapp: Flask) -> None:
    client = _province(fapp)
    ab = unit_id("HL-AB", fapp)
    client.post(f"/manage/units/{ab}/targets", data={"instrument_id": "sipas-counter", "year": "2026",
                                                      "target": "85,5", "reason": "kế hoạch"})
    url = f"/manage/units/{ab}/targets/clear?instrument_id=sipas-counter&year=2026"
    assert "85,5%" in client.get(url + "&lang=vi").get_data(as_text=True)
    assert "85.5%" in client.get(url + "&lang=en").get_data(as_text=True)
    with fapp.app_context():
        db.session.add(AuditEvent(at=datetime(2026, 3, 1, 2, 5, tzinfo=UTC), action="counter.update",
                                  unit_id=ab))
        db.session.commit()
    audit_vi = client.get("/manage/audit/?action=counter.update&lang=vi").get_data(as_text=True)
    assert "09:05 1/3/26" in audit_vi  # 02:05 UTC is 09:05 in Vietnam, CLDR vi short form
    audit_en = client.get("/manage/audit/?action=counter.update&lang=en").get_data(as_text=True)
    assert "3/1/26, 9:05\u202fAM" in audit_en or "3/1/26, 9:05 AM" in audit_en


def test_pdf_text_carries_babel_dates(fapp: Flask, tmp_path: Path) -> None:
    client = _province(fapp)
    for lang, expected in (("vi", "(1 thg 10, 2026 – 31 thg 10, 2026)"),
                           ("en", "(Oct 1, 2026 – Oct 31, 2026)")):
        response = client.get(f"/manage/units/{unit_id('HL-AB', fapp)}/report.pdf?{QUERY}&lang={lang}")
        assert response.status_code == 200
        pdf = tmp_path / f"report-{lang}.pdf"
        pdf.write_bytes(response.data)
        text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True,
                              timeout=120).stdout
        assert expected in " ".join(text.split())
        if lang == "vi":
            assert re.search(r"\d+,\d%", text) and not re.search(r"\d+,\d %", text)  # Babel, not by hand


def test_xlsx_cells_carry_babel_dates_and_label_the_one_sided_test(fapp: Flask) -> None:
    client = _province(fapp)
    for lang, period, p_label in (
            ("vi", "2026-10 (1 thg 10, 2026 – 31 thg 10, 2026)", "giá trị p một phía (so với chỉ tiêu)"),
            ("en", "2026-10 (Oct 1, 2026 – Oct 31, 2026)", "one-sided p-value (vs target)")):
        response = client.get(f"/manage/units/{unit_id('HL-AB', fapp)}/report.xlsx?{QUERY}&lang={lang}")
        book = load_workbook(io.BytesIO(response.data))
        method = {row[0].value: row[1].value for row in book["Method"].iter_rows(min_row=2)}
        assert period in method.values()
        assert p_label in [c.value for c in book["Overall"][1]]


def test_csv_says_its_charset_once_and_names_the_one_sided_column(fapp: Flask) -> None:
    client = _province(fapp)
    response = client.get(f"/manage/units/{unit_id('HL-AB', fapp)}/report.csv?{QUERY}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    header = next(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert "p_value_one_sided" in header and "p_value" not in header


def test_units_come_in_one_order_on_the_dashboard_and_in_the_reports(fapp: Flask) -> None:
    client = _province(fapp)
    hl = unit_id("HL", fapp)
    # Agencies before communes, then by Vietnamese name; a service point under its parent.
    expected = ["HL", "HL-TTHCC", "HL-TTHCC-1", "HL-AB", "HL-AB-1", "HL-HL", "HL-HL-1"]
    book = load_workbook(io.BytesIO(client.get(f"/manage/units/{hl}/report.xlsx?{QUERY}&lang=en").data))
    header = [c.value for c in book["Units"][1]]
    codes = [row[header.index("Code")].value for row in book["Units"].iter_rows(min_row=2)]
    assert codes == expected
    html = client.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    ids = {unit_id(code, fapp): code for code in expected}
    shown = [ids[int(i)] for i in re.findall(r'<a href="/manage/units/(\d+)\?period=', html)]
    assert shown == [code for code in expected if code in shown] and len(shown) >= 4
    page = client.get(f"/manage/units/{hl}?{QUERY}&lang=en").get_data(as_text=True)
    on_page = [ids[int(i)] for i in re.findall(r'href="/manage/units/(\d+)\?', page) if int(i) in ids]
    assert [c for c in dict.fromkeys(on_page) if c != "HL"] == [c for c in expected if c != "HL"]


def test_the_flags_page_prints_times_the_locales_way(fapp: Flask) -> None:
    from survey.blueprints.manage.flags import local_minute

    moment = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)  # 09:05 in Vietnam (UTC+7)
    with fapp.test_request_context("/?lang=vi"):
        assert local_minute(moment) == "09:05 1/3/26"  # CLDR vi short form
    with fapp.test_request_context("/?lang=en"):
        assert local_minute(moment) in ("3/1/26, 9:05\u202fAM", "3/1/26, 9:05 AM")


def test_percentages_and_numbers_are_babels(app: Flask) -> None:
    """`formats.percent` and `formats.number` apply Babel's patterns themselves (a league table prints
    2,000 figures): written out here for a few values, and equal to flask_babel's own formatting for
    many, in both languages (away from zero, where `formats` drops the sign of "-0,0%")."""
    from flask_babel import force_locale, format_decimal, format_percent

    from survey.services.reporting import formats

    values = [0.8644, 0.86449, 0.86451, 0.99951, 1.0, 12.3456, 1434.0, 1234567.891]
    values += [float(x) for x in np.random.default_rng(5).uniform(-2, 2, 500)]
    with app.test_request_context("/"):
        with force_locale("vi"):
            assert [formats.percent(0.8644), formats.percent(1.0)] == ["86,4%", "100,0%"]
            assert [formats.number(1434), formats.percent(-0.00001), formats.percent(0.5, 0)] == [
                "1.434", "0,0%", "50%"]
        with force_locale("en"):
            assert [formats.percent(0.8644), formats.number(1434), formats.number(2.5, 1)] == [
                "86.4%", "1,434", "2.5"]
        for lang in ("vi", "en"):
            with force_locale(lang):
                for value in (v for v in values if abs(v) >= 0.005):
                    assert formats.percent(value) == format_percent(value, "#,##0.0%")
                    assert formats.number(value, 2) == format_decimal(value, "#,##0.00")
