"""Forms of the admin's account pages (fields and validators only; choices filled by the view)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

from survey.blueprints.manage.unit_forms import REASON_REQUIRED
from survey.models import Role
from survey.services.staff.accounts import USERNAME_PATTERN

ROLE_CHOICES = [SelectChoice(Role.MANAGER.value, _l("Manager")),
                SelectChoice(Role.RESEARCHER.value, _l("Researcher")),
                SelectChoice(Role.ADMIN.value, _l("Administrator"))]


class AccountForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[InputRequired()])
    units = SelectMultipleField(
        _l("Units"), coerce=int, validators=[Optional()],
        description=_l("The account sees each chosen unit and everything below it. Administrators see all."))


class NewAccountForm(AccountForm):
    username = StringField(
        _l("Username"), validators=[InputRequired(), Length(min=2, max=80),
                                    Regexp(USERNAME_PATTERN, message=_l(
                                        "Lower-case letters, digits, dot, dash or underscore."))],
        filters=[lambda value: value.strip().casefold() if isinstance(value, str) else value],
        render_kw={"autocomplete": "off", "autocapitalize": "none"})


class LiftLockoutForm(FlaskForm):
    address = StringField(_l("Address or network"), validators=[Optional(), Length(max=64)],
                          description=_l("An IPv4 or IPv6 address from the locked-out office, e.g. "
                                         "203.0.113.7: its whole /24 (IPv6: /64) is lifted."))
    username = StringField(_l("User name"), validators=[Optional(), Length(max=80)])
    reason = StringField(_l("Reason"), validators=[InputRequired(REASON_REQUIRED), Length(max=500)])
