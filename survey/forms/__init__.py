"""WTForms forms. The survey form is built from the instrument: one field factory per item type."""

from survey.forms.survey_form import FIELD_FACTORIES, SurveyForm, build_survey_form, field_factory

__all__ = ["FIELD_FACTORIES", "SurveyForm", "build_survey_form", "field_factory"]
