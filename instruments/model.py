"""Typed model of an instrument file (format 1).

An instrument is a questionnaire as data: scales, sections with items, and the index definition
(elements -> criteria) that `analysis` uses to compute SIPAS-style indices. The wording is part of what
is measured, so it lives here with the version, never in templates or code.

The classes are frozen pydantic models that refuse unknown keys; `instruments.loader` turns a YAML
document into an `Instrument` and adds the cross-reference checks a schema cannot express.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FORMAT_VERSION = 1

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
"""Item, section, scale and element ids: lower-case ASCII, safe as form field and column names."""

InstrumentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]{1,3}$")]
"""`YYYY.N`: the year the wording was fixed and a sequence number."""

RESERVED_ITEM_IDS = frozenset({"csrf_token", "nonce", "website", "receipt", "lang", "mode"})
"""Names the web form and its URLs use for their own fields (CSRF token, single-use nonce, honeypot,
dossier receipt number, language and kiosk switches): an item called so would collide with them."""

Code = Annotated[int, Field(ge=-99, le=999, strict=True)]
"""Answer codes are small integers so they sort and export cleanly (SPSS/Stata value labels).

Strict, because lax validation would turn a YAML `yes`, `5.0` or `"5"` into a code without a word.
"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Text(_Strict):
    """Wording in Vietnamese (required, the language of the survey) and English."""

    vi: Annotated[str, StringConstraints(min_length=1)]
    en: Annotated[str, StringConstraints(min_length=1)]

    def get(self, lang: str) -> str:
        """Return the wording in `lang`, falling back to Vietnamese."""
        return self.en if lang == "en" else self.vi


class Level(_Strict):
    """One answer option: a stored code and its label."""

    code: Code
    label: Text


class Scale(_Strict):
    """An ordered rating scale, lowest level first.

    `satisfied` lists the codes counted as satisfied (the SIPAS convention: the top two levels);
    `not_applicable`, if present, is an extra option excluded from every denominator.
    """

    levels: Annotated[tuple[Level, ...], Field(min_length=2, max_length=11)]
    satisfied: Annotated[tuple[Code, ...], Field(min_length=1)]
    not_applicable: Level | None = None


class ShowIf(_Strict):
    """Show an item only when an earlier single-choice or scale item has one of `in_` codes."""

    model_config = ConfigDict(populate_by_name=True)
    item: Identifier
    in_: Annotated[tuple[Code, ...], Field(alias="in", min_length=1)]


class _ItemBase(_Strict):
    id: Identifier
    text: Text
    help: Text | None = None
    required: bool = False
    show_if: ShowIf | None = None


class ScaleItem(_ItemBase):
    """A rating on one of the instrument's scales."""

    type: Literal["scale"]
    scale: Identifier
    allow_na: bool = True


class SingleChoiceItem(_ItemBase):
    """One option among several (radio buttons)."""

    type: Literal["single"]
    options: Annotated[tuple[Level, ...], Field(min_length=2)]


class MultipleChoiceItem(_ItemBase):
    """Any number of options (check boxes); `max_choices` caps how many."""

    type: Literal["multiple"]
    options: Annotated[tuple[Level, ...], Field(min_length=2)]
    max_choices: Annotated[int, Field(ge=1)] | None = None


class ShortTextItem(_ItemBase):
    """One line of free text."""

    type: Literal["short_text"]
    max_length: Annotated[int, Field(ge=1, le=500)] = 200


class LongTextItem(_ItemBase):
    """A comment box. Free text is stored apart from coded answers and scrubbed of personal data."""

    type: Literal["long_text"]
    max_length: Annotated[int, Field(ge=1, le=4000)] = 1000


class NumberItem(_ItemBase):
    """A whole number between `min` and `max`."""

    type: Literal["number"]
    min: int = 0
    max: int = 999


class NoteItem(_ItemBase):
    """Text shown to the respondent; takes no answer."""

    type: Literal["note"]


Item = Annotated[
    ScaleItem | SingleChoiceItem | MultipleChoiceItem | ShortTextItem | LongTextItem | NumberItem | NoteItem,
    Field(discriminator="type"),
]
ItemType = Literal["scale", "single", "multiple", "short_text", "long_text", "number", "note"]


class Section(_Strict):
    """A page-like group of items with an optional heading."""

    id: Identifier
    title: Text | None = None
    items: Annotated[tuple[Item, ...], Field(min_length=1)]


class Element(_Strict):
    """A SIPAS element (yếu tố): the mean of its criteria's indices, weighted `weight` in the overall."""

    id: Identifier
    label: Text
    criteria: Annotated[tuple[Identifier, ...], Field(min_length=1)]
    weight: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0


SeparateGroup = Literal["overall", "integrity", "expectations", "profile", "other"]


class SeparateItem(_Strict):
    """An item reported on its own, outside the index (overall question, integrity, profile...)."""

    item: Identifier
    group: SeparateGroup
    favourable: tuple[Code, ...] = ()
    """Codes that count as the good outcome when a share is reported (e.g. "no harassment")."""


class IndexSpec(_Strict):
    """Which items make the index and how they combine."""

    formula: Annotated[str, StringConstraints(min_length=1)] = "sipas-share-satisfied-v1"
    elements: Annotated[tuple[Element, ...], Field(min_length=1)]
    separate: tuple[SeparateItem, ...] = ()


class Instrument(_Strict):
    """A whole instrument file."""

    format: Literal[1]
    id: InstrumentId
    version: Version
    status: Literal["draft", "published"] = "draft"
    title: Text
    intro: Text | None = None
    thanks: Text | None = None
    sector: Annotated[str, StringConstraints(min_length=1)] = "public-administration"
    scales: dict[Identifier, Scale]
    sections: Annotated[tuple[Section, ...], Field(min_length=1)]
    index: IndexSpec

    @property
    def key(self) -> str:
        """`id@version`, the name responses and reports use."""
        return f"{self.id}@{self.version}"

    def items(self) -> tuple[Item, ...]:
        """Every item in questionnaire order."""
        return tuple(item for section in self.sections for item in section.items)

    def item(self, item_id: str) -> Item:
        """Return the item called `item_id`; `KeyError` if there is none."""
        for candidate in self.items():
            if candidate.id == item_id:
                return candidate
        raise KeyError(item_id)
