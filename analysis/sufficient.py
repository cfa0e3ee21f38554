"""Sufficient statistics per (stratum, domain) cell: everything the estimates and variances need.

With the ratio estimator p_k = sum(w s_k) / sum(w v_k), the linearized variable of any smooth function
of the ratios is ``z = c . x`` with ``x = [w s_1..w s_K, w v_1..w v_K]`` summed over a PSU. Its
stratified with-replacement variance is ``sum_h scale_h c'(M_h - T_h T_h' / n_h)c`` where ``T_h`` is
the stratum total of x and ``M_h`` the sum over PSUs of ``x x'``. So one respondent-level pass that
yields T and M per (stratum, unit) cell is enough; parents and the total are sums of unit cells
(PSUs are nested in units), and no domain ever needs another pass over respondents.

A web application can compute the same cells in SQL (sums of ``w*s``, ``w*v`` and ``w^2*x_k*x_j``
grouped by stratum and unit when each respondent is a PSU) and build a `CellStatistics` directly.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.data import FloatArray, ItemMatrices
from analysis.design import Design, IntArray


@dataclass(frozen=True)
class Layout:
    """Column positions for K criteria, E elements and J separate items.

    ``totals`` columns: S (K), V (K), Y (K, code), Y2 (K, code squared), C (comprehensive
    numerator), A (any valid criterion), F (J favourable), L (J listed). Denominators ``q``: V_k,
    element-any-valid E_e, A, L_j. Ratios with their own 2x2 cross-products ``r``: Y_k/V_k, C/A, F_j/L_j.
    """

    k: int
    e: int
    j: int

    @property
    def n_totals(self) -> int:
        """Number of total columns."""
        return 4 * self.k + 2 + 2 * self.j

    @property
    def n_denominators(self) -> int:
        """Number of denominators (statistic presence sets)."""
        return self.k + self.e + 1 + self.j

    @property
    def n_pairs(self) -> int:
        """Number of ratios outside the criterion block."""
        return self.k + 1 + self.j

    def pair_columns(self) -> list[tuple[int, int]]:
        """(numerator, denominator) total columns of each extra ratio."""
        k, j = self.k, self.j
        pairs = [(2 * k + i, k + i) for i in range(k)] + [(4 * k, 4 * k + 1)]
        return pairs + [(4 * k + 2 + i, 4 * k + 2 + j + i) for i in range(j)]

    def pair_denominator(self) -> list[int]:
        """Denominator index ``q`` of each extra ratio."""
        k, e = self.k, self.e
        return list(range(k)) + [k + e] + [k + e + 1 + i for i in range(self.j)]


@dataclass(frozen=True)
class CellStatistics:
    """Sufficient statistics per (stratum, domain) cell of one cut (period x grouping) of the data.

    Attributes
    ----------
    layout : Layout
    stratum, domain : numpy.ndarray of int, shape (C,)
    totals : numpy.ndarray, shape (C, layout.n_totals)
        Weighted totals ``sum w x`` of the layout's columns.
    cross : numpy.ndarray, shape (C, 2K, 2K)
        ``sum over PSUs of X X'`` with X the PSU total of ``[w s, w v]``.
    pair_cross : numpy.ndarray, shape (C, R, 3)
        For each extra ratio, PSU sums of num^2, num*den, den^2 (weighted totals).
    psu_present : numpy.ndarray, shape (C, Q)
        PSUs with a positive-weight respondent in the denominator (for degrees of freedom).
    rows, rows_positive : numpy.ndarray, shape (C, Q)
        Respondents in each denominator (all / positive weight).
    sum_w, sum_w2 : numpy.ndarray, shape (C, Q)
        Sums of weights and squared weights over each denominator (Kish).
    variance_totals : numpy.ndarray, shape (C, layout.n_totals), optional
        Totals of the variables whose cross-products are `cross` and `pair_cross`, when these are not
        the weighted totals (calibrated residuals: `analysis.calibration`); `totals` when None.
    """

    layout: Layout
    stratum: IntArray
    domain: IntArray
    totals: FloatArray
    cross: FloatArray
    pair_cross: FloatArray
    psu_present: FloatArray
    rows: FloatArray
    rows_positive: FloatArray
    sum_w: FloatArray
    sum_w2: FloatArray
    variance_totals: FloatArray | None = None


def row_values(items: ItemMatrices, rows: IntArray, *, criteria_only: bool = False) -> FloatArray:
    """Unweighted total columns (see `Layout`) of the respondents `rows`, one row each; with
    `criteria_only`, the criteria's satisfied and valid columns alone (the first ``2 K``), in an array of
    their own (what the variance of ratio statistics reads: `analysis.cut_cells.CalibratedCuts`)."""
    found = _batch_matrices(items, rows)[0]
    return np.ascontiguousarray(found[:, :2 * len(items.criteria)]) if criteria_only else found


def _batch_matrices(items: ItemMatrices, rows: IntArray) -> tuple[FloatArray, FloatArray]:
    """Row-level total columns X (see `Layout`) and denominator indicators D for a batch of rows."""
    k, j, e = len(items.criteria), len(items.separate), len(items.elements)
    packed = items.packed[rows]  # one gather per batch; everything else is derived from it
    criterion, score = packed[:, :k], packed[:, k : 2 * k]
    separate = packed[:, 2 * k : 2 * k + j]
    flags = packed[:, 2 * k + j :]  # all_satisfied, any_valid, element_valid (E)
    x = np.empty((len(rows), 4 * k + 2 + 2 * j))
    x[:, :k] = criterion == 2
    x[:, k : 2 * k] = criterion > 0
    x[:, 2 * k : 3 * k] = score
    np.multiply(x[:, 2 * k : 3 * k], x[:, 2 * k : 3 * k], out=x[:, 3 * k : 4 * k])
    x[:, 4 * k : 4 * k + 2] = flags[:, :2]
    x[:, 4 * k + 2 : 4 * k + 2 + j] = separate == 2
    x[:, 4 * k + 2 + j :] = separate > 0
    d = np.empty((len(rows), k + e + 1 + j))
    d[:, :k] = x[:, k : 2 * k]
    d[:, k : k + e] = flags[:, 2:]
    d[:, k + e] = flags[:, 1]
    d[:, k + e + 1 :] = x[:, 4 * k + 2 + j :]
    return x, d


@dataclass(frozen=True)
class UnitCells:
    """`CellStatistics` per (stratum, unit) cell, before they are summed into domains (`in_domains`).

    Attributes
    ----------
    layout : Layout
    stratum, unit : numpy.ndarray of int, shape (B,)
    arrays : tuple of numpy.ndarray
        ``totals, cross, pair_cross, psu_present, rows, rows_positive, sum_w, sum_w2``, each with B
        rows, as in `CellStatistics`.
    """

    layout: Layout
    stratum: IntArray
    unit: IntArray
    arrays: tuple[FloatArray, ...]

    def in_domains(self, membership: tuple[IntArray, IntArray]) -> CellStatistics:
        """The (stratum, domain) cells: each unit cell added to every domain its unit belongs to.

        Parameters
        ----------
        membership : (numpy.ndarray, numpy.ndarray)
            As in `cell_statistics`.

        Returns
        -------
        CellStatistics
        """
        return aggregate_to_domains(self.layout, self.stratum, self.unit, membership, *self.arrays)


def cell_statistics(
    items: ItemMatrices,
    design: Design,
    unit: IntArray,
    membership: tuple[IntArray, IntArray],
    rows: IntArray | None = None,
    values: FloatArray | None = None,
    *,
    row_units: IntArray | None = None,
) -> CellStatistics:
    """Compute the sufficient statistics of every (stratum, domain) cell in one respondent pass.

    Parameters
    ----------
    items : ItemMatrices
    design : Design
    unit : numpy.ndarray of int
        Unit code per respondent.
    membership : (numpy.ndarray, numpy.ndarray)
        Pairs ``(unit, domain)``: every domain each unit belongs to (itself, its ancestors, total).
    rows : numpy.ndarray of int, optional
        The respondents of this cut (period x grouping); all when omitted.
    values : numpy.ndarray, shape (len(rows), layout.n_totals), optional
        Row-level variables to total instead of the weighted answers ``w x``, one row per entry of
        `rows`: the calibrated residuals of `analysis.calibration` (over every respondent whose residual
        can be non-zero, so `rows` is then every respondent, or each cut's). Only the variance parts
        (``totals``, ``cross``, ``pair_cross``) are computed then; the counts and sums of weights,
        which are the estimate cells', are left at zero.
    row_units : numpy.ndarray of int, optional
        The unit code of each entry of `rows`, instead of ``unit[rows]``: the cuts of a table stacked
        in one pass give each cut's respondents units of their own (`analysis.cut_cells`); `rows` may
        then name a respondent more than once.

    `values` may hold only the first ``2 K`` columns (the criteria's satisfied and
    valid indicators): then only those totals and their cross-products are computed, and the pairs'
    are left at zero (`analysis.cut_cells.CalibratedCuts`, ``ratios_only``).

    Returns
    -------
    CellStatistics

    References
    ----------
    Binder DA (1983). On the variances of asymptotically normal estimators from complex surveys.
    *International Statistical Review* 51(3):279-292.
    Wolter KM (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 6 (Taylor series). Springer.
    """
    return unit_cells(items, design, unit, rows, values, row_units=row_units).in_domains(membership)


def unit_cells(
    items: ItemMatrices,
    design: Design,
    unit: IntArray,
    rows: IntArray | None = None,
    values: FloatArray | None = None,
    *,
    row_units: IntArray | None = None,
) -> UnitCells:
    """`cell_statistics` per (stratum, unit) cell, before the domains: the parameters are its own.

    Returns
    -------
    UnitCells
    """
    layout = Layout(len(items.criteria), len(items.elements), len(items.separate))
    k2 = 2 * layout.k
    if rows is None:
        rows = np.arange(items.n, dtype=np.intp)
    if row_units is None:
        n_units = int(unit.max()) + 1 if len(unit) else 1
        row_units = unit[rows]
    else:
        n_units = int(row_units.max()) + 1 if len(row_units) else 1
    base_key_rows = design.stratum[rows] * n_units + row_units
    psu_rows = np.arange(len(rows)) if design.psu is None else design.psu[rows]
    # Sort by (cell, PSU): every group sum below is then a reduceat over contiguous rows.
    if design.psu is None:
        order = np.argsort(base_key_rows, kind="stable")
    else:
        order = np.lexsort((psu_rows, base_key_rows))
    rows, base_key_rows, psu_rows = rows[order], base_key_rows[order], psu_rows[order]
    if values is not None:
        values = values[order]
    new_cell = base_key_rows[1:] != base_key_rows[:-1]
    cell_start = np.flatnonzero(np.r_[len(rows) > 0, new_cell])
    psu_start = np.flatnonzero(np.r_[len(rows) > 0, new_cell | (psu_rows[1:] != psu_rows[:-1])])
    nb = len(cell_start)
    base_key = base_key_rows[cell_start]
    base_stratum = (base_key // n_units).astype(np.intp)
    base_unit = (base_key % n_units).astype(np.intp)
    # PSUs per cell, as offsets into the PSU list.
    cell_psu_start = np.searchsorted(psu_start, cell_start)

    q = layout.n_denominators
    totals = np.zeros((nb, layout.n_totals))
    pair_cross = np.zeros((nb, layout.n_pairs, 3))
    psu_present, rows_all, rows_pos, sum_w, sum_w2 = (np.zeros((nb, q)) for _ in range(5))
    cross = np.zeros((nb, k2, k2))
    numerators = [a for a, _ in layout.pair_columns()]
    denominators = [b for _, b in layout.pair_columns()]

    def weighted_answers(c0: int, c1: int, r0: int, r1: int, local_psus: IntArray,
                         psu_cells: IntArray) -> FloatArray:
        """The counts and sums of weights of cells c0..c1 (rows r0..r1), written in place; the weighted
        answers ``w x`` returned, by PSU when the design has clusters."""
        w = design.weight[rows[r0:r1]]
        x, d = _batch_matrices(items, rows[r0:r1])
        local_cells = cell_start[c0:c1] - r0
        rows_all[c0:c1] = np.add.reduceat(d, local_cells, axis=0)
        all_positive = bool((w > 0).all())
        positive = d if all_positive else d * (w > 0)[:, None]
        rows_pos[c0:c1] = (
            rows_all[c0:c1] if all_positive else np.add.reduceat(positive, local_cells, axis=0)
        )
        wd = d * w[:, None]
        sum_w[c0:c1] = np.add.reduceat(wd, local_cells, axis=0)
        wd *= w[:, None]
        sum_w2[c0:c1] = np.add.reduceat(wd, local_cells, axis=0)
        x *= w[:, None]
        if design.psu is None:  # each respondent is a PSU: PSUs present = respondents present
            psu_present[c0:c1] = rows_pos[c0:c1]
            return x
        # PSU totals first: the variance is over PSUs, not respondents
        present = np.add.reduceat(positive, local_psus, axis=0) > 0
        psu_present[c0:c1] = np.add.reduceat(present.astype(np.float64), psu_cells, axis=0)
        return np.add.reduceat(x, local_psus, axis=0)

    def process(c0: int, c1: int) -> None:
        r0 = cell_start[c0]
        r1 = cell_start[c1] if c1 < nb else len(rows)
        p0 = cell_psu_start[c0]
        p1 = cell_psu_start[c1] if c1 < nb else len(psu_start)
        psu_cells = cell_psu_start[c0:c1] - p0
        local_psus = psu_start[p0:p1] - r0
        if values is None:
            x = weighted_answers(c0, c1, r0, r1, local_psus, psu_cells)
        else:  # the variance parts alone (a calibrated cut's, over every respondent: see `values`)
            x = values[r0:r1]
            if design.psu is not None:
                x = np.add.reduceat(x, local_psus, axis=0)
        totals[c0:c1, : x.shape[1]] = np.add.reduceat(x, psu_cells, axis=0)
        if x.shape[1] == layout.n_totals:  # else the criteria's columns alone (see the docstring)
            num, den = x[:, numerators], x[:, denominators]
            for m, product in enumerate((num * num, num * den, den * den)):
                pair_cross[c0:c1, :, m] = np.add.reduceat(product, psu_cells, axis=0)
        cross[c0:c1] = _group_cross(x[:, :k2], psu_cells)

    # Batches write disjoint slices and numpy releases the GIL in the heavy loops: two threads use
    # both cores of a small server.
    batches = _batches(cell_start, len(rows))
    if len(batches) > 1 and _WORKERS > 1:
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for future in [pool.submit(process, c0, c1) for c0, c1 in batches]:
                future.result()
    else:
        for c0, c1 in batches:
            process(c0, c1)
    return UnitCells(layout, base_stratum, base_unit,
                     (totals, cross, pair_cross, psu_present, rows_all, rows_pos, sum_w, sum_w2))


_BATCH_ROWS = 32_768
_WORKERS = min(2, os.cpu_count() or 1)


def _batches(cell_start: IntArray, n_rows: int) -> list[tuple[int, int]]:
    """Split cells into runs of about `_BATCH_ROWS` rows (a cell is never split)."""
    out = []
    start, n_cells = 0, len(cell_start)
    while start < n_cells:
        stop = int(np.searchsorted(cell_start, cell_start[start] + _BATCH_ROWS, side="left"))
        stop = min(max(stop, start + 1), n_cells)
        out.append((start, stop))
        start = stop
    return out


def _group_cross(matrix: FloatArray, starts: IntArray) -> FloatArray:
    """``X_g' X_g`` for each run of rows of `matrix` beginning at `starts`.

    One BLAS product per cell: work is linear in rows, and the Python loop runs over cells, never over
    respondents.
    """
    width = matrix.shape[1]
    out = np.zeros((len(starts), width, width))
    bounds = np.r_[starts, len(matrix)]
    for g in range(len(starts)):
        block = matrix[bounds[g] : bounds[g + 1]]
        out[g] = block.T @ block
    return out


def aggregate_to_domains(
    layout: Layout,
    base_stratum: IntArray,
    base_unit: IntArray,
    membership: tuple[IntArray, IntArray],
    *arrays: np.ndarray,
) -> CellStatistics:
    """Sum (stratum, unit) cells into (stratum, domain) cells for every domain of each unit."""
    member_unit, member_domain = membership
    order = np.argsort(member_unit, kind="stable")
    member_unit, member_domain = member_unit[order], member_domain[order]
    start = np.searchsorted(member_unit, base_unit, side="left")
    stop = np.searchsorted(member_unit, base_unit, side="right")
    counts = stop - start
    base_index = np.repeat(np.arange(len(base_unit)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    domain = member_domain[np.repeat(start, counts) + offsets]
    stratum = base_stratum[base_index]
    n_domains = int(member_domain.max()) + 1 if len(member_domain) else 1
    cell, cell_key = pd.factorize(stratum * n_domains + domain, sort=True)
    n_cells = len(cell_key)
    summing = sparse.csr_matrix(
        (np.ones(len(cell)), (cell, base_index)), shape=(n_cells, len(base_unit))
    )
    summed = []
    for array in arrays:
        flat = array.reshape(array.shape[0], int(np.prod(array.shape[1:])))
        summed.append(np.asarray(summing @ flat).reshape((n_cells, *array.shape[1:])))
    key = np.asarray(cell_key)
    return CellStatistics(
        layout,
        (key // n_domains).astype(np.intp),
        (key % n_domains).astype(np.intp),
        *summed,
    )
