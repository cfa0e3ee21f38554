"""Forms of the admin's account pages (fields and validators only; choices filled by the view)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

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
