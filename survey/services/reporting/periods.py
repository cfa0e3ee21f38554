"""Calendar periods of the index reports: a month, a quarter or a year, with the labels `analysis`
uses for them, stepping back and forth along a trend window, and a span cut at month ends.

`Period.from_text` is the one parser of period strings: the report views, the frames CSV and API,
the `flask` commands and the scripts in bench/ all go through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

FIRST_YEAR, LAST_YEAR = 2000, 2100  # a year outside these is a typo, not a survey period
_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})|-?Q(?P<quarter>[0-9]))?")
EXPECTED = "a month (2026-10), a quarter (2026Q3 or 2026-Q3) or a year (2026)"


def month_end(day: date) -> date:
    """The last day of `day`'s calendar month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def is_calendar_month(first: date, last: date) -> bool:
    """Whether first..last is exactly one calendar month (a frame row a month's cells can use)."""
    return first.day == 1 and last == month_end(first)


def month_spans(first: date, last: date) -> list[tuple[date, date]]:
    """first..last cut at calendar-month ends."""
    spans = []
    start = first
    while start <= last:
        spans.append((start, min(month_end(start), last)))
        start = month_end(start) + timedelta(days=1)
    return spans


class PeriodError(ValueError):
    """A string that is not a period; the message names the string and what was expected."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r} is not a period: {reason}; expected {EXPECTED}")
        self.text = text
        self.reason = reason


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    """A calendar period; `label` matches the labels of `analysis` ("2026-10", "2026Q4", "2026")."""

    kind: PeriodKind
    first: date
    last: date
    label: str

    @classmethod
    def from_text(cls, text: str) -> Period:
        """Parse "2026-10", "2026Q3", "2026-Q3" (q in either case) or "2026", surrounding blanks ignored.

        Raises
        ------
        PeriodError
            For anything else, naming the string and the reason (month 13, quarter 5, year 1850...).
        """
        match = _PERIOD.fullmatch(text.strip().upper())
        if match is None:
            raise PeriodError(text, "unrecognised form")
        year = int(match["year"])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise PeriodError(text, f"the year must lie between {FIRST_YEAR} and {LAST_YEAR}")
        if match["month"] is not None:
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise PeriodError(text, "the month must lie between 01 and 12")
            return cls.month(year, month)
        if match["quarter"] is not None:
            quarter = int(match["quarter"])
            if not 1 <= quarter <= 4:
                raise PeriodError(text, "the quarter must lie between 1 and 4")
            return cls.quarter(year, quarter)
        return cls.year(year)

    @classmethod
    def parse(cls, text: str | None, today: date) -> Period:
        """`from_text`, but a missing or bad string is the last full month before `today` (for the
        period pickers of pages, where a stale link should still show something)."""
        try:
            return cls.from_text(text or "")
        except PeriodError:
            return cls.latest_complete_month(today)

    @classmethod
    def latest_complete_month(cls, today: date) -> Period:
        """The last month that ended before `today`."""
        previous = today.replace(day=1) - timedelta(days=1)
        return cls.month(previous.year, previous.month)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        return cls(PeriodKind.MONTH, first, month_end(first), f"{year}-{month:02d}")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise ValueError(quarter)
        first = date(year, 3 * quarter - 2, 1)
        last = Period.month(year, 3 * quarter).last
        return cls(PeriodKind.QUARTER, first, last, f"{year}Q{quarter}")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(PeriodKind.YEAR, date(year, 1, 1), date(year, 12, 31), str(year))

    @classmethod
    def spanning(cls, first: date, last: date) -> Period | None:
        """The month, quarter or year that runs from `first` to `last` (as an alert stores it), or None."""
        candidates = [cls.month(first.year, first.month), cls.year(first.year)]
        if first.month % 3 == 1:
            candidates.append(cls.quarter(first.year, (first.month - 1) // 3 + 1))
        return next((p for p in candidates if (p.first, p.last) == (first, last)), None)

    def shifted(self, steps: int) -> Period:
        """The period `steps` periods earlier (negative: later)."""
        if self.kind is PeriodKind.YEAR:
            return Period.year(self.first.year - steps)
        months = 3 if self.kind is PeriodKind.QUARTER else 1
        index = self.first.year * 12 + self.first.month - 1 - steps * months
        year, month = divmod(index, 12)
        if self.kind is PeriodKind.QUARTER:
            return Period.quarter(year, month // 3 + 1)
        return Period.month(year, month + 1)
