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

from analysis.cut_sums import CutSums, added, cut_sums, cut_table
from analysis.poststratification import PoststratResult
from analysis.small_cells import Relation, suppress_small_cells
from analysis.tables import compute_indices
from instruments.index import IndexDefinition
from instruments.model import Instrument, SingleChoiceItem
from survey.models import Channel, Unit
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.indices import MIN_N, instrument_for
from survey.services.reporting.period_weights import respondent_weights
from survey.services.reporting.periods import Period, month_spans
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
    # A longer period from its months' sums, each kept under its month's version (`analysis.cut_sums`)
    found = _from_months(session, unit, ids, instrument, period, weighted, target, min_cell)
    out = found if found is not None else _from_period(session, unit, ids, instrument, period, weighted,
                                                       target, min_cell)
    _CACHE.put(key, version, out)
    return out


def _variables(instrument: Instrument) -> list[tuple[str, bool]]:
    """The variables broken down by, each with whether its values are answer codes."""
    return [("field", False), ("channel", False), *((item.id, True) for item in _profile_items(instrument))]


def _cut_frame(data: pd.DataFrame, unit: Unit, instrument: Instrument
               ) -> tuple[pd.DataFrame, dict[str, pd.Series], dict[str, str]]:
    """The respondents with the unit as their one domain and a category column per variable; the
    categories; each variable's column."""
    frame = data.copy()
    frame[_SCOPE] = unit.code
    keys = {variable: _keys(data[variable], numeric) for variable, numeric in _variables(instrument)}
    columns = {variable: f"{_GROUP}:{variable}" for variable in keys}
    for variable, column in columns.items():
        frame[column] = keys[variable]
    return frame, keys, columns


def _counted(table: pd.DataFrame, unit: Unit, respondents: dict[str, dict[str, int]],
             columns: dict[str, str]) -> dict[str, _Counts]:
    """Each variable's respondents and overall rows (its column's value, the others' "")."""
    rows = table[(table["domain"] == unit.code) & (table["stat_type"] == "overall_index")]
    records = cast(list[dict[str, Any]], rows.to_dict("records"))
    out: dict[str, _Counts] = {}
    for variable, column in columns.items():
        others = [other for other in columns.values() if other != column]
        out[variable] = _Counts(
            respondents=respondents[variable],
            index={str(r[column]): r for r in records if all(r[other] == "" for other in others)})
    return out


def _from_period(session: Session, unit: Unit, ids: set[int], instrument: Instrument, period: Period,
                 weighted: bool, target: float, min_cell: int) -> dict[str, _Counts]:
    """The breakdowns from the period's respondents at once."""
    data = load_respondents_cached(session, ids, period.first, period.last, instrument).frame
    if data.empty:
        return {}
    weighting, _method = respondent_weights(session, data, ids, period.first, period.last, weighted,
                                            min_cell)
    frame, keys, columns = _cut_frame(data, unit, instrument)
    # Every variable cut on its own in one call: one design, one weighting, one "all" cut (no category
    # is ever "", which marks the rows of the other variables' cuts).
    table = compute_indices(
        frame, IndexDefinition.from_instrument(instrument), unit_col=_SCOPE, strata_col="unit",
        by=list(columns.values()), crossed_by=False, weights=None if weighting is None else weighting.weights,
        calibration=None if weighting is None else weighting.calibration,
        targets=target, min_n=MIN_N, lonely_psu="adjust", stat_types=("overall_index",))
    return _counted(table, unit, {v: _tallied(k) for v, k in keys.items()}, columns)


def _tallied(categories: pd.Series) -> dict[str, int]:
    """Respondents per category, by category (the same order however they were counted)."""
    return dict(sorted((str(k), int(v)) for k, v in categories.value_counts().items()))


@dataclass(frozen=True)
class _Month:
    """A month's part of a longer period's breakdowns: its cuts' sums (None: no respondents) and its
    respondents per category."""

    sums: CutSums | None
    respondents: dict[str, dict[str, int]]


# Process-local, each month under its own version: a new response recomputes its month's sums only.
_MONTHS: VersionedCache[_Month] = VersionedCache(256)


def _from_months(session: Session, unit: Unit, ids: set[int], instrument: Instrument, period: Period,
                 weighted: bool, target: float, min_cell: int) -> dict[str, _Counts] | None:
    """The breakdowns of a period of several months from each month's sums added; None for a single
    month, or when the months not kept cannot be weighted (the period's own weighting then decides).

    The weighting cells are a unit's month, each weighted ``N_c / n_c`` whatever the other months hold,
    so the months computed together (those not kept, and any between them) are weighted as the period
    weighs them, and their sums are the period's parts."""
    spans = month_spans(period.first, period.last)
    if len(spans) < 2:
        return None
    url = str(session.get_bind().engine.url)
    keys = {span: (url, unit.id, instrument.key, span[0].strftime("%Y-%m"), weighted, min_cell)
            for span in spans}
    versions = {span: data_version(session, ids, *span) for span in spans}
    months = {span: _MONTHS.get(keys[span], versions[span]) for span in spans}
    missing = [span for span, month in months.items() if month is None]
    if missing:
        first, last = missing[0][0], missing[-1][1]
        data = load_respondents_cached(session, ids, first, last, instrument).frame
        weighting = None
        if not data.empty:
            weighting, _method = respondent_weights(session, data, ids, first, last, weighted, min_cell)
            if weighted and weighting is None:
                return None
        computed = _months_of(data, unit, instrument, weighting)
        for span in spans:
            if first <= span[0] <= last:
                month = computed.get(span[0].strftime("%Y-%m"), _Month(None, {}))
                _MONTHS.put(keys[span], versions[span], month)
                months[span] = month
    kept = [month for month in months.values() if month is not None]
    parts = [month.sums for month in kept if month.sums is not None]
    if not parts:
        return {}
    table = cut_table(added(parts), IndexDefinition.from_instrument(instrument), targets=target, min_n=MIN_N,
                      stat_types=("overall_index",))
    respondents: dict[str, dict[str, int]] = {}
    for month in kept:
        for variable, counts in month.respondents.items():
            into = respondents.setdefault(variable, {})
            for category, n in counts.items():
                into[category] = into.get(category, 0) + n
    respondents = {variable: dict(sorted(counts.items())) for variable, counts in respondents.items()}
    columns = {variable: f"{_GROUP}:{variable}" for variable, _numeric in _variables(instrument)}
    return _counted(table, unit, respondents, columns)


def _months_of(data: pd.DataFrame, unit: Unit, instrument: Instrument, weighting: PoststratResult | None
               ) -> dict[str, _Month]:
    """Each month's part of respondents `data` (local month label -> `_Month`), in one pass."""
    if data.empty:
        return {}
    frame, keys, columns = _cut_frame(data, unit, instrument)
    sums = cut_sums(frame, IndexDefinition.from_instrument(instrument), unit_col=_SCOPE, strata_col="unit",
                    by=list(columns.values()), weights=None if weighting is None else weighting.weights,
                    calibration=None if weighting is None else weighting.calibration, ratios_only=True,
                    part_col="month")
    month_of = data["month"].astype(str).to_numpy()
    return {label: _Month(part, {variable: _tallied(categories[month_of == label])
                                 for variable, categories in keys.items()})
            for label, part in sums.items()}


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
