"""Downloadable unit reports: PDF for managers, XLSX and CSV tables for managers and researchers.

`GET /manage/units/<id>/report.pdf|.xlsx|.csv?period=2026Q3&instrument=sipas-counter@2025.1&weighted=1`

Who: admins and managers get every format; researchers ("exports only") get the XLSX and CSV of the
aggregate tables, without comments, and no PDF (403). Everyone only within their scope: another
unit's report is a 404 and an `access.denied` audit event (docs/bad-input.md row 24). The URL names the
format from a closed list and no part of the request ever reaches the file system, so a traversal
attempt in the download name matches no route: 404 (row 23). Every download is audited
(`report.download`, with format, period, instrument and weighting) in the request's one commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Response, current_app, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from instruments.model import Instrument
from instruments.registry import UnknownInstrument, get_instrument
from survey.auth import current_staff, current_time, local_today, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.small_cell_scope import viewer_hidden
from survey.errors import SurveyError
from survey.extensions import db
from survey.i18n import current_locale
from survey.models import Role, Unit, User
from survey.services.disclosure import exports
from survey.services.organisation.assignments import assignment_for
from survey.services.reporting import pdf_report
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period, PeriodError
from survey.services.reporting.report_content import ReportContent, build_content, period_label
from survey.services.staff import audit
from survey.services.staff.access import unit_or_404

# ASCII digits only: `\d` would also take full-width and other Unicode digits.
_INSTRUMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,39}(?:@[0-9][0-9A-Za-z.-]{0,19})?")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",  # Werkzeug adds "; charset=utf-8" to text/* itself (it was said twice)
}


@dataclass(frozen=True)
class ReportOptions:
    period: Period
    instrument: Instrument
    weighted: bool


def bad_value(message: object) -> SurveyError:
    return SurveyError(400, "E-VALUE", message)


def _single(args: MultiDict[str, str], name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise bad_value(_l("The parameter %(name)s was given more than once.", name=name))
    return values[0] if values else None


def parse_period(text: str | None) -> Period:
    """"2026-10", "2026Q3", "2026-Q3" or "2026"; anything else is a 400 E-VALUE (never a silent default)."""
    try:
        return Period.from_text(text or "")
    except PeriodError:
        message = _l("The period must be a month (2026-10), a quarter (2026-Q3) or a year (2026).")
        raise bad_value(message) from None


def parse_options(args: MultiDict[str, str], unit: Unit) -> ReportOptions:
    """The period (default: the last full month), instrument (default: the unit's) and weighting."""
    raw_period = _single(args, "period")
    period = (parse_period(raw_period) if raw_period is not None
              else Period.parse(None, local_today()))
    weighted_text = _single(args, "weighted")
    if weighted_text not in (None, "0", "1"):
        raise bad_value(_l("weighted must be 0 or 1."))
    return ReportOptions(period, _instrument(_single(args, "instrument"), unit, period), weighted_text != "0")


def _instrument(spec: str | None, unit: Unit, period: Period) -> Instrument:
    if spec is None:
        assignment = assignment_for(db.session(), unit, period.last)
        if assignment is None:
            raise bad_value(_l("This unit has no instrument in that period: choose one."))
        spec = f"{assignment.instrument_id}@{assignment.instrument_version}"
    if not _INSTRUMENT.fullmatch(spec):
        raise bad_value(_l("Unknown instrument."))
    instrument_id, _sep, version = spec.partition("@")
    try:
        return get_instrument(instrument_id, version or None)
    except UnknownInstrument:
        raise bad_value(_l("Unknown instrument.")) from None


def _content(unit: Unit, options: ReportOptions, *, with_comments: bool) -> ReportContent:
    report = unit_indices(db.session(), unit, options.instrument.key, options.period,
                          weighted=options.weighted,
                          default_target=current_app.config["DEFAULT_TARGET"],
                          min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    # The reader's one small-cell decision (their scope roots' trees), as on the unit page: a unit hidden
    # in its parent's table must not show its figures in its own report.
    hidden = viewer_hidden(options.instrument.key, options.period, options.weighted)
    return build_content(db.session(), report, options.instrument, lang=current_locale(), now=current_time(),
                         with_comments=with_comments, hidden=hidden)


def _download(user: User, unit_id: int, fmt: str) -> Response:
    now = current_time()
    unit = unit_or_404(db.session(), user, unit_id, now=now, action="report.download")
    options = parse_options(request.args, unit)
    may_read_comments = user.role in (Role.ADMIN, Role.MANAGER)
    content = _content(unit, options, with_comments=may_read_comments)
    if fmt == "pdf":
        body = pdf_report.render_pdf(content)
    elif fmt == "xlsx":
        body = exports.xlsx_bytes(exports.report_tables(content, include_comments=may_read_comments),
                                  title=f"{content.unit_name} {content.period_label}")
    else:
        body = exports.csv_bytes(exports.csv_table(content))
    audit.record(db.session(), actor=user, action="report.download", object_type="unit", object_id=unit.id,
                 unit_id=unit.id, now=now,
                 detail={"format": fmt, "period": period_label(options.period),
                         "instrument": options.instrument.key, "weighted": options.weighted})
    db.session.commit()
    name = exports.download_name(unit_code=unit.code, period=period_label(options.period),
                                 instrument_id=options.instrument.id,
                                 instrument_version=options.instrument.version, extension=fmt)
    return Response(body, mimetype=MEDIA_TYPES[fmt], headers={
        "Content-Disposition": exports.content_disposition(name),
        "Cache-Control": "private, no-store",
    })


# One endpoint per format (no <fmt> argument): each declares its own roles for the access matrix.
@bp.get("/units/<int:unit_id>/report.pdf")
@staff_required(Role.ADMIN, Role.MANAGER)
def unit_report_pdf(unit_id: int) -> Response:
    return _download(current_staff(), unit_id, "pdf")


@bp.get("/units/<int:unit_id>/report.xlsx")
@staff_required(Role.ADMIN, Role.MANAGER, Role.RESEARCHER)
def unit_report_xlsx(unit_id: int) -> Response:
    return _download(current_staff(), unit_id, "xlsx")


@bp.get("/units/<int:unit_id>/report.csv")
@staff_required(Role.ADMIN, Role.MANAGER, Role.RESEARCHER)
def unit_report_csv(unit_id: int) -> Response:
    return _download(current_staff(), unit_id, "csv")
