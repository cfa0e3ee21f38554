"""Manager pages: the unit tree, a unit's settings and counters, QR key rotation, and the CSV import.

Views parse, call a service (which checks scope and audits), commit once, then redirect or render.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from instruments.registry import get_instrument
from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.frames import UPLOAD_LIMIT
from survey.blueprints.manage.unit_forms import (
    KIND_LABELS,
    KIND_SHORT,
    NONE_CHOICE,
    ApproveProposalForm,
    AssignmentForm,
    CloseAssignmentForm,
    CloseUnitForm,
    ConfirmForm,
    CounterForm,
    RejectProposalForm,
    TargetForm,
    UnitForm,
    UploadForm,
)
from survey.extensions import db
from survey.i18n import current_locale
from survey.local_time import local_date
from survey.models import Role, Unit, UnitKind
from survey.services.organisation import targets, unit_import, unit_plans, units
from survey.services.weighting.frame_rows import RowError

MANAGERS = (Role.ADMIN, Role.MANAGER)
P = ParamSpec("P")
T = TypeVar("T")


@bp.context_processor
def _kind_labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS, "kind_short": KIND_SHORT}


def _unit_choices(unit_list: list[Unit], exclude: int | None = None) -> list[SelectChoice]:
    others = (u for u in unit_list if u.id != exclude)
    return [NONE_CHOICE, *(SelectChoice(u.id, f"{u.code} · {u.name_vi}") for u in others)]


def show_refusal(form: Any, error: units.UnitRefused) -> None:
    db.session.rollback()
    form.form_errors.append(str(error.message))


def commit_change(form: Any, change: Callable[Concatenate[Session, P], T], *args: P.args,
               **kwargs: P.kwargs) -> T | None:
    """`change(db.session(), ...)`, committed; None if the service refused (nothing is committed: the
    request's session is discarded at teardown; the reason is shown on `form`), so that the view
    renders the form again."""
    try:
        result = change(db.session(), *args, **kwargs)
    except units.UnitRefused as error:
        show_refusal(form, error)
        return None
    db.session.commit()
    return result


@bp.get("/units/", endpoint="units")  # the endpoint name the navigation bar links to
@staff_required(*MANAGERS)
def units_tree() -> str:
    rows = units.unit_tree(db.session(), current_staff(), current_time())
    return render_template("manage/units/tree.html", rows=rows)


@bp.route("/units/new", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def unit_new() -> Any:
    actor, now = current_staff(), current_time()
    form = UnitForm()
    choices = units.parent_choices(db.session(), actor)
    form.parent_id.choices = _unit_choices(choices)
    form.successor_id.choices = _unit_choices(choices)
    if request.method == "GET":
        form.parent_id.data = request.args.get("parent", 0, type=int)
    if form.validate_on_submit():
        unit = commit_change(form, units.create_unit, actor, _unit_data(form), now=now)
        if unit is not None:
            flash(_("Unit %(code)s created.", code=unit.code), "ok")
            return redirect(url_for("manage.unit_edit", unit_id=unit.id))
    return render_template("manage/units/unit_form.html", form=form, unit=None), 422 if form.errors else 200


def _unit_data(form: UnitForm) -> units.UnitData:
    return units.UnitData(code=form.code.data or "", kind=UnitKind(form.kind.data),
                          name_vi=form.name_vi.data or "", name_en=form.name_en.data or "",
                          parent_id=form.parent_id.data or None,
                          valid_from=form.valid_from.data, valid_to=form.valid_to.data,
                          successor_id=form.successor_id.data or None)


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])  # /units/<id> is the dashboard
@staff_required(*MANAGERS)
def unit_edit(unit_id: int) -> Any:
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    form = UnitForm(obj=unit if request.method == "GET" else None)
    choices = units.parent_choices(db.session(), actor)
    if unit.parent is not None and unit.parent not in choices:  # a scope root keeps its outside parent
        choices.insert(0, unit.parent)
    form.parent_id.choices = _unit_choices(choices, exclude=unit.id)
    form.successor_id.choices = _unit_choices(choices, exclude=unit.id)
    if request.method == "GET":
        form.kind.data = unit.kind.value
        form.parent_id.data, form.successor_id.data = unit.parent_id or 0, unit.successor_id or 0
    if form.validate_on_submit():
        saved = commit_change(form, units.update_unit, actor, unit.id, _unit_data(form), now=now)
        if saved is not None:
            flash(_("Changes saved."), "ok")
            return redirect(url_for("manage.unit_edit", unit_id=unit.id))
    return render_unit_page(unit, form, status=422 if form.errors else 200)


def render_unit_page(unit: Unit, form: UnitForm, *, status: int = 200, **forms: Any) -> tuple[str, int]:
    actor, now = current_staff(), current_time()
    today = local_date(now)
    close_form = forms.get("close_form") or CloseUnitForm()
    close_form.successor_id.choices = form.successor_id.choices
    assignment_form = forms.get("assignment_form") or AssignmentForm(opens_on=today)
    assignment_form.instrument.choices = unit_plans.instrument_keys()
    target_form = forms.get("target_form") or TargetForm(year=today.year)
    target_form.instrument_id.choices = instrument_id_choices()
    instrument_ids = [choice.value for choice in target_form.instrument_id.choices]
    default = float(current_app.config["DEFAULT_TARGET"])
    effective = [targets.effective_target(db.session(), unit, instrument_id, year, default)
                 for year in (today.year, today.year + 1) for instrument_id in instrument_ids]
    pending = targets.pending_proposals(db.session(), [unit.id])
    html = render_template(
        "manage/units/unit_edit.html", unit=unit, form=form, close_form=close_form,
        assignment_form=assignment_form, target_form=target_form, confirm_form=ConfirmForm(),
        close_assignment_form=CloseAssignmentForm(closes_on=today), targets=effective,
        instrument_names={choice.value: choice.label for choice in target_form.instrument_id.choices},
        pending=sorted(pending.values(), key=lambda p: (p.year, p.instrument_id)),
        may_set_target=targets.may_set_target(actor, unit), approve_form=ApproveProposalForm(),
        reject_form=RejectProposalForm(),
        assignments=unit_plans.own_assignments(db.session(), actor, unit.id, now=now),
        current_assignment=unit_plans.current_assignment(db.session(), unit, today), today=today)
    return html, status


@bp.post("/units/<int:unit_id>/close")
@staff_required(*MANAGERS)
def unit_close(unit_id: int) -> Any:
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    choices = units.parent_choices(db.session(), actor)
    close_form = CloseUnitForm()
    close_form.successor_id.choices = _unit_choices(choices, exclude=unit.id)
    if close_form.validate_on_submit():
        closed = commit_change(close_form, units.close_unit, actor, unit.id,
                            valid_to=close_form.valid_to.data or date.max,
                            successor_id=close_form.successor_id.data or None, now=now)
        if closed is not None:
            flash(_("Unit %(code)s closed.", code=unit.code), "ok")
            return redirect(url_for("manage.unit_edit", unit_id=unit.id))
    form = UnitForm(obj=unit)
    form.kind.data = unit.kind.value
    form.successor_id.choices = close_form.successor_id.choices
    form.parent_id.choices = _unit_choices(choices, exclude=unit.id)
    return render_unit_page(unit, form, status=422, close_form=close_form)


# ---------------------------------------------------------------- counters


@bp.route("/units/<int:unit_id>/counters/new", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def counter_new(unit_id: int) -> Any:
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    form = CounterForm()
    if form.validate_on_submit():
        counter = commit_change(form, units.create_counter, actor, unit.id, _counter_data(form), now=now)
        if counter is not None:
            flash(_("Counter %(code)s created.", code=counter.code), "ok")
            return redirect(url_for("manage.unit_edit", unit_id=unit.id) + "#counters")
    html = render_template("manage/units/counter_form.html", form=form, unit=unit, counter=None)
    return html, 422 if form.errors else 200


def _counter_data(form: CounterForm) -> units.CounterData:
    return units.CounterData(code=form.code.data or "", name_vi=form.name_vi.data or "",
                             name_en=form.name_en.data or "", procedure_field=form.procedure_field.data,
                             active=bool(form.active.data))


@bp.route("/counters/<int:counter_id>", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def counter_edit(counter_id: int) -> Any:
    actor, now = current_staff(), current_time()
    counter = units.get_counter(db.session(), actor, counter_id, now=now)
    form = CounterForm(obj=counter if request.method == "GET" else None)
    if form.validate_on_submit():
        saved = commit_change(form, units.update_counter, actor, counter.id, _counter_data(form), now=now)
        if saved is not None:
            flash(_("Changes saved."), "ok")
            return redirect(url_for("manage.unit_edit", unit_id=counter.unit_id) + "#counters")
    html = render_template("manage/units/counter_form.html", form=form, unit=counter.unit, counter=counter,
                           confirm_form=ConfirmForm())
    return html, 422 if form.errors else 200


@bp.route("/counters/<int:counter_id>/rotate", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def counter_rotate(counter_id: int) -> Any:
    """GET asks for confirmation; POST retires every printed code of the counter."""
    return _key_change(counter_id, "rotate")


@bp.route("/counters/<int:counter_id>/revoke", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def counter_revoke(counter_id: int) -> Any:
    """GET asks for confirmation; POST stops the counter's codes for good."""
    return _key_change(counter_id, "revoke")


def _key_change(counter_id: int, operation: str) -> Any:
    actor, now = current_staff(), current_time()
    counter = units.get_counter(db.session(), actor, counter_id, now=now)
    form = ConfirmForm()
    if form.validate_on_submit():
        if operation == "rotate":
            units.rotate_counter_key(db.session(), actor, counter.id, now=now)
            message = _("New QR code issued: print the new poster; the old one no longer works.")
        else:
            units.revoke_counter(db.session(), actor, counter.id, now=now)
            message = _("QR code revoked: this counter's posters no longer work.")
        db.session.commit()
        flash(message, "ok")
        return redirect(url_for("manage.counter_edit", counter_id=counter.id))
    return render_template("manage/units/counter_key.html", counter=counter, operation=operation, form=form)


# ---------------------------------------------------------------- assignments


@bp.post("/units/<int:unit_id>/assignments")
@staff_required(*MANAGERS)
def assignment_add(unit_id: int) -> Any:
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    form = AssignmentForm()
    form.instrument.choices = unit_plans.instrument_keys()
    if form.validate_on_submit():
        assigned = commit_change(form, unit_plans.add_assignment, actor, unit.id, form.instrument.data or "",
                              opens_on=form.opens_on.data or local_date(now), closes_on=form.closes_on.data,
                              now=now)
        if assigned is not None:
            flash(_("Instrument assigned."), "ok")
            return redirect(url_for("manage.unit_edit", unit_id=unit.id) + "#assignments")
    return render_unit_page(unit, unit_form_for(unit), status=422, assignment_form=form)


@bp.post("/units/<int:unit_id>/assignments/close")
@staff_required(*MANAGERS)
def assignment_close(unit_id: int) -> WerkzeugResponse:
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    back = url_for("manage.unit_edit", unit_id=unit.id) + "#assignments"
    form = CloseAssignmentForm()
    if not form.validate_on_submit():
        flash(_("Give the last day of the assignment."), "error")
        return redirect(back)
    try:
        unit_plans.close_assignment(db.session(), actor, unit.id, form.assignment_id.data or 0,
                                    closes_on=form.closes_on.data or local_date(now), now=now)
    except units.UnitRefused as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(back)
    db.session.commit()
    flash(_("Assignment closed."), "ok")
    return redirect(back)


def instrument_id_choices() -> list[SelectChoice]:
    """Each instrument once (a target holds for all its versions), by its title in the page's language
    and its id, the default instrument first."""
    ids = dict.fromkeys(key.partition("@")[0] for key in unit_plans.instrument_keys())
    lang = current_locale()
    return [SelectChoice(i, f"{get_instrument(i).title.get(lang)} ({i})") for i in ids]


def unit_form_for(unit: Unit) -> UnitForm:
    form = UnitForm(obj=unit, formdata=None)
    form.kind.data = unit.kind.value
    choices = _unit_choices(units.parent_choices(db.session(), current_staff()), exclude=unit.id)
    form.parent_id.choices = form.successor_id.choices = choices
    form.parent_id.data, form.successor_id.data = unit.parent_id or 0, unit.successor_id or 0
    return form


# ---------------------------------------------------------------- import


@bp.route("/units/import", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def units_import() -> Any:
    form = UploadForm()
    errors: tuple[RowError, ...] = ()
    if form.validate_on_submit():
        try:
            result = unit_import.import_units_csv(db.session(), form.file.data.read(UPLOAD_LIMIT + 1),
                                                  actor=current_staff(), now=current_time())
        except unit_import.UnitImportRefused as refused:
            db.session.rollback()
            errors = refused.errors
        else:
            db.session.commit()
            flash(_("Imported: %(created)d units created, %(updated)d updated.",
                    created=len(result.created), updated=len(result.updated)), "ok")
            return redirect(url_for("manage.units"))
    html = render_template("manage/units/import.html", form=form, errors=errors)
    return html, 422 if errors or form.errors else 200
