"""Unit report downloads: XLSX and CSV figures equal hand-computed ones; access, audit, bad input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Role, Unit
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import (
    AB_CRITERION_HIGH,
    AB_CRITERION_LOW,
    AB_ELEMENTS,
    AB_INDEX,
    AB_INTERVAL_HIGH,
    AB_INTERVAL_LOW,
    FORMULA_COMMENT,
    PERIOD,
    RAW_PHONE,
    seed_responses,
)
from tests.survey.staff_helpers import add_staff, sign_in, staff_app

QUERY = f"period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0"


@pytest.fixture
def rapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    seed_responses(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def _client(app: Flask, username: str, role: Role, scope: tuple[str, ...]) -> FlaskClient:
    staff = add_staff(app, username, role, scope)
    client = app.test_client()
    sign_in(client, app, staff)
    return client


def _sheet_rows(sheet) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]


def test_xlsx_figures_equal_the_hand_computed_ones_and_are_typed_numbers(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    response = client.get(f"/manage/units/{unit_id('HL-AB', rapp)}/report.xlsx?{QUERY}&lang=en")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Overall", "Elements", "Criteria", "Units", "Trend", "Change",
                               "Weighting cells", "Integrity", "Comments", "Method"]

    overall = _sheet_rows(book["Overall"])[0]
    assert overall["Measure"] == "SIPAS index"
    assert overall["Estimate"] == pytest.approx(AB_INDEX, abs=1e-12)
    assert overall["Responses (n)"] == 40
    # The composite's interval is checked against R's survey package in tests/analysis; here only
    # that the sheet carries one around the estimate.
    assert overall["Lower bound (95%)"] < AB_INDEX < overall["Upper bound (95%)"]
    elements = {str(row["Code"]): row["Estimate"] for row in _sheet_rows(book["Elements"])}
    assert elements == pytest.approx(AB_ELEMENTS, abs=1e-12)
    registered = get_registered("sipas-counter", "2025.1")
    order = [c for e in registered.instrument.index.elements for c in e.criteria]
    criteria = {str(r["Code"]): r for r in _sheet_rows(book["Criteria"])}
    assert list(criteria) == order
    for j, code in enumerate(order):
        share, interval = ((AB_CRITERION_LOW, AB_INTERVAL_LOW) if j % 3 == 0
                           else (AB_CRITERION_HIGH, AB_INTERVAL_HIGH))
        row = criteria[code]
        assert row["Estimate"] == pytest.approx(share, abs=1e-12), code
        assert (row["Lower bound (95%)"], row["Upper bound (95%)"]) == pytest.approx(interval, abs=1e-9), code

    sheet = book["Elements"]
    header = [c.value for c in sheet[1]]
    est_col, n_col = header.index("Estimate") + 1, header.index("Responses (n)") + 1
    for row in range(2, sheet.max_row + 1):
        assert isinstance(sheet.cell(row, est_col).value, float)
        assert sheet.cell(row, est_col).number_format == "0.0%"
        assert isinstance(sheet.cell(row, n_col).value, int)
        assert sheet.cell(row, n_col).number_format == "#,##0"
    assert sheet.freeze_panes == "A2" and all(c.font.bold for c in sheet[1])
    method = {r["Item"]: r["Value"] for r in _sheet_rows(book["Method"])}
    assert method["Index formula (version)"] == "sipas-share-satisfied-v1"
    assert str(method["Instrument"]).startswith("sipas-counter@2025.1")
    assert str(method["Period"]).startswith("2026-10")
    assert method["Confidence level"] == pytest.approx(0.95)
    assert "Generated at (UTC)" in method and "Weighting" in method and "Interval method" in method


def test_csv_figures_equal_the_hand_computed_ones(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    data = client.get(f"/manage/units/{unit_id('HL-AB', rapp)}/report.csv?{QUERY}").data
    rows = [r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))) if r["unit_code"] == "HL-AB"]
    index_row = next(r for r in rows if r["level"] == "headline" and r["code"] == "index")
    assert float(index_row["est"]) == pytest.approx(AB_INDEX, abs=1e-12)
    elements = {r["code"]: float(r["est"]) for r in rows if r["level"] == "element"}
    assert elements == pytest.approx(AB_ELEMENTS, abs=1e-12)


def test_csv_has_bom_stable_columns_and_round_trips(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    response = client.get(f"/manage/units/{unit_id('HL-AB', rapp)}/report.csv?{QUERY}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert rows[0][:7] == ["period", "instrument", "formula", "weighted", "unit_code", "unit_name", "level"]
    assert {r[4] for r in rows[1:]} == {"HL-AB", "HL-AB-1"}
    assert rows[1][5] == "Phường An Bình"
    assert all(r[2] == "sipas-share-satisfied-v1" for r in rows[1:])
    disposition = response.headers["Content-Disposition"]
    assert 'filename="hailong_HL-AB_2026-10_sipas-counter-2025.1.csv"' in disposition
    assert "filename*=UTF-8''hailong_HL-AB_2026-10_sipas-counter-2025.1.csv" in disposition


def test_comments_are_scrubbed_and_neutralised_in_the_xlsx(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    data = client.get(f"/manage/units/{unit_id('HL-AB', rapp)}/report.xlsx?{QUERY}").data
    comments = [c.value for row in load_workbook(io.BytesIO(data))["Comments"].iter_rows(min_row=2)
                for c in row]
    text = " ".join(str(v) for v in comments)
    assert RAW_PHONE not in text and "0912345678" not in text.replace(" ", "") and "[SĐT]" in text
    assert "'" + FORMULA_COMMENT in comments  # a formula in a comment arrives as text
    assert FORMULA_COMMENT not in comments


def test_download_is_audited_once_with_format_and_period(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    ab = unit_id("HL-AB", rapp)
    assert client.get(f"/manage/units/{ab}/report.csv?{QUERY}").status_code == 200
    events = audit_events("report.download", rapp)
    assert len(events) == 1
    assert events[0].object_id == str(ab) and events[0].unit_id == ab
    assert json.loads(events[0].detail) == {"format": "csv", "period": "2026-10",
                                            "instrument": "sipas-counter@2025.1", "weighted": False}


def test_another_units_report_is_404_and_audited(rapp: Flask) -> None:
    client = _client(rapp, "hoalac", Role.MANAGER, ("HL-HL",))
    other = unit_id("HL-AB", rapp)
    for fmt in ("pdf", "xlsx", "csv"):
        assert client.get(f"/manage/units/{other}/report.{fmt}?{QUERY}").status_code == 404
    denied = [e for e in audit_events("access.denied", rapp) if e.object_id == str(other)]
    assert len(denied) == 3
    assert all(json.loads(e.detail) == {"attempted": "report.download"} for e in denied)
    assert client.get(f"/manage/units/999999/report.csv?{QUERY}").status_code == 404
    assert audit_events("report.download", rapp) == []


def test_anonymous_is_sent_to_sign_in(rapp: Flask) -> None:
    response = rapp.test_client().get(f"/manage/units/{unit_id('HL-AB', rapp)}/report.xlsx?{QUERY}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_researcher_gets_aggregate_tables_without_comments_and_no_pdf(rapp: Flask) -> None:
    client = _client(rapp, "res", Role.RESEARCHER, ("HL",))
    ab = unit_id("HL-AB", rapp)
    xlsx = client.get(f"/manage/units/{ab}/report.xlsx?{QUERY}")
    assert xlsx.status_code == 200
    assert "Comments" not in load_workbook(io.BytesIO(xlsx.data)).sheetnames
    assert client.get(f"/manage/units/{ab}/report.csv?{QUERY}").status_code == 200
    pdf = client.get(f"/manage/units/{ab}/report.pdf?{QUERY}")
    assert pdf.status_code == 403 and "E-FORBIDDEN" in pdf.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "period=2026-13", "period=abc", "period=2026-Q5", "period=1850", "period=",
    "period=2026-10&period=2026-11", "period=2026-10%00", "period=%EF%BC%92026-10", "instrument=nope@1",
    "instrument=../../etc/passwd", "instrument=sipas-counter@9.9",
    "weighted=2", "weighted=yes",
])
def test_bad_parameters_are_400_e_value_in_vietnamese(rapp: Flask, query: str) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    response = client.get(f"/manage/units/{unit_id('HL-AB', rapp)}/report.csv?{query}&lang=vi")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "E-VALUE" in body
    assert any(word in body for word in ("Kỳ báo cáo phải là", "Bộ phiếu", "Tham số"))
    assert audit_events("report.download", rapp) == []


@pytest.mark.parametrize("path", [
    "report.pdf/../../../etc/passwd", "report..%2F..%2Fetc%2Fpasswd", "report.exe", "report.xlsx.exe",
    "report.%2e%2e%2fpasswd", "..%2Freport.csv", "report.CSV", "report",
])
def test_path_traversal_in_the_download_name_is_404(rapp: Flask, path: str) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    response = client.get(f"/manage/units/{unit_id('HL-AB', rapp)}/{path}?{QUERY}")
    assert response.status_code == 404


def test_a_period_without_responses_still_gives_a_report(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    ab = unit_id("HL-AB", rapp)
    response = client.get(f"/manage/units/{ab}/report.xlsx?period=2026-03&weighted=1")
    assert response.status_code == 200  # the unit's assigned instrument, no responses
    book = load_workbook(io.BytesIO(response.data))
    assert all(r["Estimate"] is None for r in _sheet_rows(book["Elements"]))
    # Before the demo assignments open (1 July 2025) the unit has no instrument: the reader must choose.
    before = client.get(f"/manage/units/{ab}/report.xlsx?period=2025-01")
    assert before.status_code == 400 and "E-VALUE" in before.get_data(as_text=True)


def test_unit_page_links_to_the_three_formats_with_its_options(rapp: Flask) -> None:
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    ab = unit_id("HL-AB", rapp)
    html = client.get(f"/manage/units/{ab}?period={PERIOD}&weighted=0").get_data(as_text=True)
    for fmt in ("pdf", "xlsx", "csv"):
        assert f"/manage/units/{ab}/report.{fmt}?" in html
    assert "period=2026-10" in html and "weighted=0" in html


def test_a_unit_name_that_looks_like_a_formula_is_neutralised_in_csv_and_xlsx(rapp: Flask) -> None:
    evil = "=cmd|' /C calc'!A0"
    with rapp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB"))
        assert unit is not None
        unit.name_vi = evil
        db.session.commit()
    client = _client(rapp, "ab", Role.MANAGER, ("HL-AB",))
    ab = unit_id("HL-AB", rapp)
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/manage/units/{ab}/report.csv?{QUERY}").data.decode("utf-8-sig"))))
    assert {r["unit_name"] for r in rows if r["unit_code"] == "HL-AB"} == {"'" + evil}
    units = load_workbook(io.BytesIO(client.get(f"/manage/units/{ab}/report.xlsx?{QUERY}").data))["Units"]
    cell = units["B2"]
    assert cell.value == "'" + evil and cell.data_type == "s"


def test_page_margin_strings_cannot_break_out_of_css() -> None:
    from survey.services.reporting.pdf_report import css_string

    escaped = str(css_string('Phường "A" </style><script>x</script> \\ ;}'))
    assert escaped.startswith('"') and escaped.endswith('"')
    inner = escaped[1:-1]
    assert not set(inner) & set('"<>/\\;{}') - {"\\"}
    assert "Phường" in inner and "\\22 " in inner and "\\3c " in inner


def test_print_charts_carry_their_styles_as_svg_attributes() -> None:
    from survey.charts import Point, interval_plot
    from survey.services.reporting.pdf_report import print_svg

    svg = str(print_svg(interval_plot([Point("Tiếp cận", 0.8, 0.75, 0.85)], target=0.9, title="t", width=640),
                        pad_right=30))
    assert 'class="ci" stroke="#222"' in svg and 'class="target" stroke="#a01010"' in svg
    assert 'viewBox="0 0 670 ' in svg  # 640 + 30
