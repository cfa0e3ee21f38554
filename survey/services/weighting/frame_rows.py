"""Reading served-dossier counts from a CSV file or an API body into checked rows, without the database.

Every problem is collected with its line (CSV, the header is line 1) or row (API, the first count is row
1), so that a clerk fixes the whole file at once. Checks that need the unit tree (unknown unit, scope)
live in `survey.services.weighting.frames`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from flask_babel import gettext as _

from survey.models import ALL
from survey.services.reporting.periods import Period, PeriodError, PeriodKind

_Fail = Callable[[str, str], None]  # reports one problem of the current line: (code, message)

MAX_SERVED = 10_000_000  # dossiers per unit and period: far above any real one-stop desk, below overflow
FIELD_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
UNIT_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")  # as organisation.units.CODE_PATTERN
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNT = re.compile(r"\d+")

COLUMNS = ("unit_code", "period_start", "period_end", "period", "procedure_field", "channel", "served")


class FrameChannel(StrEnum):
    """How dossiers reached the unit (docs/sipas-method.md §2: in person / online).

    "" in a row means the frame does not break the unit's dossiers down by channel.
    """

    DIRECT = "direct"  # trực tiếp, at the counter
    ONLINE = "online"  # trực tuyến, the public service portal
    POSTAL = "postal"  # bưu chính công ích, the public postal service


@dataclass(frozen=True)
class RowError:
    """One problem: `line` in the file or `row` of the API body (0 = the file or body as a whole)."""

    line: int
    code: str
    message: str

    def describe(self) -> str:
        if self.line == 0:
            return self.message
        return str(_("Line %(line)d: %(message)s", line=self.line, message=self.message))


@dataclass(frozen=True)
class FrameRow:
    line: int
    unit_code: str
    period_start: date
    period_end: date
    procedure_field: str
    channel: str
    served: int


def parse_period(text: str) -> tuple[date, date] | None:
    """`2026-03` → March 2026, `2026-Q1` → January to March 2026; None if it is neither (a frame counts
    the dossiers of a month or a quarter, never of a whole year)."""
    try:
        period = Period.from_text(text)
    except PeriodError:
        return None
    if period.kind is PeriodKind.YEAR:
        return None
    return period.first, period.last


def _parse_date(text: str) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def decode_csv(data: bytes) -> tuple[str | None, RowError | None]:
    """UTF-8 with or without a byte-order mark; a bad byte is reported with its line."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return None, RowError(line, "encoding", _("the file is not UTF-8 text (save it as “CSV UTF-8”)."))


def read_csv_records(text: str, columns: Iterable[str], required: Iterable[str]
                     ) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Records of a CSV text as (line, {column: stripped value}), checking the header.

    `columns` are the known names, `required` those that must be present. Blank lines are skipped.
    """
    if "\x00" in text:
        return [], [RowError(0, "encoding", _("the file contains NUL characters."))]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(0, "empty", _("the file is empty."))]
    except csv.Error as error:
        return [], [RowError(1, "csv", str(error))]
    names = [name.strip().lower() for name in header]
    errors = [RowError(1, "header", _("unknown column '%(name)s'.", name=name[:40]))
              for name in names if name not in set(columns)]
    errors += [RowError(1, "header", _("column '%(name)s' appears twice.", name=name))
               for name in sorted({n for n in names if names.count(n) > 1})]
    errors += [RowError(1, "header", _("column '%(name)s' is missing.", name=name))
               for name in required if name not in names]
    if errors:
        return [], errors
    records: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                errors.append(RowError(reader.line_num, "columns", _(
                    "%(found)d values where the header has %(expected)d.", found=len(cells),
                    expected=len(names))))
                continue
            records.append((reader.line_num, {n: c.strip() for n, c in zip(names, cells, strict=True)}))
    except csv.Error as error:
        errors.append(RowError(reader.line_num, "csv", str(error)))
    return records, errors


def check_record(line: int, record: Mapping[str, object], default_period: tuple[date, date] | None = None
                 ) -> tuple[FrameRow | None, list[RowError]]:
    """Check one record's values (CSV cells are strings; API values may be numbers or null)."""
    errors: list[RowError] = []

    def fail(code: str, message: str) -> None:
        errors.append(RowError(line, code, message))

    unit_code = _text(record.get("unit_code"))
    if not unit_code:
        fail("unit", _("the unit code is empty."))
    elif not UNIT_CODE_PATTERN.fullmatch(unit_code):  # cannot exist; never send NULs etc. to the database
        fail("unit_unknown", _("unit code '%(code)s' does not exist.", code=printable(unit_code)))
    period = _row_period(record, default_period, fail)
    field = _text(record.get("procedure_field"))
    if field and not FIELD_PATTERN.fullmatch(field):
        fail("field", _("procedure field '%(field)s' is not valid (lower-case letters, digits and '-', "
                        "e.g. dat-dai).", field=field[:60]))
    channel = _text(record.get("channel")).lower()
    if channel and channel not in {c.value for c in FrameChannel}:
        fail("channel", _("channel '%(channel)s' is not one of %(allowed)s.", channel=channel[:20],
                          allowed=", ".join(c.value for c in FrameChannel)))
    served = _served(record.get("served"), fail)
    if errors or period is None or served is None:
        return None, errors
    return FrameRow(line, unit_code, period[0], period[1], field or ALL, channel or ALL, served), []


