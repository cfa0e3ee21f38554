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


def _denominators(items: ItemMatrices, rows: IntArray) -> np.ndarray:
    return np.concatenate(
        [
            items.valid[rows],
            items.element_valid[rows],
            items.any_valid[rows, None],
            items.listed[rows],
        ],
        axis=1,
    )


def _total_columns(items: ItemMatrices, rows: IntArray) -> list[np.ndarray]:
    k = len(items.criteria)
    score = items.score[rows]
    columns = [items.satisfied[rows, i] for i in range(k)] + [items.valid[rows, i] for i in range(k)]
    columns += [score[:, i] for i in range(k)] + [score[:, i] ** 2 for i in range(k)]
    columns += [items.all_satisfied[rows], items.any_valid[rows]]
    columns += [items.favourable[rows, i] for i in range(len(items.separate))]
    columns += [items.listed[rows, i] for i in range(len(items.separate))]
    return columns


def cell_statistics(
    items: ItemMatrices,
    design: Design,
    unit: IntArray,
    membership: tuple[IntArray, IntArray],
    rows: IntArray | None = None,
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

    Returns
    -------
    CellStatistics

    References
    ----------
    Binder DA (1983). On the variances of asymptotically normal estimators from complex surveys.
    *International Statistical Review* 51(3):279-292.
    Wolter KM (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 6 (Taylor series). Springer.
    """
    if rows is None:
        rows = np.arange(items.n, dtype=np.intp)
    layout = Layout(len(items.criteria), len(items.elements), len(items.separate))
    k = layout.k
    w = design.weight[rows]
    n_units = int(unit.max()) + 1 if len(unit) else 1
    base, base_key = pd.factorize(design.stratum[rows] * n_units + unit[rows], sort=True)
    base = base.astype(np.intp)
    nb = len(base_key)
    base_stratum = (np.asarray(base_key) // n_units).astype(np.intp)
    base_unit = (np.asarray(base_key) % n_units).astype(np.intp)

    if design.psu is None:
        psu_base = base
        n_psu = len(rows)

        def psu_total(values: np.ndarray) -> np.ndarray:
            return np.asarray(values, dtype=np.float64)
    else:
        psu_codes, psu_key = pd.factorize(base * (int(design.psu.max()) + 1) + design.psu[rows], sort=True)
        n_psu = len(psu_key)
        psu_base = (np.asarray(psu_key) // (int(design.psu.max()) + 1)).astype(np.intp)

        def psu_total(values: np.ndarray) -> np.ndarray:
            return np.bincount(psu_codes, weights=values, minlength=n_psu)

    columns = _total_columns(items, rows)
    weighted = [psu_total(w * col) for col in columns]
    totals = np.column_stack([np.bincount(psu_base, weights=col, minlength=nb) for col in weighted])
    pair_cross = np.zeros((nb, layout.n_pairs, 3))
    for r, (a, b) in enumerate(layout.pair_columns()):
        num, den = weighted[a], weighted[b]
        for m, product in enumerate((num * num, num * den, den * den)):
            pair_cross[:, r, m] = np.bincount(psu_base, weights=product, minlength=nb)

    dens = _denominators(items, rows)
    positive = w > 0
    q = layout.n_denominators
    psu_present = np.zeros((nb, q))
    rows_all = np.zeros((nb, q))
    rows_pos = np.zeros((nb, q))
    sum_w = np.zeros((nb, q))
    sum_w2 = np.zeros((nb, q))
    for i in range(q):
        den = dens[:, i]
        present = psu_total((den & positive).astype(np.float64)) > 0
        psu_present[:, i] = np.bincount(psu_base, weights=present, minlength=nb)
        rows_all[:, i] = np.bincount(base, weights=den, minlength=nb)
        rows_pos[:, i] = np.bincount(base, weights=den & positive, minlength=nb)
        sum_w[:, i] = np.bincount(base, weights=w * den, minlength=nb)
        sum_w2[:, i] = np.bincount(base, weights=w * w * den, minlength=nb)

    cross = _criterion_cross(weighted[: 2 * k], psu_base, nb, n_psu)
    return _aggregate_to_domains(
        layout, base_stratum, base_unit, membership, totals, cross, pair_cross,
        psu_present, rows_all, rows_pos, sum_w, sum_w2,
    )


def _criterion_cross(columns: list[np.ndarray], group: IntArray, n_groups: int, n_psu: int) -> FloatArray:
    """Sum over PSUs of X X' per group, X = the PSU's [w s, w v] totals.

    One BLAS product per group: work is linear in respondents, and the Python loop runs over cells,
    never over respondents.
    """
    width = len(columns)
    out = np.zeros((n_groups, width, width))
    if n_psu == 0:
        return out
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    matrix = np.empty((n_psu, width))
    for i, col in enumerate(columns):
        matrix[:, i] = col[order]
    for g in range(n_groups):
        block = matrix[bounds[g] : bounds[g + 1]]
        out[g] = block.T @ block
    return out


def _aggregate_to_domains(
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
        flat = array.reshape(array.shape[0], -1)
        summed.append(np.asarray(summing @ flat).reshape((n_cells, *array.shape[1:])))
    key = np.asarray(cell_key)
    return CellStatistics(
        layout,
        (key // n_domains).astype(np.intp),
        (key % n_domains).astype(np.intp),
        *summed,
    )
