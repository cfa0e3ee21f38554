"""Manager pages: the audit log viewer (filters, pages) and its CSV export, scoped in the service."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.extensions import db
from survey.local_time import local_date
from survey.models import Role, Unit
from survey.services.disclosure import exports
from survey.services.reporting import formats
from survey.services.staff import audit
from survey.services.staff.access import visible_unit_ids
from survey.services.staff.audit_log import AuditFilter, action_names, audit_export, audit_page

# Every action the application records, in words. tests/survey/test_audit_log.py checks that each
# `action="..."` written anywhere in survey/ has a label here.
ACTION_LABELS = {
    "access.denied": _l("access refused (outside the account's units)"),
    "role.denied": _l("access refused (role)"),
    "alert.acknowledge": _l("alert acknowledged"),
    "alert.note": _l("note added to an alert"),
    "alerts.refresh": _l("alerts recomputed by the scheduled job"),
    "api_client.create": _l("API client created"),
    "api_client.revoke": _l("API client revoked"),
    "assignment.create": _l("questionnaire assigned"),
    "assignment.close": _l("questionnaire assignment closed"),
    "audit.export": _l("audit log exported"),
    "auth.login": _l("signed in"),
    "auth.login_failed": _l("sign-in failed"),
    "auth.logout": _l("signed out"),
    "auth.second_factor": _l("second factor accepted"),
    "auth.second_factor_failed": _l("second factor refused"),
    "auth.unlock": _l("sign-in lockout lifted"),
    "counter.create": _l("counter created"),
    "counter.update": _l("counter changed"),
    "counter.rotate": _l("QR code reissued"),
    "counter.revoke": _l("QR code revoked"),
    "frames.import": _l("served-dossier frame imported"),
    "counter.hours": _l("counter's opening hours changed"),
    "hours.denied": _l("change of opening hours refused (not the unit above)"),
    "unit.hours": _l("unit's opening hours changed"),
    "kiosk.register": _l("counter tablet registered"),
    "kiosk.revoke": _l("counter tablet revoked"),
    "kiosk.view": _l("counter tablets viewed"),
    "microdata.download": _l("microdata downloaded"),
    "print": _l("posters printed"),
    "report.download": _l("report downloaded"),
    "report.subscribe": _l("subscribed to a report by e-mail"),
    "report.unsubscribe": _l("report subscription cancelled"),
    "report.email": _l("report e-mailed to a subscriber"),
    "reports.send": _l("scheduled reports sent by the job"),
    "response.review": _l("flagged response reviewed"),
    "response.reinstate": _l("flagged response reinstated (counts again)"),
    "response.confirm": _l("flag confirmed (response stays out of the index)"),
    "session.prune": _l("old sessions removed"),
    "target.set": _l("target set"),
    "target.clear": _l("own target removed"),
    "target.propose": _l("target change proposed"),
    "target.approve": _l("target proposal approved"),
    "target.reject": _l("target proposal rejected"),
    "target.denied": _l("target change refused (set from the unit above)"),
    "unit.create": _l("unit created"),
    "unit.update": _l("unit changed"),
    "unit.close": _l("unit closed"),
    "unit.successor": _l("successor named"),
    "units.import": _l("unit tree imported"),
    "user.create": _l("account created"),
    "user.activate": _l("account activated or deactivated"),
    "user.set_role": _l("role or units changed"),
    "user.reset_password": _l("password reset by an admin"),
    "user.password_change": _l("password changed"),
    "user.password_change_failed": _l("password change refused"),
    "user.revoke_sessions": _l("sessions ended"),
    "user.totp_enable": _l("second factor enrolled"),
    "user.totp_reset": _l("second factor reset"),
}


@bp.app_template_filter("action_label")
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@bp.app_template_filter("local_datetime")
def local_datetime(moment: datetime) -> str:
    return formats.local_moment(moment)


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> AuditFilter:
    return AuditFilter(who=request.args.get("who", "")[:80],
                       unit_id=request.args.get("unit", type=int) or None,
                       action=request.args.get("action", "")[:60], first=_day("from"), last=_day("to"))


def _unit_choices() -> list[Unit]:
    ids = visible_unit_ids(db.session(), current_staff())
    return list(db.session.query(Unit).filter(Unit.id.in_(sorted(ids))).order_by(Unit.code))


@bp.get("/audit/")
@staff_required(Role.ADMIN, Role.MANAGER)
def audit_log() -> str:
    actor, now = current_staff(), current_time()
    filters = _filters()
    found = audit_page(db.session(), actor, filters, page=request.args.get("page", 1, type=int), now=now)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("manage/audit/list.html", page=found, filters=filters, args=args,
                           actions=action_names(db.session(), actor, now=now), units=_unit_choices())


@bp.get("/audit.csv")
@staff_required(Role.ADMIN, Role.MANAGER)
def audit_log_csv() -> Response:
    actor, now = current_staff(), current_time()
    filters = _filters()
    rows = audit_export(db.session(), actor, filters, now=now)
    table = exports.Table(
        key="audit", title=_("Audit log"),
        headers=(_("Time (UTC)"), _("Who"), _("Action"), _("Action code"), _("Object"), _("Unit code"),
                 _("Unit"), _("Detail")),
        rows=tuple((r.at, r.actor, action_label(r.action), r.action,
                    f"{r.object_type} {r.object_id}".strip(), r.unit_code, r.unit_name_vi,
                    json.dumps(r.detail, ensure_ascii=False, sort_keys=True) if r.detail else "")
                   for r in rows),
        kinds=(exports.ColumnKind.DATE, *(exports.ColumnKind.TEXT,) * 7))
    audit.record(db.session(), actor=actor, action="audit.export", object_type="audit_log",
                 unit_id=filters.unit_id, now=now,
                 detail={"rows": len(rows), "who": filters.who, "action": filters.action,
                         "from": filters.first, "to": filters.last})
    db.session.commit()
    name = f"hailong_audit_{local_date(now).isoformat()}.csv"
    return Response(exports.csv_bytes(table), mimetype="text/csv", headers={
        "Content-Disposition": exports.content_disposition(name), "Cache-Control": "private, no-store"})


def _detail_text(detail: dict[str, Any]) -> str:
    return "; ".join(f"{key}: {value}" for key, value in detail.items() if value not in (None, ""))


bp.add_app_template_filter(_detail_text, "audit_detail")
