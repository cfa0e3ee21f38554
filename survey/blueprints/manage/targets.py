"""Manager pages for targets: set (or propose), remove with a confirmation, approve or reject proposals.

Who may do what is decided in `survey.services.organisation.targets`: a unit's own manager's form
becomes a proposal; the parent's manager (or an admin) sets the value and decides proposals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.unit_forms import (
    ApproveProposalForm,
    ClearTargetForm,
    RejectProposalForm,
    TargetForm,
)
from survey.blueprints.manage.units import (
    MANAGERS,
    commit_change,
    instrument_id_choices,
    render_unit_page,
    unit_form_for,
)
from survey.extensions import db
from survey.models import TargetProposal, Unit, User
from survey.services.organisation import targets, units


def _back(unit_id: int) -> str:
    return url_for("manage.unit_edit", unit_id=unit_id) + "#targets"


def _set_or_propose(session: Session, actor: User, unit: Unit, instrument_id: str, year: int,
                    target: str | None, *, reason: str, now: datetime) -> str:
    """Set the unit's own target (remove it, for None) when `actor` may; otherwise file the same
    change as a proposal for the manager above. Returns what the page tells the manager."""
    if not targets.may_set_target(actor, unit):
        targets.propose_target(session, actor, unit.id, instrument_id, year, target, reason=reason, now=now)
        if unit.parent_id is None:  # nobody above the province: only an administrator may decide
            return str(_("Proposal sent. The target changes only when an administrator approves it."))
        return str(_("Proposal sent. The target changes only when the manager of the unit above "
                     "approves it."))
    if target is None:
        targets.clear_target(session, actor, unit.id, instrument_id, year, reason=reason, now=now)
        return str(_("This unit's own target was removed: it now uses the inherited one."))
    targets.set_target(session, actor, unit.id, instrument_id, year, target, reason=reason, now=now)
    return str(_("Target saved."))


@bp.post("/units/<int:unit_id>/targets")
@staff_required(*MANAGERS)
def target_set(unit_id: int) -> Any:
    """The parent's manager sets the value; the unit's own manager's same form files a proposal."""
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    form = TargetForm()
    form.instrument_id.choices = instrument_id_choices()
    if form.validate_on_submit():
        instrument_id, year = form.instrument_id.data or "", form.year.data or 0
        message = commit_change(form, _set_or_propose, actor, unit, instrument_id, year,
                                form.target.data or "",
                                reason=form.reason.data or "", now=now)
        if message is not None:
            flash(message, "ok")
            return redirect(_back(unit.id))
    return render_unit_page(unit, unit_form_for(unit), status=422, target_form=form)


@bp.route("/units/<int:unit_id>/targets/clear", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def target_clear(unit_id: int) -> Any:
    """GET asks for confirmation (and a reason); POST removes the own target, or proposes removing it."""
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    form = ClearTargetForm(request.form if request.method == "POST" else request.args)
    form.instrument_id.choices = instrument_id_choices()
    may_set = targets.may_set_target(actor, unit)
    year = form.year.data if isinstance(form.year.data, int) else now.year
    instrument_id = form.instrument_id.data or str(form.instrument_id.choices[0].value)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            message = commit_change(form, _set_or_propose, actor, unit, instrument_id, year, None,
                                    reason=form.reason.data or "", now=now)
            if message is not None:
                flash(message, "ok")
                return redirect(_back(unit.id))
        status = 422
    default = float(current_app.config["DEFAULT_TARGET"])
    current = targets.effective_target(db.session(), unit, instrument_id, year, default)
    inherited = (targets.effective_target(db.session(), unit.parent, instrument_id, year, default)
                 if unit.parent is not None else None)
    html = render_template("manage/units/target_clear.html", unit=unit, form=form, current=current,
                           inherited=inherited, default=default, may_set=may_set, year=year,
                           instrument_id=instrument_id)
    return html, status


@bp.post("/target-proposals/<int:proposal_id>/approve")
@staff_required(*MANAGERS)
def proposal_approve(proposal_id: int) -> WerkzeugResponse:
    return _decide(proposal_id, approve=True)


@bp.post("/target-proposals/<int:proposal_id>/reject")
@staff_required(*MANAGERS)
def proposal_reject(proposal_id: int) -> WerkzeugResponse:
    return _decide(proposal_id, approve=False)


def _decide(proposal_id: int, *, approve: bool) -> WerkzeugResponse:
    actor, now = current_staff(), current_time()
    proposal = db.session.get(TargetProposal, proposal_id)
    if proposal is None:
        raise NotFound()
    # get_unit answers 404 and audits the attempt outside the actor's scope
    back = _back(units.get_unit(db.session(), actor, proposal.unit_id, now=now).id)
    form = ApproveProposalForm() if approve else RejectProposalForm()
    if not form.validate_on_submit():
        flash("; ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(back)
    try:
        if isinstance(form, ApproveProposalForm):
            targets.approve_proposal(db.session(), actor, proposal_id, note=form.note.data or "", now=now)
            message = _("Proposal approved: the target has changed.")
        else:
            targets.reject_proposal(db.session(), actor, proposal_id, reason=form.reason.data or "", now=now)
            message = _("Proposal rejected: the target is unchanged.")
    except units.UnitRefused as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(back)
    db.session.commit()
    flash(message, "ok")
    return redirect(back)
