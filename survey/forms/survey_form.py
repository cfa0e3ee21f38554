"""The survey form, built from an instrument in the respondent's language.

The form renders the questions and keeps what was typed when the page comes back with errors; it
does not judge the answers. `survey.services.citizens.submissions.validate_submission` does, strictly and
in one place, so that the rules hold for any client, with or without this form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    Field,
    HiddenField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField
from wtforms.widgets import CheckboxInput

from instruments.model import (
    Instrument,
    Item,
    Level,
    LongTextItem,
    MultipleChoiceItem,
    NumberItem,
    ScaleItem,
    ShortTextItem,
    SingleChoiceItem,
)
from survey.services.citizens.submissions import HONEYPOT_FIELD, NONCE_FIELD, RESERVED_FIELDS

FieldFactory = Callable[[Any, Instrument, str], UnboundField | None]
FIELD_FACTORIES: dict[str, FieldFactory] = {}

# Form fields live under a prefixed attribute so that an item called `data` or `errors` cannot
# shadow a Form attribute; the HTML name stays the item id (what the validator expects).
_ATTRIBUTE_PREFIX = "item__"


def field_factory(item_type: str) -> Callable[[FieldFactory], FieldFactory]:
    """Register the function building the form field of `item_type` (None = nothing to answer)."""
    def register(factory: FieldFactory) -> FieldFactory:
        FIELD_FACTORIES[item_type] = factory
        return factory
    return register


def _common(item: Item, lang: str) -> dict[str, Any]:
    # HTML ids are prefixed so that an item id can never clash with an id of the page layout.
    return {"label": item.text.get(lang), "name": item.id, "id": f"q-{item.id}",
            "description": item.help.get(lang) if item.help else ""}


def _choices(levels: tuple[Level, ...] | list[Level], lang: str) -> list[SelectChoice]:
    return [SelectChoice(str(level.code), level.label.get(lang)) for level in levels]


@field_factory("scale")
def scale_field(item: ScaleItem, instrument: Instrument, lang: str) -> UnboundField:
    scale = instrument.scales[item.scale]
    levels = list(scale.levels)
    if item.allow_na and scale.not_applicable is not None:
        levels.append(scale.not_applicable)  # last, and set apart by the template
    return RadioField(choices=_choices(levels, lang), coerce=str, **_common(item, lang))


@field_factory("single")
def single_field(item: SingleChoiceItem, instrument: Instrument, lang: str) -> UnboundField:
    return RadioField(choices=_choices(item.options, lang), coerce=str, **_common(item, lang))


@field_factory("multiple")
def multiple_field(item: MultipleChoiceItem, instrument: Instrument, lang: str) -> UnboundField:
    return SelectMultipleField(choices=_choices(item.options, lang), coerce=str,
                               option_widget=CheckboxInput(), **_common(item, lang))


@field_factory("short_text")
def short_text_field(item: ShortTextItem, instrument: Instrument, lang: str) -> UnboundField:
    return StringField(render_kw={"maxlength": item.max_length, "autocomplete": "off"},
                       **_common(item, lang))


@field_factory("long_text")
def long_text_field(item: LongTextItem, instrument: Instrument, lang: str) -> UnboundField:
    return TextAreaField(render_kw={"maxlength": item.max_length, "rows": 4}, **_common(item, lang))


@field_factory("number")
def number_field(item: NumberItem, instrument: Instrument, lang: str) -> UnboundField:
    return IntegerField(render_kw={"min": item.min, "max": item.max, "step": 1, "inputmode": "numeric"},
                        **_common(item, lang))


@field_factory("note")
def note_field(item: Item, instrument: Instrument, lang: str) -> None:
    return None  # a note is text to read; the template shows it


@dataclass(frozen=True)
class Condition:
    """When a conditional item applies, in words for respondents without JavaScript."""

    item_id: str
    codes: tuple[int, ...]
    question: str
    answers: str


def _condition(item: Item, instrument: Instrument, lang: str) -> Condition | None:
    if item.show_if is None:
        return None
    trigger = instrument.item(item.show_if.item)
    if isinstance(trigger, ScaleItem):
        scale = instrument.scales[trigger.scale]
        levels = [*scale.levels, *([scale.not_applicable] if scale.not_applicable else [])]
    else:
        levels = list(getattr(trigger, "options", ()))
    labels = [level.label.get(lang) for level in levels if level.code in item.show_if.in_]
    return Condition(trigger.id, item.show_if.in_, trigger.text.get(lang), " / ".join(labels))


class SurveyForm(FlaskForm):
    """Base of every built survey form: the nonce and the honeypot (CSRF comes from FlaskForm)."""

    nonce = HiddenField(name=NONCE_FIELD, id="form-nonce")
    # Off-screen (CSS), never focused, never autofilled, hidden from screen readers: people leave it
    # empty, naive bots fill it. Named innocuously on purpose.
    website = StringField(name=HONEYPOT_FIELD, id="hp-website",
                          render_kw={"autocomplete": "off", "tabindex": "-1", "aria-hidden": "true"})
    conditions: dict[str, Condition]
    na_codes: dict[str, str]
    grid_columns: dict[str, int]

    def item_field(self, item_id: str) -> Field | None:
        """The field answering item `item_id`, or None for a note."""
        return self._fields.get(_ATTRIBUTE_PREFIX + item_id)


def build_survey_form(instrument: Instrument, lang: str, **kwargs: Any) -> SurveyForm:
    """An instance of a SurveyForm subclass with one field per answerable item of `instrument`."""
    fields: dict[str, Any] = {}
    for item in instrument.items():
        if item.id in RESERVED_FIELDS:
            raise ValueError(f"{instrument.key}: item id {item.id!r} is reserved for the survey form")
        unbound = FIELD_FACTORIES[item.type](item, instrument, lang)
        if unbound is not None:
            fields[_ATTRIBUTE_PREFIX + item.id] = unbound
    form: SurveyForm = type("InstrumentForm", (SurveyForm,), fields)(**kwargs)
    form.conditions = {item.id: c for item in instrument.items() if (c := _condition(item, instrument, lang))}
    form.na_codes = {item.id: str(na.code) for item in instrument.items()
                     if isinstance(item, ScaleItem) and item.allow_na
                     and (na := instrument.scales[item.scale].not_applicable) is not None}
    scales = [item for item in instrument.items() if isinstance(item, ScaleItem)]
    form.grid_columns = {item.id: n for item in scales if (n := _grid_columns(item, instrument, lang))}
    return form


def _grid_columns(item: ScaleItem, instrument: Instrument, lang: str) -> int:
    """Columns to lay a scale's levels side by side on a 360-px phone, or 0 for a list.

    Side by side halves the scrolling of a long questionnaire, but only while every word of every
    label fits its column: 4-5 columns hold about 8 letters at the small size, 2-3 columns about 12.
    """
    levels = instrument.scales[item.scale].levels
    longest_word = max(len(word) for level in levels for word in level.label.get(lang).split())
    fits = longest_word <= (12 if len(levels) <= 3 else 8)
    return len(levels) if len(levels) <= 5 and fits else 0
