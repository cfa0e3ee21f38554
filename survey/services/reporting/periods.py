"""Calendar periods of the index reports: a month, a quarter or a year, with the labels `analysis`
uses for them, and stepping back and forth along a trend window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


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
    def parse(cls, text: str | None, today: date) -> Period:
        """Parse "2026-10", "2026Q4" or "2026"; anything else is the last full month before `today`."""
        text = (text or "").strip().upper()
        try:
            if len(text) == 7 and text[4] == "-":
                return cls.month(int(text[:4]), int(text[5:]))
            if len(text) == 6 and text[4] == "Q":
                return cls.quarter(int(text[:4]), int(text[5]))
            if len(text) == 4:
                return cls.year(int(text))
        except ValueError:
            pass
        previous = today.replace(day=1) - timedelta(days=1)
        return cls.month(previous.year, previous.month)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return cls(PeriodKind.MONTH, first, last, f"{year}-{month:02d}")

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
