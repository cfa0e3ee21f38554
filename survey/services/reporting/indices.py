"""The one place the web calls `analysis`: indices of a unit subtree for a period, with everything a
manager's page shows (intervals, verdicts against targets, trend, siblings, integrity items, responses
needed, change against the previous period) and the method statements that must go with them.

Each period of the trend window is its own table (`period_tables`), kept until its data change; the
report, and what a page looks up in it, is `index_report.IndexReport`.
"""

from __future__ import annotations

import math
from typing import TypedDict, Unpack

import pandas as pd
from sqlalchemy.orm import Session

from analysis.planning import DEFAULT_PLANNING_P, responses_needed
from analysis.weights import DEFAULT_MIN_CELL
from instruments.index import IndexDefinition
from instruments.model import Instrument
from instruments.registry import get_instrument, parse_spec
from survey.models import Unit
from survey.services.organisation.assignments import ancestors_and_self
from survey.services.reporting.index_cache import VersionedCache, data_version, prepare_later
from survey.services.reporting.index_report import TREND_LENGTH, IndexReport
from survey.services.reporting.index_source import EMPTY_COLUMNS, read_sums_later
from survey.services.reporting.league import PendingLeague, unit_league
from survey.services.reporting.period_change import overall_changes
from survey.services.reporting.period_tables import MIN_N as MIN_N
from survey.services.reporting.period_tables import (
    period_table,
    target_argument,
    targets_above,
)
from survey.services.reporting.period_weights import UNWEIGHTED_METHOD as UNWEIGHTED_METHOD
from survey.services.reporting.period_weights import WEIGHTED_METHOD as WEIGHTED_METHOD
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import frame_table, unit_names, unit_parent_map
from survey.services.reporting.small_cells import (
    hidden_units,
    hidden_units_by_period,
)
from survey.services.staff.access import subtree_ids

# The method of analysis.intervals.DEFAULT_INTERVAL_METHOD ("wilson_conservative").
INTERVAL_METHOD = ("Wilson score interval on the smaller of the design and Kish effective sample sizes, "
                   "Kish's bound taken per criterion for element and overall indices (Clopper–Pearson "
                   "at 0 or 1)")
FORMULA_TEXT = ("criterion = share of valid answers that are satisfied (not applicable and missing "
                "excluded); element = mean of its criteria; overall = weighted mean of the elements")


def instrument_for(key: str) -> Instrument:
    instrument_id, version = parse_spec(key)
    return get_instrument(instrument_id, version)


_REPORTS: VersionedCache[IndexReport] = VersionedCache(64, name="reports")


class IndexOptions(TypedDict, total=False):
    """What a unit report may be asked beyond unit, instrument, period and weighting (defaults in
    `_DEFAULTS`): the interval's alpha, the target where none is set, the half-width the "responses
    needed" figure plans for, the unit whose children form the league table, the smallest weighting cell,
    and the units the viewer's small-cell decision hides (`viewer_cells`; None: decide on the league's
    own tree)."""

    alpha: float
    default_target: float
    half_width: float
    league_root: Unit | None
    min_cell: int
    league_hidden: frozenset[str] | None


# What `IndexOptions` means when a key is not given.
_DEFAULTS: IndexOptions = {"alpha": 0.05, "default_target": 0.80, "half_width": 0.05, "league_root": None,
                           "min_cell": DEFAULT_MIN_CELL, "league_hidden": None}


def _settings(options: IndexOptions) -> IndexOptions:
    """`options` with every key present: the defaults, then what the caller gave."""
    return {**_DEFAULTS, **options}


def _cache_key(settings: IndexOptions) -> tuple[object, ...]:
    """The settings as a hashable key: the league's unit by id, the hidden units sorted."""
    root, hidden = settings["league_root"], settings["league_hidden"]
    return (settings["alpha"], settings["default_target"], settings["half_width"],
            None if root is None else root.id, settings["min_cell"],
            None if hidden is None else tuple(sorted(hidden)))


