"""The PDF unit report: rendered by WeasyPrint, read back with poppler (pdftotext, pdftoppm, pdffonts)."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask, render_template
from PIL import Image
from weasyprint import HTML

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Role, Unit
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.pdf_report import css_string, render_html
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import build_content
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import FORMULA_COMMENT, PERIOD, RAW_PHONE, seed_responses
from tests.survey.staff_helpers import add_staff, sign_in, staff_app

# Not marked slow: the whole test takes about 2.5 s on the 2-core machine when it is not loaded.

def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120).stdout


def test_pdf_report_renders_with_vietnamese_text_figures_verdicts_and_page_numbers(
        migrated_db: Path, tmp_path: Path) -> None:
    app: Flask = staff_app(migrated_db, tmp_path)
    seed_responses(app)
    manager = add_staff(app, "ab", Role.MANAGER, ("HL-AB",))
    client = app.test_client()
    sign_in(client, app, manager)
    response = client.get(f"/manage/units/{unit_id('HL-AB', app)}/report.pdf"
                          f"?period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0&lang=vi")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    disposition = response.headers["Content-Disposition"]
    assert 'filename="hailong_HL-AB_2026-10_sipas-counter-2025.1.pdf"' in disposition
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.data)

    text = _run("pdftotext", "-layout", str(pdf), "-")
    assert "Phường An Bình" in text  # diacritics intact, not boxes or decomposed marks
    reading_order = " ".join(_run("pdftotext", str(pdf), "-").split())
    assert "Trung tâm Phục vụ hành chính công phường An Bình" in reading_order
    # The hand-computed figures of report_helpers (AB_INDEX = 731/1200, the elements, the 0.45 share
    # with its Wilson interval on n_eff 39), as a Vietnamese reader sees them: comma decimals and no
    # space before the percent sign (CLDR's Vietnamese percent pattern, "#,##0%").
    assert "60,9%" in text  # the index
    for element in ("57,5%", "60,0%", "61,7%"):  # access, civil servants, result and feedback
        assert element in text
    assert re.search(r"45,0%\s+30,1% – 60,8%", text)  # a j % 3 == 0 criterion and its interval
    # 0.609 is below the demo's 90 % target with the whole interval under it: the verdict, in Vietnamese.
    assert "✖ chưa đạt chỉ tiêu" in text and "below target" not in text
    assert "sipas-share-satisfied-v1" in text and "sipas-counter@2025.1" in text
    pages = int(re.search(r"Pages:\s+(\d+)", _run("pdfinfo", str(pdf))).group(1))  # type: ignore[union-attr]
    assert pages >= 3
    assert f"Trang 2/{pages}" in text  # footer page numbers in the manager's language
    assert RAW_PHONE not in text and "[SĐT]" in text  # comments only through the scrubber
    assert FORMULA_COMMENT[:12] in text  # shown as text in the PDF (no spreadsheet to fool)

    fonts = _run("pdffonts", str(pdf))
    embedded = [line for line in fonts.splitlines() if "DejaVu" in line]
    assert embedded and all(" yes " in line for line in embedded)  # embedded (and subset)

    _run("pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "page"))
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 2
    for image_path in images:
        with Image.open(image_path) as image:
            width, height = image.size
            assert (width, height) == pytest.approx((413, 585), abs=3)  # A4 portrait at 50 dpi
            assert image.convert("L").getextrema()[0] < 100  # something dark is printed on the page
    with app.app_context():
        db.engine.dispose()


def _method_rows(html: str) -> list[tuple[list[str], list[str]]]:
    """The method section's body rows: each row's header cells and data cells, as text."""
    section = re.search(r'<section class="method".*?</section>', html, re.S)
    assert section is not None
    body = re.search(r"<tbody>(.*?)</tbody>", section.group(0), re.S)
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1) if body else "", re.S)
    return [(re.findall(r"<th[^>]*>(.*?)</th>", row, re.S), re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
            for row in rows]


def test_each_method_label_shares_a_table_row_with_its_own_value(migrated_db: Path, tmp_path: Path) -> None:
    """The method note was a floated <dl>: a value's line did not depend on its label's, so after a label
    that wrapped ("Công thức chỉ số (phiên bản)") every later value sat a line above its label, and a
    page break could split them (on paper "Góp ý" showed the creation time). A table row holds both."""
    app: Flask = staff_app(migrated_db, tmp_path)
    seed_responses(app)
    with app.app_context(), app.test_request_context("/?lang=vi"):
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB"))
        assert unit is not None
        report = unit_indices(db.session(), unit, "sipas-counter@2025.1", Period.month(2026, 10),
                              weighted=False, default_target=app.config["DEFAULT_TARGET"],
                              min_cell=app.config["POSTSTRAT_MIN_CELL"])
        registered = get_registered("sipas-counter", "2025.1")
        content = build_content(db.session(), report, registered.instrument, lang="vi",
                                now=datetime(2026, 11, 2, 8, 30, tzinfo=UTC))
        html = render_html(content)
    rows = _method_rows(html)
    assert len(rows) == 20  # the method note's 20 items, unit to generation time
    assert all(len(headers) == 1 and len(cells) == 1 for headers, cells in rows)
    value = {headers[0]: cells[0] for headers, cells in rows}
    assert value["Công thức chỉ số (phiên bản)"] == "sipas-share-satisfied-v1"
    assert value["Chỉ tiêu"] == "90%"
    assert value["Số phiếu hợp lệ"] == "40"  # AB_CODES twice
    assert value["Số hồ sơ đã giải quyết"] == "–"  # no frame uploaded
    assert value["Góp ý"] == "thông tin cá nhân đã được che; tối đa 30 góp ý mới nhất"
    assert value["Thời điểm lập (UTC)"] == "08:30:00 2 thg 11, 2026"
    with app.app_context():
        db.engine.dispose()


def test_pdf_method_labels_print_on_the_line_of_their_values(migrated_db: Path, tmp_path: Path) -> None:
    """What the reader sees: in the PDF's text, each label of the method note and its value share a line."""
    app: Flask = staff_app(migrated_db, tmp_path)
    seed_responses(app)
    manager = add_staff(app, "ab", Role.MANAGER, ("HL-AB",))
    client = app.test_client()
    sign_in(client, app, manager)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(client.get(f"/manage/units/{unit_id('HL-AB', app)}/report.pdf"
                               f"?period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0&lang=vi").data)
    text = _run("pdftotext", "-layout", str(pdf), "-")
    heading = re.search(r"^\s*Phương pháp\s*$", text, re.M)  # the method section on: not the cover's lines
    assert heading is not None
    method = text[heading.start():]
    for line in (r"Công thức chỉ số \(phiên\s+sipas-share-satisfied-v1", r"Chỉ tiêu\s+90%",
                 r"Số phiếu hợp lệ\s+40", r"Góp ý\s+thông tin cá nhân đã được che; tối đa 30 góp ý mới nhất",
                 r"Thời điểm lập \(UTC\)\s+\d\d:\d\d:\d\d \d{1,2} thg \d{1,2}, \d{4}"):
        assert re.search(rf"^\s*{line}\s*$", method, re.M), line
    with app.app_context():
        db.engine.dispose()


