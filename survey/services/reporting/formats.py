"""Numbers, percentages and dates for people, in the reader's locale, from Babel's CLDR data.

One place for every figure the web pages and the PDF print, so "86,4%" never stands beside "86.4":
Vietnamese writes a decimal comma and a dot between thousands (1.434), English the reverse. XLSX
cells stay numbers with number formats (the spreadsheet applies its own locale); only the text
cells of the XLSX method sheet (dates) come from here. Missing or non-finite values print as an en dash.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime

from babel.numbers import NumberPattern, parse_pattern
from flask_babel import format_date, format_datetime, format_decimal, get_locale

from survey.local_time import VIETNAM, local_date

MISSING = "–"  # an en dash, where a figure is missing or not a finite number


def finite_number(value: object) -> float | None:
    """`value` as a finite float, or None (missing, not a number, NaN or infinite)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _decimals(digits: int) -> str:
    return "." + "0" * digits if digits > 0 else ""


@functools.cache
def _pattern(text: str) -> NumberPattern:
    """A CLDR number pattern parsed once: a 400-row table formats thousands of figures per view, and
    Babel would parse the same few patterns again for each (the output is the same)."""
    return parse_pattern(text)


def percent(value: object, digits: int = 1) -> str:
    """A share 0..1 as a percentage: "86,4%" (vi), "86.4%" (en)."""
    number = finite_number(value)
    if number is None:
        return MISSING
    # What flask_babel.format_percent does, without its wrapper's look-ups: a unit page prints 2,000
    # figures (its league table), and Babel's own formatting is the pattern's `apply`.
    pattern = _pattern(f"#,##0{_decimals(digits)}%")
    return str(pattern.apply(_no_negative_zero(number, digits + 2), get_locale()))


def number(value: object, digits: int = 0) -> str:
    """A count or measure: "1.434" (vi), "1,434" (en); never "-0"."""
    found = finite_number(value)
    if found is None:
        return MISSING
    return str(_pattern(f"#,##0{_decimals(digits)}").apply(_no_negative_zero(found, digits), get_locale()))


def signed(value: object, digits: int = 1) -> str:
    """A change with its sign: "+2,3" / "-1,0" (vi); zero without a sign."""
    found = finite_number(value)
    if found is None:
        return MISSING
    found = _no_negative_zero(found, digits)
    if found == 0:
        return number(0, digits)
    pattern = f"#,##0{_decimals(digits)}"
    return str(format_decimal(found, _pattern(f"+{pattern};-{pattern}")))


def p_value(value: object) -> str:
    """A p-value with three decimals ("0,034"); below 0.001 as "< 0,001"."""
    found = finite_number(value)
    if found is None:
        return MISSING
    if found < 0.001:
        return "< " + str(format_decimal(0.001, "0.000"))
    return str(format_decimal(found, "0.000"))


def day(value: date) -> str:
    """A calendar day in the locale's medium form: "1 thg 10, 2026" (vi), "Oct 1, 2026" (en)."""
    return str(format_date(value, "medium"))


def local_day(moment: datetime) -> str:
    """The day of a stored UTC moment in Vietnam."""
    return day(local_date(moment))


def local_moment(moment: datetime) -> str:
    """A stored UTC moment in Vietnam's time, short form: "14:05 1/10/26" (vi)."""
    return str(format_datetime(moment.astimezone(VIETNAM), "short", rebase=False))


def utc_moment(moment: datetime) -> str:
    """A UTC moment, medium form, for the reports' "generated at (UTC)"."""
    return str(format_datetime(moment.astimezone(UTC), "medium", rebase=False))


def _no_negative_zero(number: float, digits: int) -> float:
    return 0.0 if abs(number) < 0.5 * 10**-digits else number
