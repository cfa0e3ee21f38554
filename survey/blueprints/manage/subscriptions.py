"""Manager page: subscribe to a unit's PDF report by e-mail (monthly or quarterly), and cancel.

The unit list offers the units the account may see; the posted unit is not checked against that
list by the form but by the service, so a unit outside the account's scopes is the usual audited 404
rather than a form error (docs/bad-input.md row 24). `flask reports send` sends the reports.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.extensions import db
from survey.i18n import current_locale
from survey.models import ReportFrequency, Role, Unit
from survey.services.reporting import subscriptions
from survey.services.staff.access import visible_unit_ids


class SubscriptionForm(FlaskForm):
    unit = SelectField(_l("Unit"), coerce=int, validate_choice=False, validators=[InputRequired()])
    frequency = RadioField(_l("How often"), default=ReportFrequency.MONTHLY.value,
                           choices=[SelectChoice(ReportFrequency.MONTHLY.value,
                                                 _l("Every month (the month that ended)")),
                                    SelectChoice(ReportFrequency.QUARTERLY.value,
                                                 _l("Every quarter (the quarter that ended)"))],
                           validators=[InputRequired()])
    email = StringField(_l("E-mail address"),
                        validators=[InputRequired(), Length(max=subscriptions.MAX_EMAIL)],
                        render_kw={"autocomplete": "email", "inputmode": "email", "spellcheck": "false",
                                   "autocapitalize": "none"})
    language = SelectField(_l("Language of the report"),
                           choices=[SelectChoice("vi", "Tiếng Việt"), SelectChoice("en", "English")],
                           validators=[InputRequired()])


def _unit_choices() -> list[SelectChoice]:
    ids = visible_unit_ids(db.session(), current_staff())
    lang = current_locale()
    units = db.session.query(Unit).filter(Unit.id.in_(sorted(ids))).order_by(Unit.code)
    return [SelectChoice(unit.id, f"{unit.name(lang)} ({unit.code})") for unit in units]


def _page(form: SubscriptionForm, status: int = 200) -> tuple[str, int]:
    found = subscriptions.subscriptions_of(db.session(), current_staff())
    return render_template("manage/reports/subscriptions.html", form=form, subscriptions=found), status


@bp.route("/reports/subscriptions", methods=["GET", "POST"])
@staff_required(Role.ADMIN, Role.MANAGER)
def report_subscriptions() -> Any:
    form = SubscriptionForm()
    form.unit.choices = _unit_choices()
    if request.method == "GET":
        form.unit.data = request.args.get("unit", type=int)
        form.language.data = current_locale()
        return _page(form)
    if not form.validate():
        return _page(form, 422)
    try:
        subscriptions.subscribe(db.session(), current_staff(), form.unit.data,
                                frequency=ReportFrequency(form.frequency.data), email=form.email.data or "",
                                language=form.language.data or "vi", now=current_time())
    except subscriptions.SubscriptionRefused as refused:
        db.session.rollback()
        messages = {"email": _("Write one e-mail address, like ten@donvi.gov.vn."),
                    "language": _("Choose Vietnamese or English.")}
        getattr(form, refused.field).errors = [messages[refused.field]]
        return _page(form, 422)
    db.session.commit()
    flash(_("Subscribed: the report will be e-mailed after each period ends."), "ok")
    return redirect(url_for("manage.report_subscriptions"))


@bp.post("/reports/subscriptions/<int:subscription_id>/cancel")
@staff_required(Role.ADMIN, Role.MANAGER)
def report_subscription_cancel(subscription_id: int) -> WerkzeugResponse:
    subscriptions.cancel(db.session(), current_staff(), subscription_id, now=current_time())
    db.session.commit()
    flash(_("Subscription cancelled: no more reports will be e-mailed for it."), "ok")
    return redirect(url_for("manage.report_subscriptions"))
