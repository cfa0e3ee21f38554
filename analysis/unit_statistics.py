"""Each unit's own sufficient statistics, from its cells' integer sums: the rows every domain of a table
(`analysis.sums_tables.indices_from_unit_statistics`) and of a change between two periods
(`analysis.unit_change`) is summed from.

Under the default design of `analysis.cell_sums` a stratum is one unit, so the (stratum, domain)
statistics of a domain are its units' own statistics, and a unit's statistics read only its own
cells. Kept unit by unit, they let a table or a change after a few units' cells moved compute those
units again and sum: `updated` puts the fresh units' rows among the kept ones. Each row is the same
numbers whichever other units it was computed with, and a domain sums its units in the same order, so
every figure is the one computed from all the cells at once, to the last bit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.cell_sums import Int64Array, SummedCells, SumsLayout, stratum_unit_rows
from analysis.data import AnalysisInputError, FloatArray


@dataclass(frozen=True)
class UnitStatistics:
    """The sufficient statistics of each unit with respondents, one row per unit.

    Attributes
    ----------
    layout : SumsLayout
        The layout of the sums the statistics were computed from.
    units : tuple of str
        Unit labels, sorted.
    respondents : numpy.ndarray, shape (U,)
        Respondents per unit (the PSUs of its stratum).
    arrays : tuple of numpy.ndarray
        Per unit, the arrays `analysis.cell_sums.stratum_unit_rows` gives (weighted totals, PSU
        cross-products, extra ratios' cross-products, PSUs present, rows, rows with a positive weight,
        sums of weights and of squared weights).
    calibrated : bool
        Whether the cross-products are those of calibrated residuals (post-stratified cells), whose
        stratum totals are zero.
    """

    layout: SumsLayout
    units: tuple[str, ...]
    respondents: FloatArray
    arrays: tuple[np.ndarray, ...]
    calibrated: bool

    @property
    def totals(self) -> FloatArray:
        """Weighted totals of the `analysis.sufficient.Layout` columns, shape (U, n_totals)."""
        return self.arrays[0]

    @property
    def cross(self) -> FloatArray:
        """PSU cross-products of ``[w s, w v]`` (of the calibrated residuals when `calibrated`)."""
        return self.arrays[1]

    @property
    def rows_positive(self) -> FloatArray:
        """Respondents with a positive weight in each denominator, shape (U, Q)."""
        return self.arrays[5]

    def variance_totals(self) -> FloatArray:
        """Stratum totals of the variables whose cross-products `cross` holds: zero when calibrated."""
        return np.zeros_like(self.totals) if self.calibrated else self.totals


def unit_statistics(layout: SumsLayout, cells: pd.DataFrame, sums: Int64Array, *,
                    weighted: bool) -> UnitStatistics:
    """Each unit's statistics from its cells.

    Parameters
    ----------
    layout : SumsLayout
    cells : pandas.DataFrame
        One row per cell: ``unit`` and, when `weighted`, ``weight`` (each respondent's) and
        ``calibration_cell`` (the post-stratification cell after collapsing, within one unit), as in
        `analysis.sums_tables.indices_from_sums`.
    sums : numpy.ndarray of int64, shape (len(cells), layout.length)
    weighted : bool
        Post-stratified cells (their calibration is linearized), else unweighted.

    Returns
    -------
    UnitStatistics
        Cells without respondents are left out; so is a unit without any.

    Raises
    ------
    AnalysisInputError
        On a missing column, an empty unit, or sums of another shape.
    """
    for name in ["unit", *(["weight", "calibration_cell"] if weighted else [])]:
        if name not in cells.columns:
            raise AnalysisInputError(f"missing cell column: {name}")
    if sums.shape != (len(cells), layout.length):
        raise AnalysisInputError(f"sums have shape {sums.shape}, expected ({len(cells)}, {layout.length})")
    keep = sums[:, 0] > 0
    kept, sums = cells.loc[keep], sums[keep]
    labels = [str(u) for u in kept["unit"].tolist()]
    units = tuple(sorted(set(labels)))
    if kept["unit"].isna().any() or any(not unit.strip() for unit in units):
        raise AnalysisInputError("the unit column has empty values")
    position = {unit: i for i, unit in enumerate(units)}
    stratum = np.array([position[u] for u in labels], dtype=np.intp)
    summed = SummedCells(
        sums=sums, unit=stratum,
        weight=kept["weight"].to_numpy(np.float64) if weighted else np.ones(len(kept)),
        calibration_cell=kept["calibration_cell"].to_numpy(np.intp) if weighted else None)
    arrays = stratum_unit_rows(layout, summed, stratum)[2] if len(kept) else _no_rows(layout)
    respondents = np.bincount(stratum, weights=sums[:, 0], minlength=len(units)).astype(np.float64)
    return UnitStatistics(layout, units, respondents, tuple(arrays), weighted)


def updated(kept: UnitStatistics, fresh: UnitStatistics, units: Collection[str]) -> UnitStatistics:
    """The statistics of `units`: `fresh`'s rows for its units, `kept`'s for the others.

    Parameters
    ----------
    kept, fresh : UnitStatistics
        The statistics computed before, and those of the units whose cells moved since.
    units : collection of str
        The units with respondents now: each is in `fresh` or `kept`.

    Returns
    -------
    UnitStatistics

    Raises
    ------
    AnalysisInputError
        When the two were computed with other layouts or weighting, or a unit is in neither.
    """
    if kept.layout != fresh.layout or kept.calibrated != fresh.calibrated:
        raise AnalysisInputError("unit statistics of another layout or weighting cannot be combined")
    labels = tuple(sorted(units))
    new_at = {unit: i for i, unit in enumerate(fresh.units)}
    old_at = {unit: i for i, unit in enumerate(kept.units)}
    missing = [u for u in labels if u not in new_at and u not in old_at]
    if missing:
        raise AnalysisInputError(f"no statistics for units {missing[:5]}")
    from_fresh = np.array([u in new_at for u in labels], dtype=bool)
    index = np.array([new_at[u] if u in new_at else old_at[u] for u in labels], dtype=np.intp)

    def combined(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        out = old[np.where(from_fresh, 0, index)] if len(old) else np.zeros((len(labels), *new.shape[1:]))
        if from_fresh.any():
            out[from_fresh] = new[index[from_fresh]]
        return out

    arrays = tuple(combined(old, new) for old, new in zip(kept.arrays, fresh.arrays, strict=True))
    return UnitStatistics(kept.layout, labels, combined(kept.respondents, fresh.respondents), arrays,
                          kept.calibrated)


def _no_rows(layout: SumsLayout) -> list[np.ndarray]:
    """The arrays of `stratum_unit_rows` without a unit."""
    lay = layout.layout
    k2, q = 2 * lay.k, lay.n_denominators
    return [np.zeros((0, lay.n_totals)), np.zeros((0, k2, k2)), np.zeros((0, lay.n_pairs, 3)),
            *(np.zeros((0, q)) for _ in range(5))]