def unit_indices(session: Session, unit: Unit, instrument_key: str, period: Period, *, weighted: bool,
                 **options: Unpack[IndexOptions]) -> IndexReport:
    """Everything the unit page needs for `unit` and its descendants in `period` (cached per process).

    `league_root`: the unit whose children form the league table (the unit's parent when the
    viewer may see it, else the unit itself); None = no league. `min_cell`: the post-stratification's
    smallest cell (the app's ``POSTSTRAT_MIN_CELL``). The cached report is reused only
    while the data version (`index_cache.data_version`) of its window is unchanged.
    """
    settings = _settings(options)
    scope = settings["league_root"] or unit
    ids = subtree_ids(session, [scope.id, unit.id])
    window_first = period.shifted(TREND_LENGTH[period.kind] - 1).first
    key = (str(session.get_bind().engine.url), unit.id, instrument_key, period.label, weighted,
           _cache_key(settings))
    version = data_version(session, ids, window_first, period.last)
    held = _REPORTS.held(key, version)
    hit = _REPORTS.get(key, version)
    if hit is not None:  # perhaps from the shared store: read ahead what a new response would need here
        read_sums_later(session, subtree_ids(session, [unit.id]), (period, period.shifted(1)),
                        instrument_for(instrument_key), weighted=weighted, min_cell=settings["min_cell"])
        if not held:
            _read_tables_later(unit, league_root=settings["league_root"], instrument_key=instrument_key,
                               period=period, weighted=weighted, options=options)
        return hit
    report = compute_unit_indices(session, unit, instrument_key, period, weighted=weighted, **options)
    # Every page of a viewer under this tree asks which units it hides: decided once, kept (and shared
    # between processes) with the report in `IndexReport.derived`; the trend's periods whose counts did
    # not change keep the decisions of the last report this process holds (one from the shared store
    # would cost more to read than the decisions: a province's report is 20 MB).
    hidden_units(report)
    hidden_units_by_period(report, _REPORTS.latest(key, shared_too=False))
    _REPORTS.put(key, version, report)
    return report


def _read_tables_later(unit: Unit, *, league_root: Unit | None, instrument_key: str, period: Period,
                       weighted: bool, options: IndexOptions) -> None:
    """Once the response is sent (`index_cache.prepare_later`), read into this process the period tables
    and the change of a report it has just taken from the shared store. After a new response the report
    is computed from them: eleven of a trend's twelve tables unchanged, the twelfth and the change
    updated from their last versions; read from the store then, they were 11-20 ms of the first view
    after the response. Nothing is computed that the store holds (the same versions)."""
    unit_id, root_id = unit.id, None if league_root is None else league_root.id

    def read(later: Session) -> None:
        found, root = later.get(Unit, unit_id), None if root_id is None else later.get(Unit, root_id)
        settings: IndexOptions = {**options, "league_root": root}
        if found is not None:
            compute_unit_indices(later, found, instrument_key, period, weighted=weighted, **settings)

    prepare_later(read)


def compute_unit_indices(session: Session, unit: Unit, instrument_key: str, period: Period, *,
                         weighted: bool, **options: Unpack[IndexOptions]) -> IndexReport:
    """`unit_indices` without the report cache (each period's table is still cached)."""
    settings = _settings(options)
    alpha, default_target, half_width = settings["alpha"], settings["default_target"], settings["half_width"]
    league_root, min_cell = settings["league_root"], settings["min_cell"]
    instrument = instrument_for(instrument_key)
    definition = IndexDefinition.from_instrument(instrument)
    ids = subtree_ids(session, [unit.id])
    names = unit_names(session, ids)
    parents = unit_parent_map(session, unit.id)
    report_target, target_arg = target_argument(session, unit, parents, instrument.id, period.first.year,
                                                default_target)
    window = [period.shifted(i) for i in reversed(range(TREND_LENGTH[period.kind]))]
    # Each period's table counts its months' responses under each month's version, for every unit
    # (`response_counts`), and is kept under its subtree's: the stamps of the whole window are read at
    # once, not one query per month.
    data_version(session, None, window[0].first, period.last)
    data_version(session, ids, window[0].first, period.last)
    # The league of another unit's children (the parent's, whose table the viewer's decision has read)
    # is ranked in a thread while this unit's tables are computed (or was, from `rank_ahead`); a unit's
    # own league needs its table.
    pending = rank_ahead(session, unit, instrument_key, period, weighted=weighted, **options)
    above = targets_above(session, instrument, default_target)
    tables = [period_table(session, unit, ids, parents, p, instrument, definition, weighted, target_arg,
                           alpha, min_cell, overall_only=p != period, above=above) for p in window]
    this = tables[-1]
    current = this.table
    trend = pd.concat([_overall_rows(t.table) for t in tables if len(t.table)]
                      or [pd.DataFrame(columns=EMPTY_COLUMNS)], ignore_index=True)
    previous = period.shifted(1)

    changes = overall_changes(session, ids, parents, period, previous, instrument, definition, trend,
                              weighted=weighted, min_cell=min_cell, alpha=alpha, cache_key=(unit.id,),
                              above=[node.id for node in ancestors_and_self(unit)][1:])
    frame = frame_table(session, ids, period.first, period.last)
    served = int(frame["served"].sum()) if not frame.empty else None
    overall = current[(current["domain"] == unit.code) & (current["stat_type"] == "overall_index")]
    needed = _needed(overall, this.responses, served, half_width, alpha)
    league, scope = (None, "")
    if league_root is not None:
        league, scope = (pending or _league(session, league_root, instrument_key, period, weighted,
                                            settings)).result()
    return IndexReport(
        unit_code=unit.code, root_code=unit.code, instrument_key=instrument.key,
        formula=definition.formula, period=period, previous=previous, weighted=this.weighted,
        weighting=this.weighting, alpha=alpha, target=report_target, estimates=current, trend=trend,
        league=league, league_scope=scope, changes=changes, collapsed=this.collapsed,
        min_cell=min_cell,
        league_scope_name=(league_root.name_vi, league_root.name_en or league_root.name_vi) if league_root
        else ("", ""), excluded=this.excluded,
        served=served, responses=this.responses, needed=needed, needed_half_width=half_width, names=names,
        parents=parents,
    )


