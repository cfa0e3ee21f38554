"""A unit's overall index broken down by field, channel and the respondent's profile answers, and the
profile of its respondents, under the reports' small-cell rule.

Variables (whichever the responses and the instrument record):

- ``field``: the procedure field of the counter, copied onto each response at submission (every
  instrument; the weighting cells use it too);
- ``channel``: how the citizen answered (QR code, counter tablet, link, ...);
- every single-choice item of the instrument's ``profile`` group (SIPAS: age band, sex, the procedure
  field the respondent names; outpatient: health insurance), labelled with the instrument's options.

"Not answered" (or "not recorded") is a category of its own, so each table adds up to the unit's total:
that is the additive relation a reader could subtract along. A variable with fewer than two categories
holding respondents says nothing and is left out.

Each category's overall index comes from `analysis.tables.compute_indices` with ``by=[variable]`` on the
same respondents, weights, calibration and design as the unit page (strata = units, each respondent a
PSU), so the "all" row equals the page's overall index. Small cells: the counts of both tables (the
respondents of the profile, the index's n of the breakdown) go through `analysis.small_cells` with the
reports' threshold (`small_cells.SMALL_CELL`); a category hidden in either table is hidden in both, so
that one table cannot undo the other's complementary suppression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from analysis.small_cells import Relation, suppress_small_cells
from analysis.tables import compute_indices
from instruments.index import IndexDefinition
from instruments.model import Instrument, SingleChoiceItem
from survey.models import Channel, Unit
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.indices import MIN_N, instrument_for
from survey.services.reporting.period_weights import respondent_weights
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import load_respondents_cached
from survey.services.reporting.small_cells import SMALL_CELL
from survey.services.staff.access import subtree_ids

NOT_ANSWERED = "~"  # the category of respondents without a value (sorts after every code)
_SCOPE, _GROUP = "_scope", "_breakdown"  # helper columns; item ids are lower-case identifiers

CHANNEL_LABELS = {
    Channel.QR.value: _l("QR code"),
    Channel.KIOSK.value: _l("Counter tablet"),
    Channel.LINK.value: _l("Link"),
    Channel.API.value: _l("API"),
    Channel.IMPORT.value: _l("Imported"),
}
FIELD_TITLE = _l("Procedure field of the counter")
CHANNEL_TITLE = _l("Channel")
NOT_ANSWERED_LABEL = _l("not answered")
NOT_RECORDED_LABEL = _l("not recorded")


@dataclass(frozen=True)
class Category:
    """One category of a variable: its respondents (profile) and overall index (breakdown).

    Every figure is None when the category is hidden by the small-cell rule (`hidden`); `est` and its
    interval are also None when the index has fewer than `indices.MIN_N` respondents (verdict
    "suppressed", as everywhere on the dashboard).
    """

    code: str
    label: str
    hidden: bool
    respondents: int | None
    share: float | None  # of the unit's respondents, unweighted
    n: int | None  # respondents with at least one valid answer in the index
    est: float | None
    ci_lo: float | None
    ci_hi: float | None
    verdict: str


@dataclass(frozen=True)
class Breakdown:
    """One variable's categories, in questionnaire order, "not answered" last."""

    variable: str
    title: str
    categories: tuple[Category, ...]
    respondents: int

    @property
    def hidden_any(self) -> bool:
        return any(c.hidden for c in self.categories)


@dataclass(frozen=True)
class _Counts:
    """What is computed once per unit, period and instrument (labels come later, per language)."""

    respondents: dict[str, int]  # category -> respondents
    index: dict[str, dict[str, Any]]  # category -> compute_indices overall row ("" = all)


