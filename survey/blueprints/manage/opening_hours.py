"""Manager pages: a unit's opening hours, and a counter's own hours overriding them.

Who may set them and the schedule's format are decided in
`survey.services.organisation.opening_hours`; a refused schedule comes back on its page (422) with
the text as typed and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.unit_forms import ConfirmForm, CounterForm
from survey.blueprints.manage.units import MANAGERS, render_unit_page, unit_form_for
from survey.extensions import db
from survey.i18n import current_locale
from survey.models import Counter, Unit
from survey.services.citizens.limits import rules_at, rules_for
from survey.services.organisation import opening_hours, units
from survey.services.organisation.targets import may_set_target


class HoursForm(FlaskForm):
    hours = TextAreaField(_l("Opening hours (Vietnam time)"),
                          validators=[Length(max=opening_hours.MAX_LENGTH)],
                          render_kw={"rows": 3, "class": "hours-field", "spellcheck": "false"},
                          description=_l("For example: T2-T6 07:30-11:30, 13:30-17:00; T7 07:30-11:30. "
                                         "A day not named is closed. Leave empty to use the hours above."))


def _saved(form: HoursForm, save: Callable[[str], object], back: str) -> Any | None:
    """Save the submitted hours and redirect to `back`; None, with the form kept for the page, when
    the form or the service refuses them (nothing is written then)."""
    if form.validate_on_submit():
        try:
            save(form.hours.data or "")
        except units.UnitRefused as error:
            db.session.rollback()
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            flash(_("Opening hours saved."), "ok")
            return redirect(back + "#hours")
    g.hours_form = form
    return None


@bp.post("/units/<int:unit_id>/hours")
@staff_required(*MANAGERS)
def unit_hours(unit_id: int) -> Any:
    actor, now = current_staff(), current_time()
    unit = units.get_unit(db.session(), actor, unit_id, now=now)
    def save(hours: str) -> object:
        return opening_hours.set_unit_hours(db.session(), actor, unit.id, hours, now=now)

    saved = _saved(HoursForm(), save, url_for("manage.unit_edit", unit_id=unit.id))
    return saved or render_unit_page(unit, unit_form_for(unit), status=422)


@bp.post("/counters/<int:counter_id>/hours")
@staff_required(*MANAGERS)
def counter_hours(counter_id: int) -> Any:
    actor, now = current_staff(), current_time()
    counter = units.get_counter(db.session(), actor, counter_id, now=now)
    def save(hours: str) -> object:
        return opening_hours.set_counter_hours(db.session(), actor, counter.id, hours, now=now)

    saved = _saved(HoursForm(), save, url_for("manage.counter_edit", counter_id=counter.id))
    if saved is not None:
        return saved
    html = render_template("manage/units/counter_form.html", form=CounterForm(obj=counter), unit=counter.unit,
                           counter=counter, confirm_form=ConfirmForm())
    return html, 422


@bp.context_processor
def _hours_panel() -> dict[str, Any]:
    """`hours_panel(unit_or_counter)`: the hours in force, where they come from, whether the reader may
    change them, and the form (the refused one, as typed, after a refusal)."""
    def hours_panel(owner: Unit | Counter) -> dict[str, Any]:
        lang, config = current_locale(), current_app.config
        if isinstance(owner, Counter):
            in_force, unit, rules = opening_hours.counter_hours(owner), owner.unit, rules_for(owner, config)
        else:
            in_force, unit, rules = opening_hours.unit_hours(owner), owner, rules_at(owner, config)
        own = opening_hours.stored_hours(owner.opening_hours)
        form = g.get("hours_form") or HoursForm(formdata=None, hours=own.text(lang) if own else "")
        return {"text": in_force.hours.text(lang) if in_force.hours else None,
                "own": in_force.counter is owner or in_force.unit is owner,
                "source": in_force.unit if in_force.counter is None else None,
                "may_set": may_set_target(current_staff(), unit), "form": form,
                "grace": rules.threshold("after_hours_grace_minutes")}
    return {"hours_panel": hours_panel}
