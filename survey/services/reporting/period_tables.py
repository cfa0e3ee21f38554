"""One period's table of a unit subtree, cached until its data change, and started from what is already
computed: the same table on older data (`table_update`), or the table of a tree that contains it.

A unit page shows its subtree's twelve months; the province's dashboard, the alerts job or the page
of a unit above has often computed the same months for a tree containing it. A domain's row reads only
its own units' cells (strata are units, weighting cells lie within a unit), so the subtree's rows are
the larger table's when every one of its units has the same cells, weights, targets and children
there: `table_update.narrowed` checks exactly that from the two tables' inputs, else the subtree's
table is computed. When the larger table was computed on the data as they are now (a unit page after
a new response: the province's, for the viewer's small-cell decision, moments before), its inputs are
the subtree's too, and not an aggregate row is read (`narrowed_estimates`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import pandas as pd
from sqlalchemy.orm import Session

from analysis.weights import DEFAULT_MIN_CELL
from instruments.index import IndexDefinition
from instruments.model import Instrument
from survey.models import Unit
from survey.services.organisation.assignments import ancestors_and_self
from survey.services.organisation.targets import effective_targets
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.index_source import (
    PeriodEstimates,
    Source,
    Targets,
    period_estimates,
    period_response_counts,
)
from survey.services.reporting.period_weights import CHOSEN_UNWEIGHTED
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import unit_parent_map
from survey.services.reporting.table_update import narrowed, table_inputs
from survey.services.staff.access import subtree_ids

MIN_N = 10
PERIOD_TABLES: VersionedCache[PeriodEstimates] = VersionedCache(512, name="period-tables")
# The targets argument of a unit above, by (unit, year): part of the key of that unit's period tables.
Above = Callable[[Unit, int], float | dict[str, float]]


def target_argument(session: Session, unit: Unit, parents: dict[str, str | None], instrument_id: str,
                    year: int, default: float) -> tuple[float, float | dict[str, float]]:
    """The unit's own target, and the targets of its subtree as its tables are computed with them: a
    single number when every unit has the same (much faster in analysis than a mapping), else a
    mapping by unit code with the total's. Targets in force, own or inherited; proposals never count."""
    found = effective_targets(session, unit, parents, instrument_id, year, default)
    targets = {code: target.value for code, target in found.items()}
    own = targets[unit.code]
    return own, own if len(set(targets.values())) == 1 else {**targets, "total": own}


def table_key(session: Session, root: Unit, period: Period, instrument: Instrument, weighted: bool,
              targets: Targets, alpha: float, min_cell: int, overall_only: bool) -> tuple[object, ...]:
    """What a period table is cached under (with its data version)."""
    target_key = tuple(sorted(targets.items())) if isinstance(targets, dict) else targets
    return (str(session.get_bind().engine.url), root.id, period.label, instrument.key, weighted, alpha,
            target_key, min_cell, overall_only)


def targets_above(session: Session, instrument: Instrument, default_target: float) -> Above:
    """The targets argument of each unit above (`target_argument`), read once per (unit, year) for the
    periods of one report."""
    known: dict[tuple[int, int], float | dict[str, float]] = {}

    def targets_of(unit: Unit, year: int) -> float | dict[str, float]:
        if (unit.id, year) not in known:
            parents = unit_parent_map(session, unit.id)
            _, known[unit.id, year] = target_argument(session, unit, parents, instrument.id, year,
                                                      default_target)
        return known[unit.id, year]

    return targets_of


