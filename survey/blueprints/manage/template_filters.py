"""Template filters and globals of the manager pages: numbers, dates, percentages and p-values through
Babel (`survey.services.reporting.formats`), and the words for verdicts, flags, statuses and the
small-cell mark (`survey.services.reporting.labels`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from survey.blueprints.manage import bp
from survey.local_time import local_month
from survey.services.citizens.plausibility import reason_labels
from survey.services.reporting import formats
from survey.services.reporting.labels import (
    SUPPRESSED,
    SUPPRESSED_NOTE,
    VERDICTS,
    flags_text,
    verdict_text,
    weighting_text,
)

STATUS_LABELS = {"flagged": _l("flagged"), "excluded": _l("excluded")}


@bp.app_template_filter("pct")
def pct(value: Any, digits: int = 1) -> str:
    """86,4% in Vietnamese, 86.4% in English (Babel); an en dash when missing."""
    return formats.percent(value, digits)


@bp.app_template_filter("num")
def num(value: Any, digits: int = 0) -> str:
    return formats.number(value, digits)


@bp.app_template_filter("signed")
def signed(value: Any, digits: int = 1) -> str:
    return formats.signed(value, digits)


@bp.app_template_filter("p_value")
def p_value(value: Any) -> str:
    return formats.p_value(value)


@bp.app_template_filter("day")
def day(value: date) -> str:
    return formats.day(value)


@bp.app_template_filter("utc_moment")
def utc_moment(value: datetime) -> str:
    return formats.utc_moment(value)


bp.add_app_template_filter(local_month, "local_month")


@bp.app_template_filter("local_date")
def local_date(moment: datetime) -> str:
    return formats.local_day(moment)


@bp.app_template_global("weighting_text")
def weighting_label(weighting: str) -> str:
    """The weighting statement in the page's language (the same words as the reports)."""
    return weighting_text(weighting)


@bp.app_template_filter("flag_labels")
def flag_labels(flags: Any) -> str:
    """analysis's `|`-joined precision flags, in words."""
    if not isinstance(flags, str) or not flags:
        return ""
    return flags_text(flags)


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@bp.app_template_filter("status_reason_label")
def status_reason_label(reason: str) -> str:
    """Reason codes the application records, worded in the page's language (one source: plausibility)."""
    return "; ".join(reason_labels(reason))


@bp.app_template_global("suppressed_text")
def suppressed_text() -> str:
    """The mark of a figure the small-cell rule withholds."""
    return str(SUPPRESSED)


@bp.app_template_global("suppressed_note")
def suppressed_note() -> str:
    """Why figures are withheld (said once under a table that withholds any)."""
    return str(SUPPRESSED_NOTE)


@bp.app_template_global("verdict_word")
def verdict_word(verdict: str) -> str:
    return verdict_text(verdict)


@bp.app_template_global("verdict_badge")
def verdict_badge(verdict: Any) -> Markup:
    """Shape + text, never colour alone."""
    symbol, label, css = VERDICTS.get(str(verdict), ("", "", "none"))
    if not verdict or not symbol:
        return Markup('<span class="verdict verdict-none">–</span>')
    return Markup('<span class="verdict verdict-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        css, symbol, label
    )
