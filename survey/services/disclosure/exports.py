"""Export tables as CSV and XLSX, safely: the `(headers, rows)` shape, formula neutralisation, names.

Every export is a list of `Table`s, each a header row and data rows plus a `ColumnKind` per column, so
the writers know that a share is a percentage, a count a count, and text is text.

Formula ("CSV") injection (docs/bad-input.md row 22; OWASP, *CSV Injection*): a spreadsheet evaluates a
cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and tab or carriage return can be used
to smuggle one past a naive check. `neutralise` prefixes every such *text* cell with an apostrophe.
Numbers (int, float, Decimal) are never touched, so -0.05 stays a number. A *string* that merely looks
like a number ("-5") is prefixed too: it is text by the time it reaches the writer (a unit code, a
comment), OWASP's guidance is "any cell starting with …", and numbers that matter are passed as
numbers. openpyxl would otherwise store ``=…`` as a live formula in the XLSX.

CSV is RFC 4180 (comma, CRLF, minimal quoting, "." as the decimal mark) in UTF-8 *with* a byte-order
mark: without the BOM, Excel reads UTF-8 as the ANSI code page (Windows-1258 on Vietnamese Windows)
and shows "PhÆ°á»ng" for "Phường"; Python (`utf-8-sig`), pandas and LibreOffice skip the BOM.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import cast
from urllib.parse import quote

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from survey.services.reporting.labels import P_ONE_SIDED, P_TWO_SIDED, SUPPRESSED, flag_text, verdict_text
from survey.services.reporting.report_content import Figure, ReportContent, method_pairs
from survey.services.reporting.small_cells import SMALL_CELL_FLAG

Cell = str | int | float | Decimal | date | datetime | None

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_ENCODING = "utf-8-sig"  # UTF-8 with a byte-order mark, for Excel (see the module docstring)


class ColumnKind(StrEnum):
    """How a column's numbers are shown in a spreadsheet."""

    TEXT = "text"
    PERCENT = "percent"  # a proportion 0..1 shown as 85.3 %
    COUNT = "count"  # whole numbers with thousands separators
    DECIMAL = "decimal"  # e.g. a design effect
    P_VALUE = "p_value"
    DATE = "date"
    SHARE_OR_COUNT = "share_or_count"  # a key-value column: floats are shares, ints are counts


NUMBER_FORMATS: Mapping[ColumnKind, str] = {
    ColumnKind.PERCENT: "0.0%",
    ColumnKind.COUNT: "#,##0",
    ColumnKind.DECIMAL: "0.00",
    ColumnKind.P_VALUE: "0.000",
    ColumnKind.DATE: "yyyy-mm-dd",
}


@dataclass(frozen=True)
class Table:
    """One exported table: a sheet of the XLSX, a section of the report.

    `key` names the sheet (ASCII, at most 31 characters, Excel's limit); `title` is for people.
    """

    key: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    kinds: tuple[ColumnKind, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.kinds:
            object.__setattr__(self, "kinds", (ColumnKind.TEXT,) * len(self.headers))
        if len(self.kinds) != len(self.headers):
            raise ValueError(f"table {self.key}: {len(self.kinds)} kinds for {len(self.headers)} headers")
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"table {self.key}: a row has {len(row)} cells for {len(self.headers)}")
        if not re.fullmatch(r"[A-Za-z0-9_ ()-]{1,31}", self.key):
            raise ValueError(f"table key {self.key!r} is not a valid sheet name")


