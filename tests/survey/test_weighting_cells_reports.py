"""The post-stratification's merged cells (which field went where, and why) are on the unit page, in the
XLSX and in the PDF, in the reader's language.

Set-up: An Bình's desk HL-AB-1 has 40 October responses from no counter (no procedure field) and a
frame of 500 dossiers of which 300 are 'tu-phap'. By the collapse rule (docs/weights.md;
analysis.poststratification) the 'tu-phap' cell has dossiers but no response, so it cannot stand alone,
and its sibling (the 200 dossiers of no known field, with the 40 responses) is merged with it: both go
into the unit's total.
"""

from __future__ import annotations

import io
import subprocess
from datetime import date
from pathlib import Path

from flask import Flask
from openpyxl import load_workbook

from survey.extensions import db
from survey.models import FrameUpload, Role, ServedCount
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, add_responses
from tests.survey.staff_helpers import signed_in, staff_app

QUERY = "period=2026-10&instrument=sipas-counter@2025.1"


def _app(migrated_db: Path, tmp_path: Path) -> Flask:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, month=10, harassment=False)
    with app.app_context():
        upload = FrameUpload(source="csv", rows=2)
        db.session.add(upload)
        db.session.flush()
        for field, served in (("", 500), ("tu-phap", 300)):
            db.session.add(ServedCount(unit_id=unit_id("HL-AB-1", app), procedure_field=field, channel="",
                                       period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                                       served=served, upload_id=upload.id))
        db.session.commit()
    return app


def test_merged_cells_in_the_xlsx_the_page_and_the_pdf(migrated_db: Path, tmp_path: Path) -> None:
    app = _app(migrated_db, tmp_path)
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    uid = unit_id("HL-AB-1", app)
    xlsx = client.get(f"/manage/units/{uid}/report.xlsx?{QUERY}&weighted=1&lang=en")
    book = load_workbook(io.BytesIO(xlsx.data))
    rows = [tuple(c.value for c in row) for row in book["Weighting cells"].iter_rows(min_row=2)]
    name = "An Binh Ward Public Administrative Service Centre"
    assert rows == [
        ("HL-AB-1", name, "2026-10", "(not known)", 200, "the unit's total",
         "merged with a field that could not stand alone"),
        ("HL-AB-1", name, "2026-10", "'tu-phap'", 300, "the unit's total", "no responses"),
    ]
    method = {r[0].value: r[1].value for r in book["Method"].iter_rows(min_row=2)}
    assert method["Weighting cells merged"] == 2

    page = client.get(f"/manage/units/{uid}?{QUERY}&weighted=1&lang=en").get_data(as_text=True)
    assert "2 weighting cells merged this period" in page
    assert ("procedure field &#39;tu-phap&#39; (300 dossiers): merged into the unit&#39;s total — no "
            "responses.") in page

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(client.get(f"/manage/units/{uid}/report.pdf?{QUERY}&weighted=1&lang=vi").data)
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True,
                                   timeout=120).stdout.split())
    assert "Ô gia quyền đã gộp" in text
    assert "'tu-phap'" in text and "không có phiếu trả lời nào" in text
    assert "gộp cùng một lĩnh vực không thể đứng riêng" in text


def test_unweighted_reports_merge_nothing(migrated_db: Path, tmp_path: Path) -> None:
    app = _app(migrated_db, tmp_path)
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    uid = unit_id("HL-AB-1", app)
    xlsx = client.get(f"/manage/units/{uid}/report.xlsx?{QUERY}&weighted=0&lang=en")
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book["Weighting cells"].max_row == 1  # the header only
    method = {r[0].value: r[1].value for r in book["Method"].iter_rows(min_row=2)}
    assert method["Weighting cells merged"] is None
    page = client.get(f"/manage/units/{uid}?{QUERY}&weighted=0&lang=en").get_data(as_text=True)
    assert "weighting cell" not in page
