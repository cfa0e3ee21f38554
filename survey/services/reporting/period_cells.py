"""A period's index aggregate cells as its table reads them: weighted, with each unit's digest.

A quarter's or a year's cells are its months' cells side by side. Each month is weighted on its own
(`month_weights`: the collapse rule merges cells within a unit's month), so a month's cells, their
weights and its units' digests are kept per process under that month's data version, and after a new
response a year puts eleven kept months beside the one computed again: a province's year is 9,000
cells, which were made into a frame, weighed and digested again on every view after a response (30 ms).

Whenever a month cannot stand on its own (`month_weights`) the period is weighed whole, as before. The
cells come in the order of the aggregate rows (unit, month, field); a unit's digest is the same either
way (`table_update.unit_digests`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from analysis.weights import CellWeights
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.month_weights import month_part, period_cell_weights
from survey.services.reporting.period_weights import WEIGHTED_METHOD
from survey.services.reporting.periods import Period, month_spans
from survey.services.reporting.table_update import combined_digests, month_digests, unit_digests

# unit id, unit code, month, field, respondents, sums, and a digest of the sums (`table_update.sums_digest`)
AggregateRow = tuple[int, str, str, str, int, bytes, bytes]
CELL_COLUMNS = ["unit", "month", "field", "respondents"]


@dataclass(frozen=True)
class WeightedCells:
    """The cells of a period's aggregate rows, in their order: unit, month, field, respondents and, when
    weighted, weight and calibration_cell; how they were weighted, and each unit's digest."""

    cells: pd.DataFrame
    weighting: str  # the statement of how the figures are weighted (`period_weights`)
    weighted: bool
    collapsed: pd.DataFrame  # the post-stratification's merged cells (`CellWeights.collapsed`)
    digests: dict[str, int]  # unit code -> `table_update.unit_digests`


def weighted_cells(session: Session, rows: Sequence[AggregateRow], ids: Collection[int], period: Period,
                   instrument_key: str, weighted: bool, min_cell: int) -> WeightedCells:
    """The cells of `rows` (the period's aggregate rows of subtree `ids`), weighted when `weighted`."""
    if weighted and rows and len(month_spans(period.first, period.last)) > 1:
        found = _by_month(session, rows, ids, period, instrument_key, min_cell)
        if found is not None:
            return found
    cells = _frame(rows)
    result, weighting = period_cell_weights(session, cells[["unit", "field", "month", "respondents"]], ids,
                                            period, instrument_key, weighted, min_cell)
    if result is not None:
        _weigh(cells, result)
    blobs = [row[6] for row in rows]
    return WeightedCells(cells, weighting, result is not None,
                         pd.DataFrame() if result is None else result.collapsed,
                         unit_digests(cells, blobs, result is not None))


def _frame(rows: Sequence[AggregateRow]) -> pd.DataFrame:
    return pd.DataFrame([(code, month, field, n) for _, code, month, field, n, *_ in rows],
                        columns=CELL_COLUMNS)


def _weigh(cells: pd.DataFrame, result: CellWeights) -> None:
    leaves = pd.MultiIndex.from_frame(cells[["unit", "month", "field"]])
    cells["weight"] = result.weight.reindex(leaves).to_numpy()
    cells["calibration_cell"] = result.cell.reindex(leaves).to_numpy()


@dataclass(frozen=True)
class _Month:
    """One month's weighted cells, or None when the period must be weighed whole."""

    cells: pd.DataFrame | None
    collapsed: pd.DataFrame
    digests: dict[tuple[str, str], bytes]  # (unit code, month) -> digest of the unit's cells this month
    unit_ids: npt.NDArray[np.int64]  # of the cells: what puts a period's months back in the rows' order


def _by_month(session: Session, rows: Sequence[AggregateRow], ids: Collection[int], period: Period,
              instrument_key: str, min_cell: int) -> WeightedCells | None:
    positions: dict[str, list[int]] = {}
    for position, row in enumerate(rows):
        positions.setdefault(row[2], []).append(position)
    url, subtree = str(session.get_bind().engine.url), frozenset(ids)
    months: list[tuple[str, _Month]] = []
    for first, last in month_spans(period.first, period.last):
        label = first.strftime("%Y-%m")
        key = (url, subtree, label, instrument_key, min_cell)
        version = data_version(session, subtree, first, last)
        found = _MONTHS.get(key, version)
        if found is None:
            found = _month(session, [rows[i] for i in positions.get(label, [])], ids, first, last,
                           instrument_key, min_cell)
            _MONTHS.put(key, version, found)
        if found.cells is None:
            return None
        months.append((label, found))
    weighed = [month for _label, month in months if month.cells is not None and len(month.cells)]
    frames, offset = [], 0
    for month in weighed:
        assert month.cells is not None
        # each month's calibration cells numbered after the previous months' (`month_weights`)
        frames.append(month.cells.assign(calibration_cell=month.cells["calibration_cell"] + offset))
        offset += int(month.cells["calibration_cell"].max()) + 1
    # the rows' order (unit, month, field): months side by side, then each unit's months together
    order = np.argsort(np.concatenate([month.unit_ids for month in weighed]), kind="stable")
    cells = pd.concat(frames, ignore_index=True).take(order).reset_index(drop=True)
    reports = [month.collapsed for month in weighed if not month.collapsed.empty]
    # as `month_weights` puts the months' reports together: the first month's (empty) when none merged
    collapsed = (pd.concat(reports, ignore_index=True) if reports
                 else weighed[0].collapsed if weighed else pd.DataFrame())
    return WeightedCells(cells, WEIGHTED_METHOD, True, collapsed,
                         combined_digests([month.digests for _label, month in months]))


def _month(session: Session, rows: list[AggregateRow], ids: Collection[int], first: date, last: date,
           instrument_key: str, min_cell: int) -> _Month:
    """The month first..last of a period weighed month by month (`month_weights.month_part`)."""
    cells = _frame(rows)
    counts = cells[["unit", "field", "month", "respondents"]] if rows else None
    kind, result = month_part(session, counts, ids, first, last, instrument_key, min_cell)
    unit_ids = np.array([row[0] for row in rows], dtype=np.int64)
    if kind == "whole":
        return _Month(None, pd.DataFrame(), {}, unit_ids)
    if result is None:  # no respondents and no frame: nothing to add
        return _Month(cells, pd.DataFrame(), {}, unit_ids)
    _weigh(cells, result)
    return _Month(cells, result.collapsed, month_digests(cells, [row[6] for row in rows], True), unit_ids)


# Process-local: a month of a province's cells is about a thousand rows.
_MONTHS: VersionedCache[_Month] = VersionedCache(256)