def neutralise(value: Cell) -> Cell:
    """The cell, with an apostrophe before text that a spreadsheet would run as a formula.

    >>> neutralise("=1+1"), neutralise("-5"), neutralise(-5), neutralise("Phường An Bình")
    ("'=1+1", "'-5", -5, 'Phường An Bình')
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _plain(value: Cell) -> Cell:
    """NaN and infinities are "no value" in an export (a spreadsheet cannot hold them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def csv_bytes(table: Table, *, bom: bool = True) -> bytes:
    """The table as RFC 4180 CSV, UTF-8 (with a BOM unless `bom` is False); text neutralised, numbers
    written with "."."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in table.headers])
    for row in table.rows:
        writer.writerow(["" if (cell := _plain(neutralise(v))) is None else _csv_text(cell) for v in row])
    return buffer.getvalue().encode(CSV_ENCODING if bom else "utf-8")


def _csv_text(value: Cell) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest round-trip representation, never locale-dependent
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class SheetStyle:
    """Column width limits in characters (Excel's unit)."""

    min_width: float = 8.0
    max_width: float = 60.0


def _xlsx_value(value: Cell) -> Cell:
    value = _plain(neutralise(value))
    if isinstance(value, str):
        return str(ILLEGAL_CHARACTERS_RE.sub("", value))  # control characters make an unreadable file
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: exports state UTC in the header
    return value


def _width(value: Cell) -> int:
    if value is None:
        return 0
    if isinstance(value, float):
        return 8
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def _cell_kind(kind: ColumnKind, value: object) -> ColumnKind:
    if kind is not ColumnKind.SHARE_OR_COUNT:
        return kind
    if isinstance(value, float):
        return ColumnKind.PERCENT
    return ColumnKind.COUNT if isinstance(value, int) else ColumnKind.TEXT


def add_sheet(workbook: Workbook, table: Table, style: SheetStyle = SheetStyle()) -> None:
    """Append `table` as a sheet: bold frozen header, number formats per column, fitted widths."""
    sheet = workbook.create_sheet(title=table.key)
    sheet.append([_xlsx_value(h) for h in table.headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.rows:
        sheet.append([_xlsx_value(v) for v in row])
    sheet.freeze_panes = "A2"
    for index, kind in enumerate(table.kinds, start=1):
        letter = get_column_letter(index)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            number_format = NUMBER_FORMATS.get(_cell_kind(kind, cell.value))
            if number_format is not None:
                cell.number_format = number_format
        widest = max([_width(table.headers[index - 1]) * 0.9,
                      *(_width(row[index - 1]) for row in table.rows)])
        sheet.column_dimensions[letter].width = min(style.max_width, max(style.min_width, widest + 2))
    if table.rows:
        sheet.auto_filter.ref = sheet.dimensions


def xlsx_bytes(tables: Sequence[Table], *, title: str = "", creator: str = "Hài Lòng") -> bytes:
    """A workbook with one sheet per table, in order."""
    workbook = Workbook()
    workbook.remove(cast(Worksheet, workbook.active))  # a new workbook's one sheet; the stubs allow None
    workbook.properties.title = title
    workbook.properties.creator = creator
    for table in tables:
        add_sheet(workbook, table)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def ascii_slug(text: str) -> str:
    """ASCII letters, digits, ".", "-" and "_" only: "Phường An Bình" -> "Phuong-An-Binh"."""
    text = text.replace("đ", "d").replace("Đ", "D")  # đ has no decomposition, unlike the tone marks
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-.")
    return re.sub(r"-{2,}", "-", slug) or "x"


def download_name(*, unit_code: str, period: str, instrument_id: str, instrument_version: str,
                  extension: str) -> str:
    """`hailong_HL-AB_2026-Q3_sipas-counter-2025.1.xlsx`: unit, period and instrument in the name."""
    parts = ("hailong", ascii_slug(unit_code), ascii_slug(period),
             f"{ascii_slug(instrument_id)}-{ascii_slug(instrument_version)}")
    return "_".join(parts) + "." + ascii_slug(extension)


def content_disposition(filename: str, *, utf8_name: str | None = None) -> str:
    """`attachment` with a plain ASCII `filename` and the RFC 5987/6266 `filename*` form.

    `utf8_name` may carry diacritics (browsers that read `filename*` show it); `filename` is the
    ASCII fallback for the rest.
    """
    fallback = ascii_slug(filename)
    extended = quote(utf8_name or filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{extended}"




# --- The unit report as tables -------------------------------------------------------------------------

_STAT_KINDS = (ColumnKind.COUNT, *(ColumnKind.PERCENT,) * 4, ColumnKind.TEXT, ColumnKind.P_VALUE,
               ColumnKind.COUNT, ColumnKind.DECIMAL, ColumnKind.TEXT)


def _stat_headers() -> tuple[str, ...]:
    return (_("Responses (n)"), _("Estimate"), _("Lower bound (95%)"), _("Upper bound (95%)"),
            _("Target"), _("Verdict"), str(P_ONE_SIDED), _("Effective n"), _("Design effect"),
            _("Notes"))


def _stat_cells(figure: Figure) -> tuple[Cell, ...]:
    if SMALL_CELL_FLAG in figure.flags:  # the mark, not a blank that reads as "no responses"
        mark = str(SUPPRESSED)
        return (mark, mark, mark, mark, figure.target, mark, None, None, None,
                ", ".join(flag_text(f) for f in figure.flags))
    return (figure.n, figure.est, figure.ci_lo, figure.ci_hi, figure.target, verdict_text(figure.verdict),
            figure.p_value, None if figure.n_eff is None else round(figure.n_eff), figure.deff,
            ", ".join(flag_text(f) for f in figure.flags))


def report_tables(content: ReportContent, *, include_comments: bool) -> list[Table]:
    """The sheets of the XLSX, in order: overall, elements, criteria, units, trend, change, merged
    weighting cells, integrity, comments, method. Researchers get the aggregate tables only
    (`include_comments=False`)."""
    stats = _stat_headers()
    tables = [
        Table("Overall", _("Overall"), (_("Measure"), *stats),
              tuple((f.label, *_stat_cells(f)) for f in content.headline), (ColumnKind.TEXT, *_STAT_KINDS)),
        Table("Elements", _("Elements"), (_("Code"), _("Element"), *stats),
              tuple((f.key, f.label, *_stat_cells(f)) for f in content.elements),
              (ColumnKind.TEXT, ColumnKind.TEXT, *_STAT_KINDS)),
        Table("Criteria", _("Criteria"), (_("Element"), _("Code"), _("Criterion"), *stats),
              tuple((f.group, f.key, f.label, *_stat_cells(f)) for f in content.criteria),
              (ColumnKind.TEXT,) * 3 + _STAT_KINDS),
        Table("Units", _("Units"), (_("Code"), _("Unit"), _("Parent"), *stats),
              tuple((u.code, u.name, u.parent, *_stat_cells(u.figure)) for u in content.units),
              (ColumnKind.TEXT,) * 3 + _STAT_KINDS),
        Table("Trend", _("Trend"), (_("Period"), _("Unit code"), *stats),
              tuple((t.period, t.unit_code, *_stat_cells(t.figure)) for t in content.trend),
              (ColumnKind.TEXT,) * 2 + _STAT_KINDS),
        change_table(content),
        Table("Weighting cells", _("Weighting cells merged"),
              (_("Unit code"), _("Unit"), _("Month"), _("Procedure field"), _("Dossiers served"),
               _("Merged into"), _("Reason")),
              tuple((m.unit_code, m.unit_name, m.month, m.field, m.served, m.merged_into, m.reason)
                    for m in content.merged),
              (*(ColumnKind.TEXT,) * 4, ColumnKind.COUNT, ColumnKind.TEXT, ColumnKind.TEXT)),
        Table("Integrity", _("Integrity"), (_("Code"), _("Question"), _("Responses (n)"),
                                            _("Share with the good answer"), _("Lower bound (95%)"),
                                            _("Upper bound (95%)")),
              tuple((f.key, f.label, *_stat_cells(f)[:4]) for f in content.integrity),
              (ColumnKind.TEXT, ColumnKind.TEXT, ColumnKind.COUNT) + (ColumnKind.PERCENT,) * 3),
    ]
    if include_comments:
        tables.append(Table(
            "Comments", _("Comments"), (_("Month"), _("Unit code"), _("Comment (personal data masked)"),
                                        _("Marked for review")),
            tuple((c.month, c.unit_code, c.text, _("yes") if c.needs_review else "")
                  for c in content.comments),
        ))
    tables.append(method_table(content))
    return tables


def change_table(content: ReportContent) -> Table:
    """The overall index's change against the previous period, as the unit page and the PDF say it
    (two-sided test; `survey.services.reporting.period_change`). No row when there is no previous period."""
    headers = (_("Previous period"), _("Previous estimate"), _("Estimate"), _("Change"),
               _("Lower bound (95%)"), _("Upper bound (95%)"), str(P_TWO_SIDED), _("Degrees of freedom"),
               _("Result"))
    kinds = (ColumnKind.TEXT, *(ColumnKind.PERCENT,) * 5, ColumnKind.P_VALUE, ColumnKind.DECIMAL,
             ColumnKind.TEXT)
    change = content.change
    if change is None:
        return Table("Change", _("Change"), headers, (), kinds)
    if not change.comparable:
        row: tuple[Cell, ...] = (change.previous_period, _finite(change.previous_est),
                                 _finite(change.current_est), None, None, None, None, None,
                                 _("not comparable (too few responses in one of the two periods)"))
    else:
        result = (_("no significant change") if not change.significant
                  else _("significant drop") if change.diff < 0 else _("significant rise"))
        row = (change.previous_period, change.previous_est, change.current_est, change.diff, change.lo,
               change.hi, change.p_value, change.df, result)
    return Table("Change", _("Change"), headers, (row,), kinds)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def method_table(content: ReportContent) -> Table:
    """The method note as a two-column sheet; its fractions (confidence, target, rate) show as %."""
    return Table("Method", _("Method"), (_("Item"), _("Value")), tuple(method_pairs(content)),
                 (ColumnKind.TEXT, ColumnKind.SHARE_OR_COUNT))


CSV_HEADERS = ("period", "instrument", "formula", "weighted", "unit_code", "unit_name", "level", "code",
               "label", "element", "n", "est", "ci_lo", "ci_hi", "target", "verdict", "p_value_one_sided",
               "n_eff", "deff", "flags")


def csv_table(content: ReportContent) -> Table:
    """One long table for machines: stable English column names and verdict codes, numbers as 0..1."""
    common = (content.period_label, content.instrument_key, content.formula, int(content.weighted))

    def line(unit_code: str, unit_name: str, level: str, figure: Figure) -> tuple[Cell, ...]:
        return (*common, unit_code, unit_name, level, figure.key, figure.label, figure.group, figure.n,
                figure.est, figure.ci_lo, figure.ci_hi, figure.target, figure.verdict, figure.p_value,
                figure.n_eff, figure.deff, "|".join(figure.flags))

    own = (content.unit_code, content.unit_name)
    rows = [line(*own, "headline", f) for f in content.headline]
    rows += [line(*own, "element", f) for f in content.elements]
    rows += [line(*own, "criterion", f) for f in content.criteria]
    rows += [line(*own, "integrity", f) for f in content.integrity]
    rows += [line(u.code, u.name, "unit", u.figure) for u in content.units if u.code != content.unit_code]
    return Table("Estimates", "Estimates", CSV_HEADERS, tuple(rows))
