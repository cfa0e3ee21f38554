"""The dashboard's unit table as CSV or XLSX: the rows, order and filter the page shows, as numbers
(and the small-cell rule's mark where the page withholds a figure)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_babel import gettext as _

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.dashboard import dashboard_options, dashboard_sections
from survey.blueprints.manage.dashboard_table import arranged, table_options
from survey.extensions import db
from survey.i18n import current_locale
from survey.models import Role
from survey.services.disclosure import exports
from survey.services.reporting.labels import SUPPRESSED, SUPPRESSED_NOTE, verdict_text
from survey.services.reporting.report_content import period_label
from survey.services.staff import audit

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
K = exports.ColumnKind
COLUMNS = (K.TEXT, K.TEXT, K.COUNT, K.PERCENT, K.TEXT, K.PERCENT, K.PERCENT, K.PERCENT, K.TEXT, K.COUNT,
           K.PERCENT, K.TEXT)


def _source(row: dict[str, Any]) -> str:
    target = row["target"]
    if target.own:
        return str(_("own"))
    if target.source is not None:
        return str(_("from %(unit)s", unit=target.source.name(current_locale())))
    return str(_("default"))


def _figures(row: dict[str, Any]) -> tuple[exports.Cell, ...]:
    """Index, bounds, verdict, n, response rate and (empty) notes of a published row."""
    overall, rate = row["overall"], row["rate"]
    return (None if overall is None else float(overall["est"]),
            None if overall is None else float(overall["ci_lo"]),
            None if overall is None else float(overall["ci_hi"]),
            "" if overall is None else verdict_text(str(overall["verdict"])),
            0 if overall is None else int(overall["n"]),
            None if rate is None or rate.rate is None else float(rate.rate), "")


def _withheld() -> tuple[exports.Cell, ...]:
    """A row the small-cell rule hides: the mark in every figure's cell (not 0, not blank: a blank
    reads as "no responses"), and why in the notes."""
    mark = str(SUPPRESSED)
    return mark, mark, mark, mark, mark, mark, str(SUPPRESSED_NOTE)


def _table() -> tuple[exports.Table, str]:
    period, key, weighted = dashboard_options()
    sort, verdict = table_options()
    rows: list[tuple[exports.Cell, ...]] = []
    for section in dashboard_sections(current_staff(), period, key, weighted):
        for row in arranged(section["rows"], sort, verdict):
            _id, name_vi, _en, _kind = row["info"]
            rows.append((row["code"], name_vi, row["depth"], row["target"].value, _source(row),
                         *(_withheld() if row["small_cell"] else _figures(row))))
    headers = (_("Unit code"), _("Unit"), _("Level"), _("Target"), _("Target set by"), _("Index"),
               _("Lower bound (95%)"), _("Upper bound (95%)"), _("Verdict"), _("Responses (n)"),
               _("Response rate"), _("Notes"))
    label = f"{period_label(period)} {key}"
    return exports.Table("Units", _("Overall index by unit"), headers, tuple(rows), COLUMNS), label


def _download(fmt: str) -> Response:
    table, label = _table()
    body = exports.csv_bytes(table) if fmt == "csv" else exports.xlsx_bytes([table], title=label)
    period, key, weighted = dashboard_options()
    detail = {"format": fmt, "table": "dashboard", "period": period.label, "instrument": key,
              "weighted": weighted, "rows": len(table.rows)}
    audit.record(db.session(), actor=current_staff(), action="report.download", object_type="dashboard",
                 now=current_time(), detail=detail)
    db.session.commit()
    name = f"hailong_dashboard_{exports.ascii_slug(period_label(period))}_{exports.ascii_slug(key)}.{fmt}"
    mimetype = "text/csv" if fmt == "csv" else XLSX_TYPE
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": exports.content_disposition(name), "Cache-Control": "private, no-store"})


@bp.get("/dashboard.csv")
@staff_required(Role.ADMIN, Role.MANAGER)
def dashboard_csv() -> Response:
    return _download("csv")


@bp.get("/dashboard.xlsx")
@staff_required(Role.ADMIN, Role.MANAGER)
def dashboard_xlsx() -> Response:
    return _download("xlsx")