def rank_ahead(session: Session, unit: Unit, instrument_key: str, period: Period, *, weighted: bool,
               **options: Unpack[IndexOptions]) -> PendingLeague | None:
    """Start ranking the league `unit_indices` will show for `unit` when it is another unit's children
    (`options`' league root not the unit itself), and return it; a page may compute something else
    before asking for its report, which then takes this one (`league.unit_league`)."""
    settings = _settings(options)
    root = settings["league_root"]
    if root is None or root.id == unit.id:
        return None
    return _league(session, root, instrument_key, period, weighted, settings)


def _league(session: Session, root: Unit, instrument_key: str, period: Period, weighted: bool,
            settings: IndexOptions) -> PendingLeague:
    instrument = instrument_for(instrument_key)
    return unit_league(session, root, instrument, IndexDefinition.from_instrument(instrument), period,
                       weighted=weighted, alpha=settings["alpha"], min_cell=settings["min_cell"],
                       viewer_hidden=settings["league_hidden"], default_target=settings["default_target"])


def unit_target(session: Session, unit: Unit, instrument_key: str, period: Period, default_target: float
                ) -> float:
    """The target `unit`'s report is judged by (`IndexReport.target`), without the report."""
    instrument = instrument_for(instrument_key)
    return target_argument(session, unit, unit_parent_map(session, unit.id), instrument.id,
                           period.first.year, default_target)[0]


def _overall_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The overall index rows of a period's table; a past period's table holds nothing else, and taking
    its rows again would copy every text column."""
    overall = table["stat_type"] == "overall_index"
    return table if bool(overall.all()) else table[overall]


def _needed(overall: pd.DataFrame, n: int, served: int | None, half_width: float, alpha: float) -> int | None:
    """Responses still needed for the overall index's interval to reach ± `half_width`.

    The design effect is the one the shown interval used: its effective size is min(design n_eff,
    floor) (analysis.intervals.wilson_conservative_interval), so deff = respondents / that size. An
    average of criteria is usually more precise than one yes/no share (deff < 1); Kish's deff of the
    weights alone would plan for a yes/no share. Kish's deff remains the fallback where the interval's
    size is not finite (e.g. SE 0).
    """
    p = DEFAULT_PLANNING_P
    deff = 1.0
    if not overall.empty:
        row = overall.iloc[0]
        est, se, respondents = float(row["est"]), float(row["se"]), float(row["n"])
        if math.isfinite(est) and 0 < est < 1:
            p = est
        if math.isfinite(float(row["deff_kish"])) and float(row["deff_kish"]) > 0:
            deff = float(row["deff_kish"])
        used = min(p * (1 - p) / se**2 if se > 0 else math.inf, float(row["n_eff_floor"]))
        if math.isfinite(est) and 0 < est < 1 and math.isfinite(used) and used > 0 and respondents > 0:
            deff = respondents / used
    plan = responses_needed(half_width, p=p, confidence=1 - alpha, deff=deff,
                            population=float(served) if served else None)
    return max(0, plan.responses - n)