def _keys(values: pd.Series, numeric: bool) -> pd.Series:
    """Category codes as strings: "3" for an answer code 3.0, NOT_ANSWERED for a missing value (or an
    empty text). Each distinct value is spelled once: a year's respondents are thousands of rows and a
    variable a handful of categories."""
    if numeric:
        at, found = pd.factorize(pd.to_numeric(values, errors="coerce"))  # missing: -1
        spelled = [str(int(v)) for v in found.tolist()]
    else:
        at, found = pd.factorize(values)
        spelled = [NOT_ANSWERED if str(v) == "" else str(v) for v in found.tolist()]
    # the text type pandas infers, as `Series.map` gave it
    return pd.Series(np.array([*spelled, NOT_ANSWERED], dtype=object)[at].tolist(), index=values.index,
                     name=values.name)


def _profile_items(instrument: Instrument) -> list[SingleChoiceItem]:
    wanted = [s.item for s in instrument.index.separate if s.group == "profile"]
    return [item for item in (instrument.item(i) for i in wanted) if isinstance(item, SingleChoiceItem)]


_CACHE: VersionedCache[dict[str, _Counts]] = VersionedCache(64)


def _computed(session: Session, unit: Unit, instrument: Instrument, period: Period, *, weighted: bool,
              target: float, min_cell: int) -> dict[str, _Counts]:
    ids = subtree_ids(session, [unit.id])
    key = (str(session.get_bind().engine.url), unit.id, instrument.key, period.label, weighted, target,
           min_cell)
    version = data_version(session, ids, period.first, period.last)
    hit = _CACHE.get(key, version)
    if hit is not None:
        return hit
    data = load_respondents_cached(session, ids, period.first, period.last, instrument).frame
    out: dict[str, _Counts] = {}
    if not data.empty:
        weighting, _method = respondent_weights(session, data, ids, period.first, period.last, weighted,
                                                min_cell)
        definition = IndexDefinition.from_instrument(instrument)
        variables = [("field", False), ("channel", False),
                     *((item.id, True) for item in _profile_items(instrument))]
        frame = data.copy()
        frame[_SCOPE] = unit.code
        keys = {variable: _keys(data[variable], numeric) for variable, numeric in variables}
        columns = {variable: f"{_GROUP}:{variable}" for variable in keys}
        for variable, column in columns.items():
            frame[column] = keys[variable]
        # Every variable cut on its own in one call: one design, one weighting, one "all" cut (no category
        # is ever "", which marks the rows of the other variables' cuts).
        table = compute_indices(
            frame, definition, unit_col=_SCOPE, strata_col="unit", by=list(columns.values()),
            crossed_by=False, weights=None if weighting is None else weighting.weights,
            calibration=None if weighting is None else weighting.calibration,
            targets=target, min_n=MIN_N, lonely_psu="adjust", stat_types=("overall_index",))
        rows = table[(table["domain"] == unit.code) & (table["stat_type"] == "overall_index")]
        records = cast(list[dict[str, Any]], rows.to_dict("records"))
        for variable, column in columns.items():
            others = [other for other in columns.values() if other != column]
            out[variable] = _Counts(
                respondents={str(k): int(v) for k, v in keys[variable].value_counts().items()},
                index={str(r[column]): r for r in records if all(r[other] == "" for other in others)})
    _CACHE.put(key, version, out)
    return out


def hidden_categories(respondents: Mapping[str, int], index_n: Mapping[str, int]) -> frozenset[str] | None:
    """Categories to hide in both tables, or None when the whole variable must be hidden (its total is
    itself a small cell: then no category can be shown without showing it).

    Two additive tables over the same categories: respondents (total = the unit's respondents) and the
    index's n (total = the unit's n). Each goes through `analysis.small_cells.suppress_small_cells`; the
    union is hidden in both.
    """
    values: dict[tuple[str, str], int] = {}
    relations = []
    for table, counts in (("respondents", respondents), ("n", index_n)):
        for code, count in counts.items():
            values[(table, code)] = count
        values[(table, "")] = sum(counts.values())
        relations.append(Relation((table, ""), tuple((table, code) for code in counts)))
    if any(0 < values[(table, "")] < SMALL_CELL for table in ("respondents", "n")):
        return None
    suppressed = suppress_small_cells(values, relations, threshold=SMALL_CELL).suppressed
    if any(code == "" for _table, code in suppressed):
        return None
    return frozenset(code for _table, code in suppressed)