def test_heading_and_caption_move_with_their_unbreakable_table(app: Flask, tmp_path: Path) -> None:
    """The heading "Liêm chính" was left alone at the foot of a page with its table's caption, the table
    (kept whole) on the next. Here the report's stylesheet prints 235 mm of filler on A4's 259 mm of
    content height: the heading (about 15 mm with its margins) and the caption (about 5 mm) fit below it,
    the six rows of the unbreakable table (about 33 mm) do not, so all three must start page 2."""
    with app.test_request_context("/?lang=vi"):
        style = render_template("reports/_style.html", css_string=css_string,
                                c=SimpleNamespace(unit_name="U", period_label=PERIOD, instrument_key="k"))
    rows = "".join(f"<tr><th>Dòng {i}</th><td>{i}</td></tr>" for i in range(6))
    pdf = tmp_path / "orphan.pdf"
    pdf.write_bytes(HTML(string=(
        f"<!doctype html><html><head>{style}</head><body><div style='height: 235mm'></div><section>"
        f"<h2>Liêm chính</h2><table class='keep'><caption>Chú thích</caption><tbody>{rows}</tbody></table>"
        "</section></body></html>")).write_pdf())
    first, second = (_run("pdftotext", "-f", page, "-l", page, str(pdf), "-") for page in ("1", "2"))
    assert "Liêm chính" not in first and "Chú thích" not in first
    assert re.search(r"Liêm chính\s+Chú thích\s+Dòng 0", second)
