"""A table's cuts from the sums of parts of its respondents: a year's from its months'.

`compute_indices` estimates every cut of a table (``by`` columns cut one at a time) from the cell
statistics of its respondents (`analysis.cut_cells`). Those statistics are sums over respondents per
(cut, stratum, unit): when the strata are units, each respondent is a PSU and the weights are
post-stratified in cells that lie within one part of the data (a unit's month), the statistics of the
whole are the parts' added, the calibrated residuals' included (`analysis.residual_cells`: a cell's
residuals involve its own respondents only). So a unit page's breakdowns of a year are estimated from
each month's sums, kept per month, and a new response recomputes its own month's.

`cut_sums` gives one part's statistics by label, `added` adds parts, and `cut_table` estimates the
table from them: the rows of `compute_indices` on all the parts' respondents at once, the same sums
added in another order (tests/analysis/test_cut_sums.py: to 1e-12).

References
----------
Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.4 (domains), ch. 7
(post-stratification). Wiley.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.calibration import Calibration
from analysis.cell_sums import sums_design
from analysis.cut_cells import stacked_estimates, stacked_membership, with_variance
from analysis.data import AnalysisInputError, FloatArray, item_matrices, no_respondents
from analysis.design import IntArray, build_design
from analysis.domains import build_domains, cuts
from analysis.intervals import DEFAULT_INTERVAL_METHOD
from analysis.residual_cells import applies, residual_cells
from analysis.sufficient import Layout, UnitCells, row_values, unit_cells
from analysis.tables import Targets, labelled_table
from instruments.index import IndexDefinition

Cut = tuple[tuple[str, str], ...]  # a cut's labels: (by column, value or "" for all), in `by` order
_Key = tuple[Cut, str, str]  # (cut, stratum, unit)


@dataclass(frozen=True)
class CutSums:
    """The cell statistics of a table's cuts over some respondents, by (cut, stratum, unit).

    Attributes
    ----------
    layout : Layout
    by : tuple of str
        The cut columns.
    estimate : dict
        (cut, stratum, unit) -> the `sufficient.UnitCells` arrays of that cell (one row each).
    variance : dict or None
        The same keys for every (stratum, unit) of the respondents in every cut -> the calibrated
        residuals' ``totals, cross, pair_cross``; None with weights taken as fixed.
    respondents : dict
        Stratum -> respondents (its PSUs).
    """

    layout: Layout
    by: tuple[str, ...]
    estimate: dict[_Key, tuple[FloatArray, ...]]
    variance: dict[_Key, tuple[FloatArray, ...]] | None
    respondents: dict[str, int]


def cut_sums(data: pd.DataFrame, definition: IndexDefinition, *, unit_col: str, strata_col: str,
             by: Sequence[str], weights: pd.Series | None = None, calibration: Calibration | None = None,
             ratios_only: bool = False, part_col: str | None = None) -> dict[str, CutSums]:
    """The statistics of the one-way cuts of `by` (and "all") over the respondents of each part of `data`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent, as for `compute_indices`.
    definition : instruments.index.IndexDefinition
    unit_col, strata_col : str
        Each respondent's unit (the domains) and stratum; each respondent is a PSU.
    by : sequence of str
        Columns cut one at a time (``compute_indices(..., crossed_by=False)``).
    weights : pandas.Series, optional
        Aligned with `data`; unweighted when omitted.
    calibration : Calibration, optional
        The weights' post-stratification, whose cells lie within parts (see the module).
    ratios_only : bool
        Only ratio statistics will be estimated (`analysis.cut_cells.CalibratedCuts`).
    part_col : str, optional
        The column that names each respondent's part (a month): every part's sums in one pass, each as
        `cut_sums` gives it on that part's respondents alone. None: one part, ``""``.

    Returns
    -------
    dict of str to CutSums
        By part.

    Raises
    ------
    AnalysisInputError
        On a calibration other than post-stratification, or one with a cell in two parts.
    """
    items = item_matrices(data, definition)
    weight = None if weights is None else weights.reindex(data.index).to_numpy(dtype=np.float64)
    design = build_design(data, unit_col=unit_col, strata_col=strata_col, weight=weight,
                          lonely_psu="adjust")
    units = build_domains(data[unit_col])
    part_of = (data[part_col].astype(str).to_numpy(dtype=object) if part_col is not None
               else np.full(len(data), "", dtype=object))
    part_codes, part_labels = pd.factorize(part_of, sort=True)
    if calibration is not None:
        calibration = calibration.aligned(data.index)
        if not applies(design, calibration):
            raise AnalysisInputError("parts of a table add up only under post-stratification")
        if (pd.Series(part_codes).groupby(calibration.model.indices).nunique() > 1).any():
            raise AnalysisInputError("a weighting cell lies in two parts")
    # each cut of each part: the stacked cuts of `analysis.cut_cells`, a part's rows apart
    pieces: list[tuple[int, Cut, IntArray]] = []
    for found, rows in cuts(data, by=by, crossed=False):
        label = tuple((column, found[column]) for column in by)
        for part in np.unique(part_codes[rows]).tolist():
            pieces.append((part, label, rows[part_codes[rows] == part]))
    rows = np.concatenate([r for *_key, r in pieces]) if pieces else np.zeros(0, dtype=np.intp)
    cut = np.repeat(np.arange(len(pieces)), [len(r) for *_key, r in pieces])
    unit, n_units = units.unit_codes, len(units.labels)
    members = unit_cells(items, design, unit, rows, row_units=cut * n_units + unit[rows])
    names = [(int(part), label) for part, label, _rows in pieces]
    estimate = _by_key(members, names, design.stratum_labels, units.labels, n_units)
    variance = None
    if calibration is not None:
        values = row_values(items, rows, criteria_only=ratios_only)
        variance = _by_key(residual_cells(members, design, calibration, unit, n_units, len(pieces), rows, cut,
                                          values), names, design.stratum_labels, units.labels, n_units)
    counted = np.zeros((len(part_labels), design.n_strata), dtype=np.int64)
    np.add.at(counted, (part_codes, design.stratum), 1)
    return {str(label): CutSums(members.layout, tuple(by), estimate.get(part, {}),
                                None if variance is None else variance.get(part, {}),
                                {s: int(n) for s, n in zip(design.stratum_labels, counted[part].tolist(),
                                                           strict=True) if n})
            for part, label in enumerate(part_labels.tolist())}


def _by_key(cells: UnitCells, names: list[tuple[int, Cut]], strata: Sequence[str], units: Sequence[str],
            n_units: int) -> dict[int, dict[_Key, tuple[FloatArray, ...]]]:
    """Each part's cells by (cut, stratum, unit): the stacked units' codes turned into labels."""
    out: dict[int, dict[_Key, tuple[FloatArray, ...]]] = {}
    for row, (stratum, stacked) in enumerate(zip(cells.stratum.tolist(), cells.unit.tolist(), strict=True)):
        part, label = names[stacked // n_units]
        out.setdefault(part, {})[label, strata[stratum], units[stacked % n_units]] = tuple(
            array[row] for array in cells.arrays)
    return out


def added(parts: Sequence[CutSums]) -> CutSums:
    """The statistics of the parts' respondents together (parts of different respondents).

    Parameters
    ----------
    parts : sequence of CutSums
        Of the same table (layout, ``by``), all calibrated or none.

    Returns
    -------
    CutSums
    """
    first = parts[0]
    if any(p.layout != first.layout or p.by != first.by or (p.variance is None) != (first.variance is None)
           for p in parts):
        raise AnalysisInputError("only parts of the same table add up")

    def summed(maps: Sequence[dict[_Key, tuple[FloatArray, ...]]]) -> dict[_Key, tuple[FloatArray, ...]]:
        out: dict[_Key, tuple[FloatArray, ...]] = {}
        for found in maps:
            for key, arrays in found.items():
                known = out.get(key)
                out[key] = (arrays if known is None
                            else tuple(a + b for a, b in zip(known, arrays, strict=True)))
        return out

    respondents: dict[str, int] = {}
    for part in parts:
        for stratum, n in part.respondents.items():
            respondents[stratum] = respondents.get(stratum, 0) + n
    return CutSums(first.layout, first.by, summed([p.estimate for p in parts]),
                   None if first.variance is None else summed([p.variance for p in parts if p.variance]),
                   respondents)


def cut_table(sums: CutSums, definition: IndexDefinition, *, targets: Targets = None, alpha: float = 0.05,
              min_n: int = 10, stat_types: Collection[str] | None = None) -> pd.DataFrame:
    """The table `compute_indices(..., by=sums.by, crossed_by=False, lonely_psu="adjust")` gives on the
    respondents `sums` was made from (each cut's rows, "all" first, then each column's values in order).

    Parameters
    ----------
    sums : CutSums
    definition : instruments.index.IndexDefinition
    targets, alpha, min_n, stat_types
        As in `compute_indices` (default interval method).

    Returns
    -------
    pandas.DataFrame
    """
    if not sums.estimate:
        raise AnalysisInputError("no respondents to estimate from")
    every_cut = sorted({key[0] for key in sums.estimate}, key=_cut_order)
    strata = sorted(sums.respondents)
    units = build_domains(pd.Series(sorted({key[2] for key in sums.estimate}), dtype=object))
    n_units, n_domains = len(units.labels) - 1, len(units.labels)  # the last domain is the total
    cut_at = {c: i for i, c in enumerate(every_cut)}
    stratum_at = {s: i for i, s in enumerate(strata)}
    unit_at = {label: code for code, label in enumerate(units.labels)}
    template = next(iter(sums.estimate.values()))  # a cell's arrays: the variance gives the first three

    def stacked(found: dict[_Key, tuple[FloatArray, ...]]) -> UnitCells:
        keys = sorted(found, key=lambda k: (cut_at[k[0]], stratum_at[k[1]], unit_at[k[2]]))
        arrays = [np.stack([found[k][i] for k in keys]) for i in range(len(found[keys[0]]))]
        arrays += [np.zeros((len(keys), *template[i].shape)) for i in range(len(arrays), len(template))]
        return UnitCells(sums.layout, np.array([stratum_at[k[1]] for k in keys], dtype=np.intp),
                         np.array([cut_at[k[0]] * n_units + unit_at[k[2]] for k in keys], dtype=np.intp),
                         tuple(arrays))

    k = len(every_cut)
    membership = stacked_membership(units.membership, k, n_units, n_domains)
    cells = stacked(sums.estimate).in_domains(membership)
    if sums.variance is not None:
        cells = with_variance(cells, stacked(sums.variance).in_domains(membership), n_domains * k)
    design = sums_design(strata, [sums.respondents[s] for s in strata], "adjust")
    table, of_cut = stacked_estimates(cells, design, no_respondents(definition), n_domains, k, stat_types)
    for position, column in enumerate(sums.by):
        values = np.array([cut[position][1] for cut in every_cut], dtype=object)
        table[column] = pd.Series(values[of_cut], dtype=str)
    return labelled_table(table, units, sums.by, targets=targets, alpha=alpha,
                          ci_method=DEFAULT_INTERVAL_METHOD, all_intervals=False, min_n=min_n)


def _cut_order(cut: Cut) -> tuple[int, str]:
    """The "all" cut first, then each column's values in order (as `analysis.domains.cuts` lists them)."""
    for position, (_column, value) in enumerate(cut):
        if value != "":
            return position + 1, value
    return 0, ""
