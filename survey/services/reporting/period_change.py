"""The overall index's change against the previous period, with the covariance of the two periods.

The unit page, the PDF, the XLSX and the significant-drop alerts all read this one table, so they say
the same change, interval and test. Both periods' respondents go into one design (each unit a stratum
over both periods, each response its own primary unit), weighted as each period's own table is: the
post-stratification cells are per unit x field x month, so the two periods' calibration models are
disjoint blocks of one model. `analysis.period_contrast.change_with_covariance` then gives the
difference with ``V(d) = V1 + V0 - 2 C``: the covariance the two periods' estimates get from sharing
each unit's stratum (R's ``svycontrast`` on one design; tests/analysis/test_period_contrast.py).
When `index_source` reads both periods from the index aggregates, the same change comes from their
unit statistics (`analysis.unit_change`), without loading a respondent.

The test is two-sided (a change may go either way), a t test on the smaller of the two periods'
design degrees of freedom; the verdict against a target is the one-sided test (`analysis.verdicts`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from analysis.calibration import stacked_period_weights
from analysis.change import Direction
from analysis.domains import TOTAL
from analysis.period_contrast import change_with_covariance
from analysis.unit_change import change_from_unit_statistics
from instruments.index import IndexDefinition
from instruments.model import Instrument
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.index_source import period_unit_statistics
from survey.services.reporting.period_weights import respondent_weights
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import load_respondents_cached
from survey.services.reporting.table_update import TableInputs, domain_order, domains_to_update, spliced
from survey.services.staff.access import subtree_ids

CHANGE_COLUMNS = ["est1", "est0", "ci_lo1", "ci_hi1", "diff", "se", "df", "lo", "hi", "p_value",
                  "significant", "direction"]
PERIOD_COLUMN = "_period"


def overall_changes(session: Session, ids: set[int], parents: dict[str, str | None], period: Period,
                    previous: Period, instrument: Instrument, definition: IndexDefinition,
                    trend: pd.DataFrame, *, weighted: bool, min_cell: int, alpha: float,
                    cache_key: tuple[object, ...] | None = None, above: Sequence[int] = ()) -> pd.DataFrame:
    """Overall-index change ``period - previous`` per domain (unit code) shown in both periods' trend.

    A domain whose row is suppressed in either period (too few responses: NaN estimate) or has no
    design degrees of freedom gets direction ``not_comparable`` and NaN figures; a domain absent from
    either period's trend has no row. Columns: `CHANGE_COLUMNS`, indexed by domain.

    Both periods are weighted as their own tables are (`weighted`, `min_cell`: `period_weights`).
    `cache_key` names everything else the result depends on (the subtree's root); with it the table is
    reused, per process, while the two periods' responses and frames are unchanged: the dashboard, the
    unit page, the reports and the alerts job ask for the same change under different report keys.
    `above`: the ids of the units above the subtree's root `cache_key[0]`, nearest first: a change one of
    them has computed in this process on the data as they are now holds this subtree's (`_change_above`).
    """
    url, rest = str(session.get_bind().engine.url), (period.label, previous.label, instrument.key, weighted,
                                                      min_cell, alpha)
    key = None if cache_key is None else (url, *cache_key, *rest)
    version = data_version(session, ids, previous.first, period.last) if key is not None else ()
    if key is not None and (hit := _CHANGES.get(key, version)) is not None:
        return hit.table
    larger = None if key is None else _change_above(session, [(url, unit_id, *rest) for unit_id in above],
                                                    above, period, previous, weighted)
    computed = _changes(session, ids, parents, period, previous, instrument, definition, trend,
                        (weighted, min_cell), alpha, None if key is None else _CHANGES.latest(key), larger)
    if key is not None:
        _CHANGES.put(key, version, computed)
    return computed.table


@dataclass(frozen=True)
class ComputedChange:
    """A change table, with the joint change of every domain it was made from and what each period's
    cells were (`table_update.TableInputs`, current then previous): the next computation, after a new
    response, starts from it. No joint change when no domain was comparable; no inputs when it was
    computed from the responses."""

    table: pd.DataFrame
    joint: pd.DataFrame | None = None
    inputs: tuple[TableInputs, TableInputs] | None = None


_CHANGES: VersionedCache[ComputedChange] = VersionedCache(128, name="changes")


def _change_above(session: Session, keys: list[tuple[object, ...]], above: Sequence[int], period: Period,
                  previous: Period, weighted: bool) -> ComputedChange | None:
    """The change that the nearest unit of `above` (its key in `keys`) holding one in this process has
    computed on the data as they are now (a unit page after a new response: its province's, computed
    moments before for the benchmarks), when it can stand for this subtree's: from the aggregates in both
    periods, weighted in both when weighting is asked (a table that could not be weighted may hide a
    subtree that can). Each domain's change reads its own units' cells only, so the subtree's domains
    have the same joint change there (`_joint_change`)."""
    for larger_key, unit_id in zip(keys, above, strict=True):  # `overall_changes`' key of each unit above
        if _CHANGES.latest(larger_key, shared_too=False) is None:
            continue
        version = data_version(session, subtree_ids(session, [unit_id]), previous.first, period.last)
        found = _CHANGES.get(larger_key, version)
        if (found is not None and found.joint is not None and found.inputs is not None
                and (not weighted or all(inputs.weighted for inputs in found.inputs))):
            return found
    return None


def _changes(session: Session, ids: set[int], parents: dict[str, str | None], period: Period,
             previous: Period, instrument: Instrument, definition: IndexDefinition, trend: pd.DataFrame,
             weighting: tuple[bool, int], alpha: float, last: ComputedChange | None,
             larger: ComputedChange | None = None) -> ComputedChange:
    # Column by column: a province's change is a thousand domains, and a frame joined, converted and
    # assigned cell by cell took as long as the joint change itself.
    # the columns read, before the rows: a province's trend is 12,000 rows of a dozen text columns, and
    # taking every column's rows cost more than the rest of the table
    figures_of = trend[["period", "domain", "est", "se", "df", "ci_lo", "ci_hi"]]
    now = figures_of[figures_of["period"] == period.label]
    before = figures_of[figures_of["period"] == previous.label]
    at = pd.Index(before["domain"]).get_indexer(now["domain"])  # the domains of both, in `now`'s order
    shown = at >= 0
    index = pd.Index(now["domain"].to_numpy()[shown], name="domain")
    if index.empty:
        return ComputedChange(pd.DataFrame(columns=CHANGE_COLUMNS))

    def numbers(frame: pd.DataFrame, column: str, rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_]
                ) -> npt.NDArray[np.float64]:
        values = np.asarray(pd.to_numeric(frame[column], errors="coerce"), dtype=np.float64)
        return np.asarray(values[rows], dtype=np.float64)

    figures = {f"{column}{suffix}": numbers(frame, column, rows)
               for column in ("est", "se", "df", "ci_lo", "ci_hi")
               for frame, rows, suffix in ((now, shown, "1"), (before, at[shown], "0"))}
    needed = np.column_stack([figures[c] for c in ("est1", "se1", "df1", "est0", "se0", "df0")])
    usable = ~np.isnan(needed).any(axis=1) & (figures["df1"] > 0) & (figures["df0"] > 0)
    columns: dict[str, np.ndarray] = {name: np.full(len(index), np.nan) for name in CHANGE_COLUMNS}
    columns.update(est1=figures["est1"], est0=figures["est0"], ci_lo1=figures["ci_lo1"],
                   ci_hi1=figures["ci_hi1"], significant=np.zeros(len(index), dtype=bool),
                   direction=np.full(len(index), Direction.NOT_COMPARABLE.value, dtype=object))
    if not usable.any():
        return ComputedChange(pd.DataFrame(columns, index=index))
    if larger is not None and larger.joint is not None:  # `_change_above`: this subtree's rows are there
        # kept without inputs: the next change of this subtree is computed, or taken from above again
        joint, inputs = larger.joint[larger.joint["domain"].isin(list(parents))], None
    else:
        joint, inputs = _joint_change(session, ids, parents, period, previous, instrument, definition,
                                      weighting, alpha, last)
    rows = joint[joint["stat_type"] == "overall_index"]
    found = pd.Index(rows["domain"]).get_indexer(index)
    filled = usable & (found >= 0)
    picked = found[filled]
    for column in ("diff", "se", "df", "lo", "hi", "p_value"):
        columns[column][filled] = np.asarray(rows[column], dtype=np.float64)[picked]
    direction = np.asarray(rows["direction"], dtype=object)[picked]
    columns["direction"][filled] = direction
    columns["significant"][filled] = np.isin(direction, [Direction.UP.value, Direction.DOWN.value])
    return ComputedChange(pd.DataFrame(columns, index=index), joint, inputs)


def _joint_change(session: Session, ids: set[int], parents: dict[str, str | None], period: Period,
                  previous: Period, instrument: Instrument, definition: IndexDefinition,
                  weighting: tuple[bool, int], alpha: float, last: ComputedChange | None
                  ) -> tuple[pd.DataFrame, tuple[TableInputs, TableInputs] | None]:
    """`change_with_covariance` over both periods' respondents, weighted as each period's own table:
    from the aggregates' cell sums when both tables are read from them (starting from `last`), else
    from the responses. With what each period's cells were, when read from the aggregates."""
    weighted, min_cell = weighting
    read_now, read_before = (period_unit_statistics(session, ids, p, instrument, weighted=weighted,
                                                    min_cell=min_cell) for p in (period, previous))
    if read_now is None or read_before is None:
        return _responses_change(session, ids, parents, period, previous, instrument, definition, weighting,
                                 alpha), None
    (now, current), (before, earlier) = read_now, read_before

    def joint_of(domains: Collection[str] | None) -> pd.DataFrame:
        return change_from_unit_statistics(current, earlier, definition, parents=parents,
                                           lonely_psu="adjust", alpha=alpha, stat_types=("overall_index",),
                                           domains=domains)

    inputs = (TableInputs(now.digests, parents, {}, now.weighted),
              TableInputs(before.digests, parents, {}, before.weighted))
    return _updated(last, inputs, parents, joint_of), inputs


def _updated(last: ComputedChange | None, inputs: tuple[TableInputs, TableInputs],
             parents: dict[str, str | None],
             joint_of: Callable[[Collection[str] | None], pd.DataFrame]) -> pd.DataFrame:
    """The joint change of every domain: `last`'s, with the domains above a unit whose cells moved in
    either period computed again (a stratum is one unit, so no other domain's change can move: see
    `table_update`; a unit's first or last cells included), or all of it when the tree or the weighting
    differ."""
    if last is not None and last.joint is not None and last.inputs is not None:
        moved = [domains_to_update(old, new, parents) for old, new in zip(last.inputs, inputs, strict=True)]
        if moved[0] is not None and moved[1] is not None:
            redo = moved[0] | moved[1]
            if not redo:
                return last.joint
            redo.add(TOTAL)
            found = spliced(last.joint, joint_of(redo), redo,
                            domain_order(_units(last.inputs), _units(inputs), parents))
            if found is not None:
                return found
    return joint_of(None)


def _units(inputs: tuple[TableInputs, TableInputs]) -> set[str]:
    """The units with cells in either period: those a change lists its domains by."""
    return set(inputs[0].units) | set(inputs[1].units)


def _responses_change(session: Session, ids: set[int], parents: dict[str, str | None], period: Period,
                      previous: Period, instrument: Instrument, definition: IndexDefinition,
                      weighting: tuple[bool, int], alpha: float) -> pd.DataFrame:
    """`change_with_covariance` over both periods' respondents loaded from the responses."""
    weighted, min_cell = weighting
    parts, results = [], []
    for p in (period, previous):
        data = load_respondents_cached(session, ids, p.first, p.last, instrument).frame
        parts.append(data.assign(**{PERIOD_COLUMN: p.label}))
        results.append(respondent_weights(session, data, ids, p.first, p.last, weighted, min_cell)[0])
    data = pd.concat(parts, ignore_index=True)
    weights, calibration = stacked_period_weights(data.index, [len(part) for part in parts], results)
    return change_with_covariance(data, definition, unit_col="unit", period_col=PERIOD_COLUMN,
                                  current=period.label, previous=previous.label, parents=parents,
                                  weights=weights, calibration=calibration, lonely_psu="adjust", alpha=alpha)

