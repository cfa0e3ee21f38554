"""Manager pages: alerts (units wholly below target, significant drops), acknowledged with a note."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from instruments.registry import UnknownInstrument, get_instrument
from survey.auth import current_staff, current_time, local_today, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.small_cell_scope import viewer_hidden
from survey.extensions import db
from survey.models import Alert, AlertKind, Role
from survey.services.reporting.alerts import add_note, visible_alerts
from survey.services.reporting.periods import Period
from survey.services.staff.access import owned_or_404, visible_unit_ids

MAX_COMMENT = 2000


@bp.get("/alerts")
@staff_required(Role.ADMIN, Role.MANAGER)
def alerts() -> str:
    user = current_staff()
    visible = visible_unit_ids(db.session(), user)
    period = Period.parse(request.args.get("period"), local_today())
    found = visible_alerts(db.session(), visible)
    withheld, reference_withheld = _withheld(found)
    # The list is ordered by estimate within each period: a withheld alert's place would rank its
    # estimate, so withheld ones go after the others of their group, by unit code.
    found.sort(key=lambda a: (a.acknowledged_at is not None, -a.period_start.toordinal(), a.id in withheld,
                              a.unit.code if a.id in withheld else "",
                              0.0 if a.id in withheld else a.estimate, a.id))
    return render_template("manage/alerts/list.html", alerts=found, period=period, withheld=withheld,
                           reference_withheld=reference_withheld)


def _withheld(found: list[Alert]) -> tuple[set[int], set[int]]:
    """Ids of the alerts whose unit the viewer's small-cell decision hides in the alert's period (its
    estimate, interval and kind, a verdict, are withheld), and of the drop alerts whose reference, the
    previous period's estimate, is hidden. An alert's period is one the dashboard offers."""
    figures: set[int] = set()
    references: set[int] = set()
    for alert in found:
        period = Period.spanning(alert.period_start, alert.period_end)
        try:
            key = get_instrument(alert.instrument_id).key
        except UnknownInstrument:
            key = None
        if period is None or key is None:  # no decision to look up: fail closed, nothing shown
            figures.add(alert.id)
            continue
        cells = viewer_hidden(key, period, True)
        if cells.hides(alert.unit.code):
            figures.add(alert.id)
        elif alert.kind is AlertKind.SIGNIFICANT_DROP and cells.hides_in(period.shifted(1).label,
                                                                          alert.unit.code):
            references.add(alert.id)
    return figures, references


@bp.post("/alerts/<int:alert_id>/notes")
@staff_required(Role.ADMIN, Role.MANAGER)
def alert_note(alert_id: int) -> WerkzeugResponse:
    user = current_staff()
    now = current_time()
    alert = owned_or_404(db.session(), user, Alert, alert_id, object_type="alert", now=now,
                         action="alert.note")
    comment = (request.form.get("comment") or "").strip()[:MAX_COMMENT]
    if not comment:
        flash(_("Write a comment: what was found or done."), "error")
        return redirect(url_for("manage.alerts"))
    add_note(db.session(), alert, user, comment, acknowledge=request.form.get("acknowledge") == "1", now=now)
    db.session.commit()
    flash(_("Note saved."), "success")
    return redirect(url_for("manage.alerts"))
