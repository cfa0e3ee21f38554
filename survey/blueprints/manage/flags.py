"""Manager pages: flagged responses of the manager's units with their reasons, reinstated or
confirmed one by one (each decision audited), and the submissions the limits refused."""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.auth import current_staff, current_time, local_today, staff_required
from survey.blueprints.manage import bp
from survey.extensions import db
from survey.local_time import utc_bounds
from survey.models import Response, Role
from survey.services.citizens.flag_review import (
    AlreadyDecided,
    Decision,
    decide,
    flagged_responses,
    refusal_counts,
)
from survey.services.reporting import formats
from survey.services.reporting.periods import Period
from survey.services.staff.access import owned_or_404, visible_unit_ids

MAX_NOTE = 500
LIMIT_LABELS = {"browser": _l("one browser"), "kiosk": _l("one counter tablet (kiosk mode)"),
                "cookieless": _l("one address, without the browser cookie"),
                "address": _l("one network address"), "counter": _l("the whole counter")}


@bp.app_template_filter("limit_label")
def limit_label(name: str) -> str:
    return str(LIMIT_LABELS.get(name, name))


@bp.app_template_filter("local_minute")
def local_minute(moment: datetime) -> str:
    """Local date and time to the minute (Babel's short form in the page's language): enough to see
    a burst, no finer."""
    return formats.local_moment(moment)


@bp.get("/flags")
@staff_required(Role.ADMIN, Role.MANAGER)
def flags() -> str:
    user = current_staff()
    today = local_today()
    # Flags wait for review now: this month by default, not the dashboard's last full month.
    period = Period.parse(request.args.get("period") or f"{today:%Y-%m}", today)
    visible = visible_unit_ids(db.session(), user)
    start, end = utc_bounds(period.first, period.last)
    return render_template("manage/flags/list.html", period=period,
                           flagged=flagged_responses(db.session(), visible, start, end),
                           refusals=refusal_counts(db.session(), visible, period.first, period.last))


@bp.post("/flags/<int:response_id>")
@staff_required(Role.ADMIN, Role.MANAGER)
def flag_decision(response_id: int) -> WerkzeugResponse:
    user, now = current_staff(), current_time()
    response = owned_or_404(db.session(), user, Response, response_id, object_type="response", now=now,
                            action="response.review")
    try:
        decision = Decision(request.form.get("decision", ""))
    except ValueError:
        abort(400)
    try:
        note = (request.form.get("note") or "").strip()[:MAX_NOTE]
        decide(db.session(), response, decision, actor=user, note=note, now=now)
    except AlreadyDecided:
        flash(_("This response was already reviewed."), "error")
        return redirect(url_for("manage.flags", period=request.args.get("period")), 303)
    db.session.commit()
    flash(_("Response reinstated: it counts in the indices again.") if decision is Decision.REINSTATE
          else _("Flag confirmed: the response stays out of the indices."), "success")
    return redirect(url_for("manage.flags", period=request.args.get("period")), 303)