def _finite(value: Any) -> float | None:
    number = float(value) if value is not None else math.nan
    return number if math.isfinite(number) else None


def _labels(variable: str, instrument: Instrument, lang: str) -> tuple[str, dict[str, str], str]:
    """The variable's title, its category labels and the label of a missing value."""
    if variable == "field":
        return str(FIELD_TITLE), {}, str(NOT_RECORDED_LABEL)
    if variable == "channel":
        return str(CHANNEL_TITLE), {k: str(v) for k, v in CHANNEL_LABELS.items()}, str(NOT_RECORDED_LABEL)
    item = instrument.item(variable)
    options = item.options if isinstance(item, SingleChoiceItem) else ()
    return item.text.get(lang), {str(o.code): o.label.get(lang) for o in options}, str(NOT_ANSWERED_LABEL)


def _order(variable: str, codes: list[str], instrument: Instrument) -> list[str]:
    """Questionnaire (or channel) order, unknown codes by name, "not answered" last."""
    if variable == "field":
        order: list[str] = []
    elif variable == "channel":
        order = list(CHANNEL_LABELS)
    else:
        item = instrument.item(variable)
        order = [str(o.code) for o in item.options] if isinstance(item, SingleChoiceItem) else []
    return sorted(codes, key=lambda c: (c == NOT_ANSWERED, order.index(c) if c in order else len(order), c))


def unit_breakdowns(session: Session, unit: Unit, instrument_key: str, period: Period, *, weighted: bool,
                    target: float, lang: str, min_cell: int) -> list[Breakdown]:
    """The breakdowns of `unit` (its whole subtree) in `period`, labelled in `lang`, small cells hidden."""
    instrument = instrument_for(instrument_key)
    computed = _computed(session, unit, instrument, period, weighted=weighted, target=target,
                         min_cell=min_cell)
    out = []
    for variable, counts in computed.items():
        codes = [c for c, n in counts.respondents.items() if n > 0]
        if len([c for c in codes if c != NOT_ANSWERED]) < 2:
            continue
        index_n = {c: int(counts.index[c]["n"]) if c in counts.index else 0 for c in codes}
        hidden = hidden_categories({c: counts.respondents[c] for c in codes}, index_n)
        total = sum(counts.respondents[c] for c in codes)
        title, labels, missing = _labels(variable, instrument, lang)
        categories = []
        for code in _order(variable, codes, instrument):
            label = missing if code == NOT_ANSWERED else labels.get(code, code)
            if hidden is None or code in hidden:
                categories.append(Category(code, label, True, respondents=None, share=None, n=None,
                                           est=None, ci_lo=None, ci_hi=None, verdict="suppressed"))
                continue
            row = counts.index.get(code)
            est = _finite(row["est"]) if row is not None else None
            categories.append(Category(
                code, label, False, counts.respondents[code], counts.respondents[code] / total,
                index_n[code], est, _finite(row["ci_lo"]) if row is not None else None,
                _finite(row["ci_hi"]) if row is not None else None,
                str(row["verdict"]) if row is not None else "suppressed"))
        out.append(Breakdown(variable, title, tuple(categories), total))
    return out


def overall_of_all(session: Session, unit: Unit, instrument_key: str, period: Period, *, weighted: bool,
                   target: float, min_cell: int, variable: str = "channel") -> dict[str, Any] | None:
    """The "all" row of one breakdown's computation (for checking it against the unit page)."""
    computed = _computed(session, unit, instrument_for(instrument_key), period, weighted=weighted,
                         target=target, min_cell=min_cell)
    counts = computed.get(variable)
    return None if counts is None else counts.index.get("")