def printable(text: str, limit: int = 40) -> str:
    """`text` cut to `limit` with control characters shown as escapes, for quoting it in a message."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _row_period(record: Mapping[str, object], default: tuple[date, date] | None,
                fail: _Fail) -> tuple[date, date] | None:
    period_text = _text(record.get("period"))
    start_text, end_text = _text(record.get("period_start")), _text(record.get("period_end"))
    if period_text and (start_text or end_text):
        fail("period", _("give either 'period' or 'period_start' and 'period_end', not both."))
        return None
    if period_text:
        period = parse_period(period_text)
        if period is None:
            fail("period", _("period '%(period)s' is neither a month (2026-03) nor a quarter (2026-Q1).",
                             period=period_text[:20]))
        return period
    if not start_text and not end_text and default is not None:
        return default
    start, end = _parse_date(start_text), _parse_date(end_text)
    if start is None:
        fail("date", _("period_start '%(value)s' is not a date (YYYY-MM-DD).", value=start_text[:20]))
    if end is None:
        fail("date", _("period_end '%(value)s' is not a date (YYYY-MM-DD).", value=end_text[:20]))
    if start is None or end is None:
        return None
    if end < start:
        fail("date", _("the period ends (%(end)s) before it starts (%(start)s).", end=end.isoformat(),
                       start=start.isoformat()))
        return None
    return start, end


def _served(value: object, fail: _Fail) -> int | None:
    if isinstance(value, bool):  # JSON true is an int in Python, never a count
        value = str(value).lower()
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _COUNT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        shown = str(value)[:20] if value is not None else ""
        if isinstance(value, str | float) and shown.strip().startswith("-"):
            fail("served", _("served '%(value)s' is negative.", value=shown))
        else:
            fail("served", _("served '%(value)s' is not a whole number of dossiers.", value=shown))
        return None
    if number < 0:
        fail("served", _("served '%(value)s' is negative.", value=number))
        return None
    if number > MAX_SERVED:
        fail("served", _("served %(value)d is implausibly large (over %(max)d).", value=number,
                         max=MAX_SERVED))
        return None
    return number


def overlap_errors(rows: Iterable[FrameRow]) -> list[RowError]:
    """Refuse two rows of one unit whose periods overlap without being the same period, and exact
    duplicates (same unit, field, channel and period).

    Periods of one unit must tile time: a quarter and one of its months in one upload would be counted
    twice by `response_rates`, whatever their field or channel.
    """
    errors: list[RowError] = []
    seen: dict[tuple[str, str, str, date, date], int] = {}
    periods: dict[str, dict[tuple[date, date], int]] = {}
    for row in rows:
        key = (row.unit_code, row.procedure_field, row.channel, row.period_start, row.period_end)
        if key in seen:
            errors.append(RowError(row.line, "duplicate", _(
                "duplicates line %(other)d (same unit, field, channel and period).", other=seen[key])))
            continue
        seen[key] = row.line
        unit_periods = periods.setdefault(row.unit_code, {})
        for (start, end), other in unit_periods.items():
            if (start, end) != (row.period_start, row.period_end) and start <= row.period_end \
                    and row.period_start <= end:
                errors.append(RowError(row.line, "overlap", _(
                    "period %(start)s – %(end)s of unit '%(unit)s' overlaps %(ostart)s – %(oend)s on line "
                    "%(other)d.", start=row.period_start.isoformat(), end=row.period_end.isoformat(),
                    unit=row.unit_code, ostart=start.isoformat(), oend=end.isoformat(), other=other)))
                break
        else:
            unit_periods.setdefault((row.period_start, row.period_end), row.line)
    return errors
