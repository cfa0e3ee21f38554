"""Export writers: formula neutralisation, CSV with BOM, XLSX types and formats, download names."""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from survey.services.disclosure.exports import (
    ColumnKind,
    Table,
    ascii_slug,
    content_disposition,
    csv_bytes,
    download_name,
    neutralise,
    xlsx_bytes,
)


@pytest.mark.parametrize("text", ["=1+1", "+84912345678", "-2+3", "@SUM(A1:A3)", "\t=cmd", "\r=cmd",
                                  "=HYPERLINK(\"http://x\",\"bấm\")", "-5"])
def test_text_starting_with_a_formula_trigger_is_prefixed(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", [-5, -0.25, 0.853, Decimal("-1.5"), 0, None])
def test_numbers_and_empty_cells_are_untouched(value: object) -> None:
    result = neutralise(value)  # type: ignore[arg-type]
    assert result is value


@pytest.mark.parametrize("text", ["Phường An Bình", "", "a=b", "5 - 3", "'quoted", "HL-AB", " =space first"])
def test_ordinary_text_is_untouched(text: str) -> None:
    assert neutralise(text) == text


def _table() -> Table:
    return Table(
        "Estimates", "Estimates", ("unit", "est", "n", "note"),
        (("Phường An Bình", 0.8532, 424, "=1+2"), ("Xã Hòa Lạc", float("nan"), 3, "-bad"),
         ("HL-AB-1", -0.05, 0, None)),
        (ColumnKind.TEXT, ColumnKind.PERCENT, ColumnKind.COUNT, ColumnKind.TEXT),
    )


def test_csv_has_a_bom_and_round_trips() -> None:
    data = csv_bytes(_table())
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["unit", "est", "n", "note"],
        ["Phường An Bình", "0.8532", "424", "'=1+2"],
        ["Xã Hòa Lạc", "", "3", "'-bad"],  # NaN is an empty cell, never "nan"
        ["HL-AB-1", "-0.05", "0", ""],  # a negative number stays a number
    ]
    assert b"\r\n" in data  # RFC 4180 line ends


def test_xlsx_keeps_numbers_numeric_with_formats_and_neutralises_text() -> None:
    book = load_workbook(io.BytesIO(xlsx_bytes([_table()], title="t")))
    assert book.sheetnames == ["Estimates"]
    sheet = book["Estimates"]
    assert [c.value for c in sheet[1]] == ["unit", "est", "n", "note"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    est, n, note = sheet["B2"], sheet["C2"], sheet["D2"]
    assert isinstance(est.value, float) and math.isclose(est.value, 0.8532)
    assert est.number_format == "0.0%"
    assert n.value == 424 and n.number_format == "#,##0"
    assert note.data_type == "s" and note.value == "'=1+2"  # text, not a live formula
    assert sheet["B3"].value is None  # NaN
    assert sheet["B4"].value == -0.05
    assert sheet["A2"].value == "Phường An Bình"
    assert 8 <= sheet.column_dimensions["A"].width <= 60


def test_xlsx_drops_control_characters_that_would_corrupt_the_file() -> None:
    table = Table("T", "T", ("text",), (("a\x01b\x1fc",),))
    sheet = load_workbook(io.BytesIO(xlsx_bytes([table])))["T"]
    assert sheet["A2"].value == "abc"


def test_table_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="cells"):
        Table("T", "T", ("a", "b"), (("only one",),))
    with pytest.raises(ValueError, match="sheet name"):
        Table("bad/name", "T", ("a",), ())


def test_download_name_is_ascii_and_carries_unit_period_instrument() -> None:
    name = download_name(unit_code="HL-AB", period="2026-Q3", instrument_id="sipas-counter",
                         instrument_version="2025.1", extension="xlsx")
    assert name == "hailong_HL-AB_2026-Q3_sipas-counter-2025.1.xlsx"
    assert download_name(unit_code="../../etc/passwd", period="2026", instrument_id="x",
                         instrument_version="1", extension="pdf") == "hailong_etc-passwd_2026_x-1.pdf"


@pytest.mark.parametrize(("text", "slug"), [("Phường An Bình", "Phuong-An-Binh"), ("Đắk Nông", "Dak-Nong"),
                                            ("a/b\\c", "a-b-c"), ("..", "x"), ("", "x")])
def test_ascii_slug(text: str, slug: str) -> None:
    assert ascii_slug(text) == slug


def test_content_disposition_has_ascii_and_rfc5987_forms() -> None:
    header = content_disposition("hailong_HL-AB_2026-Q3_x-1.pdf", utf8_name="Báo cáo Phường An Bình.pdf")
    assert header.startswith('attachment; filename="hailong_HL-AB_2026-Q3_x-1.pdf"; ')
    assert "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20Ph%C6%B0%E1%BB%9Dng%20An%20B%C3%ACnh.pdf" in header
    assert header.isascii()