def period_table(session: Session, root: Unit, ids: set[int], parents: dict[str, str | None], period: Period,
                 instrument: Instrument, definition: IndexDefinition, weighted: bool, targets: Targets,
                 alpha: float, min_cell: int = DEFAULT_MIN_CELL, *, overall_only: bool = False,
                 above: Above | None = None) -> PeriodEstimates:
    """Indices of one period (`index_source.period_estimates`), cached until that period's responses,
    the frames or targets change. `overall_only`: the overall index rows alone (a trend's past month:
    the sparkline, the trend chart and the change read nothing else), about 1/57 of the table.
    `above`: look for the table of a unit above to take the rows from (the module's docstring).

    Periods are computed apart (not as cuts of one call) so that a new response recomputes only its
    own period: weights are per unit x month anyway, and the estimates of a period use its rows only.
    """
    def key_of(unit: Unit, unit_targets: Targets) -> tuple[object, ...]:
        return table_key(session, unit, period, instrument, weighted, unit_targets, alpha, min_cell,
                         overall_only)

    key = key_of(root, targets)
    version = data_version(session, ids, period.first, period.last)
    hit = PERIOD_TABLES.get(key, version)
    if hit is not None:
        return hit
    keys_above = [] if above is None else [(unit, key_of(unit, above(unit, period.first.year)))
                                           for unit in list(ancestors_and_self(root))[1:]]
    # a unit above has this period's table on these very data: its rows are ours
    larger = _current_table_above(session, keys_above, period)
    found = None if larger is None else narrowed_estimates(session, larger, ids, parents, period, instrument,
                                                           targets)
    if found is not None:
        PERIOD_TABLES.put(key, version, found)
        return found
    start = PERIOD_TABLES.latest(key)
    if start is None:  # the last table of the nearest unit above that has one, whatever its data version:
        # its inputs say whether its rows still hold (`index_source.period_estimates`)
        start = next((table for _, key_above in keys_above
                      if (table := PERIOD_TABLES.latest(key_above)) is not None and table.inputs is not None),
                     None)
    result = period_estimates(session, ids, parents, period, instrument, definition, weighted=weighted,
                              targets=targets, alpha=alpha, min_cell=min_cell, min_n=MIN_N,
                              stat_types=("overall_index",) if overall_only else None, previous=start)
    PERIOD_TABLES.put(key, version, result)
    return result


def narrowed_estimates(session: Session, larger: PeriodEstimates, ids: Collection[int],
                       parents: Mapping[str, str | None], period: Period, instrument: Instrument,
                       targets: Targets) -> PeriodEstimates | None:
    """`period_estimates` of subtree `ids` taken from `larger`, the same period's table of a tree that
    contains it computed from the aggregates on the data as they are now, or None (then compute it).

    The subtree's cells are among those `larger` read, weighed as they were there (a unit's weights and
    calibration cells are its own: `period_cells`), so its units' digests are `larger`'s, and its rows
    are `larger`'s when its targets and tree agree (`table_update.narrowed`). A subtree without
    respondents is left to the computation, which says how an empty table is weighted, and so is a subtree
    of a table that could not be weighted (its own cells may be)."""
    if larger.inputs is None or not (larger.weighted or larger.weighting == CHOSEN_UNWEIGHTED):
        return None
    counts = period_response_counts(session, ids, period, instrument)
    responses = sum(counts.valid.values())
    codes = set(parents)
    inputs = table_inputs({unit: digest for unit, digest in larger.inputs.units.items() if unit in codes},
                          parents, targets, larger.inputs.weighted)
    table = narrowed(larger.table, larger.inputs, inputs) if responses else None
    if table is None:
        return None
    collapsed = larger.collapsed
    if "unit" in collapsed.columns:  # a weighted table's merged cells: the subtree's, as computed alone
        kept = collapsed[collapsed["unit"].isin(list(codes))].reset_index(drop=True)
        collapsed = kept if len(kept) else pd.DataFrame(columns=collapsed.columns)
    return PeriodEstimates(table, larger.weighted, larger.weighting, responses, counts.excluded,
                           Source.AGGREGATES, collapsed, inputs)


def _current_table_above(session: Session, keys_above: list[tuple[Unit, tuple[object, ...]]],
                         period: Period) -> PeriodEstimates | None:
    """The table of this period that the nearest unit above (`keys_above`: each with its table's key,
    nearest first) holding one in this process has computed on the data as they are now (after a new
    response, the province's table this request has just computed for the unit page's benchmarks), or
    None. The subtree's cells are then the ones that table was computed from, so its units' digests are
    theirs, and no aggregate row needs to be read or weighed."""
    for unit, key in keys_above:
        if PERIOD_TABLES.latest(key, shared_too=False) is None:
            continue
        found = PERIOD_TABLES.get(key, data_version(session, subtree_ids(session, [unit.id]), period.first,
                                                    period.last))
        if found is not None and found.inputs is not None:
            return found
    return None
