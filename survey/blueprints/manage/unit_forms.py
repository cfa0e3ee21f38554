"""Forms of the unit, counter, assignment, target, proposal and import pages (fields only; views set choices).

Validators here catch what a browser form gets wrong; the services check every rule again, scope first.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from survey.models import UnitKind

KIND_LABELS = {
    UnitKind.PROVINCE: _l("Province / centrally-run city"),
    UnitKind.AGENCY: _l("Department or provincial service centre"),
    UnitKind.DISTRICT: _l("District (before 1 July 2025)"),
    UnitKind.COMMUNE: _l("Commune, ward or special zone"),
    UnitKind.SERVICE_POINT: _l("Service point (one-stop desk)"),
}
KIND_SHORT = {
    UnitKind.PROVINCE: _l("Province"),
    UnitKind.AGENCY: _l("Agency"),
    UnitKind.DISTRICT: _l("District (pre-2025)"),
    UnitKind.COMMUNE: _l("Commune"),
    UnitKind.SERVICE_POINT: _l("Service point"),
}
NONE_CHOICE = SelectChoice(0, "—")  # the field coerces submitted values to int; 0 = none


def _none_is_zero(value: object) -> int:
    # the form's raw value (str or int): int() refusing anything else is WTForms' coercion error
    return int(value) if value not in (None, "", "None") else 0  # type: ignore[call-overload]


class UnitForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
                       validators=[InputRequired()])
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=40)],
                       description=_l("Letters, digits, '.', '_' or '-'; unique across the country."))
    name_vi = StringField(_l("Name in Vietnamese"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=200)])
    # validate_choice off: a unit outside the list must reach the service, which answers 404 and audits.
    parent_id = SelectField(_l("Parent unit"), coerce=_none_is_zero, validators=[Optional()],
                            validate_choice=False)
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_to = DateField(_l("Valid until (last day)"), validators=[Optional()])
    successor_id = SelectField(_l("Successor"), coerce=_none_is_zero, validators=[Optional()],
                               validate_choice=False,
                               description=_l("The unit that took over after a merger or renaming."))


class CloseUnitForm(FlaskForm):
    valid_to = DateField(_l("Last valid day"), validators=[InputRequired()])
    successor_id = SelectField(_l("Successor"), coerce=_none_is_zero, validators=[Optional()],
                               validate_choice=False)


class CounterForm(FlaskForm):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=40)])
    name_vi = StringField(_l("Name in Vietnamese"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=200)])
    procedure_field = StringField(_l("Procedure field"), validators=[Optional(), Length(max=60)],
                                  description=_l("Optional, e.g. dat-dai, tu-phap, dang-ky-kinh-doanh."))
    active = BooleanField(_l("Active (its QR code is accepted)"), default=True)


class ConfirmForm(FlaskForm):
    """An empty form: only the CSRF token, for POST-after-confirmation actions."""


class AssignmentForm(FlaskForm):
    instrument = SelectField(_l("Instrument"), validators=[InputRequired()])
    opens_on = DateField(_l("Opens on"), validators=[InputRequired()])
    closes_on = DateField(_l("Closes on"), validators=[Optional()])


class CloseAssignmentForm(FlaskForm):
    assignment_id = IntegerField(validators=[InputRequired()])
    closes_on = DateField(_l("Closes on"), validators=[InputRequired()])


REASON_REQUIRED = _l("Give the reason for this change: it is kept in the audit log.")


class TargetForm(FlaskForm):
    instrument_id = SelectField(_l("Instrument"), validators=[InputRequired()])
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    # An empty box is not a way to remove a target: that is its own action, with a confirmation.
    target = StringField(_l("Target"), validators=[
        InputRequired(_l("Enter the target, e.g. 80%. To remove this unit's own target, use "
                         "\"Remove own target\" in the table above.")), Length(max=10)],
        description=_l("Examples: 80, 80% and 0.8 each mean 80%."))
    reason = StringField(_l("Reason"), validators=[InputRequired(REASON_REQUIRED), Length(max=500)])


class ClearTargetForm(FlaskForm):
    instrument_id = SelectField(_l("Instrument"), validators=[InputRequired()])
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    reason = StringField(_l("Reason"), validators=[InputRequired(REASON_REQUIRED), Length(max=500)])


class ApproveProposalForm(FlaskForm):
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])


class RejectProposalForm(FlaskForm):
    reason = StringField(_l("Reason for rejecting"), validators=[InputRequired(REASON_REQUIRED),
                                                                 Length(max=500)])


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])
