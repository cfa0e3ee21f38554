"""The calibrated variance parts of post-stratified cuts, from the cuts' own respondents.

With post-stratified weights and each respondent a PSU, the calibrated linearized variable of a cut
(`analysis.calibration`) is ``r_i = w_i (δ_i x_i - m_g)`` for respondent i of weighting cell g, with
``δ_i`` 1 inside the cut and ``m_g`` the base-weighted mean of ``δ x`` over cell g. A respondent
outside the cut has ``r_i = -w_i m_g``: non-zero in every cell the cut touches, so the direct
computation (`analysis.cut_cells.CalibratedCuts.cells`) totals every respondent of the table once per
cut, and a ward's year of eighteen breakdown cuts is 216,000 rows of residuals.

Expanded, the sums the variance needs over a (stratum, unit) cell b are those of the cut's own
respondents, corrected by each triple q = (weighting cell g, b) the cut touches:

    sum_b r       = sum_{b, cut} w x      - sum_q W_q m_g
    sum_b r r'    = sum_{b, cut} w² x x'  + sum_q (S_q m_g m_g' - a_q m_g' - m_g a_q')

with ``W_q`` and ``S_q`` the sums of ``w`` and ``w²`` over all of q's respondents and ``a_q`` the sum of
``w² x`` over the cut's. The first terms are the estimate pass's own cells (`sufficient.unit_cells`),
so the variance costs one pass over the cut's respondents and a product per touched triple, not a
pass over everyone. The sums are the direct computation's, added in another order: the figures agree
with it to about 1e-15 relative (tests/analysis/test_residual_cells.py), not to the bit.

References
----------
Särndal CE, Swensson B, Wretman J (1992). *Model Assisted Survey Sampling*, sec. 7.6 (post-stratified
estimators' residuals). Springer.
Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 7.2. Wiley.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.calibration import Calibration
from analysis.data import FloatArray
from analysis.design import Design, IntArray
from analysis.sufficient import UnitCells


def applies(design: Design, calibration: Calibration) -> bool:
    """Whether `residual_cells` serves: post-stratified weights, each respondent its own PSU.

    Parameters
    ----------
    design : Design
    calibration : Calibration

    Returns
    -------
    bool
    """
    return design.psu is None and calibration.poststratified


def residual_cells(members: UnitCells, design: Design, calibration: Calibration, unit: IntArray,
                   n_units: int, n_cuts: int, rows: IntArray, cut: IntArray,
                   values: FloatArray) -> UnitCells:
    """The variance parts of stacked cuts (`analysis.cut_cells`), as the residual pass gives them.

    Parameters
    ----------
    members : UnitCells
        The estimate pass of the stacked cuts: units ``c·n_units + u`` (`sufficient.unit_cells`).
    design : Design
        Each respondent a PSU (`applies`).
    calibration : Calibration
        Post-stratified, aligned with the design's rows.
    unit : numpy.ndarray of int
        Unit code of every respondent.
    n_units : int
        The stacking's unit stride.
    n_cuts : int
    rows, cut : numpy.ndarray of int
        The stacked cuts' respondents and the cut of each entry.
    values : numpy.ndarray, shape (len(rows), T)
        Their unweighted row values: every total column, or the criteria's 2K alone (``ratios_only``).

    Returns
    -------
    UnitCells
        Every (stratum, unit) cell of every cut, with ``totals`` (the first T columns), ``cross`` and,
        for all columns, ``pair_cross`` of the residuals; the counts are zero.
    """
    layout = members.layout
    width, k2 = values.shape[1], 2 * layout.k
    weight, base = design.weight, calibration.base_weight
    cell = calibration.model.indices
    n_cells = calibration.model.shape[1]
    size = np.bincount(cell, weights=base, minlength=n_cells)

    # Every (stratum, unit) cell of the table and every triple (weighting cell, stratum, unit).
    stratum_unit, unit_cell = np.unique(design.stratum * n_units + unit, return_inverse=True)
    n_unit_cells = len(stratum_unit)
    triple, triple_key = pd.factorize(cell * n_unit_cells + unit_cell, sort=True)
    triple_cell, triple_unit_cell = triple_key // n_unit_cells, triple_key % n_unit_cells
    triple_w = np.bincount(triple, weights=weight, minlength=len(triple_key))
    triple_w2 = np.bincount(triple, weights=weight * weight, minlength=len(triple_key))

    # Each cut's cell means m: the base-weighted sums of its respondents over each cell's size.
    entry_cell = cut * n_cells + cell[rows]
    touched, at_touched = np.unique(entry_cell, return_inverse=True)
    sums = _summed(at_touched, len(touched), values * base[rows][:, None])
    touched_size = size[touched % n_cells]
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(touched_size[:, None] > 0, sums / touched_size[:, None], 0.0)

    # The pairs (cut, triple) whose cell the cut touches, each with its cell's mean.
    triples_of = np.argsort(triple_cell, kind="stable")
    first = np.searchsorted(triple_cell[triples_of], touched % n_cells, side="left")
    count = np.searchsorted(triple_cell[triples_of], touched % n_cells, side="right") - first
    pair_mean = np.repeat(np.arange(len(touched)), count)
    pair_triple = triples_of[np.repeat(first, count) + np.arange(count.sum())
                             - np.repeat(np.cumsum(count) - count, count)]
    pair_cut = touched[pair_mean] // n_cells
    m = means[pair_mean]
    w_total, w2_total = triple_w[pair_triple], triple_w2[pair_triple]
    # a: the cut's own sum of w² x in each pair's triple (zero where the cut has nobody there)
    pair_key = pair_cut * len(triple_key) + pair_triple
    entry_key = cut * len(triple_key) + triple[rows]
    # sorted: the touched (cut, cell) are, and the triples of a cell are ascending, cell by cell
    at_pair = np.searchsorted(pair_key, entry_key)
    w_rows = weight[rows]
    a = _summed(at_pair, len(pair_key), values * (w_rows * w_rows)[:, None])

    # The output cells: cut-major, every (stratum, unit) cell of the table in each cut.
    target = pair_cut * n_unit_cells + triple_unit_cell[pair_triple]
    n_out = n_cuts * n_unit_cells
    totals = np.zeros((n_out, layout.n_totals))
    cross = np.zeros((n_out, k2, k2))
    pair_cross = np.zeros((n_out, layout.n_pairs, 3))
    member_cut, member_unit = members.unit // n_units, members.unit % n_units
    member_at = member_cut * n_unit_cells + np.searchsorted(stratum_unit, members.stratum * n_units
                                                            + member_unit)
    member_totals, member_cross, member_pairs = members.arrays[:3]
    totals[member_at, :width] = member_totals[:, :width]
    totals[:, :width] -= _summed(target, n_out, m * w_total[:, None])
    cross[member_at] = member_cross
    cross += _crossed(target, n_out, m[:, :k2], a[:, :k2], w2_total)
    if width == layout.n_totals:
        pair_cross[member_at] = member_pairs
        numerators, denominators = zip(*layout.pair_columns(), strict=True)
        m_num, m_den = m[:, list(numerators)], m[:, list(denominators)]
        a_num, a_den = a[:, list(numerators)], a[:, list(denominators)]
        w2 = w2_total[:, None]
        for index, (left_m, left_a, right_m, right_a) in enumerate(
                ((m_num, a_num, m_num, a_num), (m_num, a_num, m_den, a_den), (m_den, a_den, m_den, a_den))):
            pair_cross[:, :, index] += _summed(target, n_out,
                                               w2 * left_m * right_m - left_a * right_m - left_m * right_a)
    out_unit_cell = np.tile(np.arange(n_unit_cells), n_cuts)
    out_cut = np.repeat(np.arange(n_cuts), n_unit_cells)
    zeros = np.zeros((n_out, layout.n_denominators))
    return UnitCells(layout, (stratum_unit[out_unit_cell] // n_units).astype(np.intp),
                     (out_cut * n_units + stratum_unit[out_unit_cell] % n_units).astype(np.intp),
                     (totals, cross, pair_cross, zeros, zeros, zeros, zeros, zeros))


def _summed(group: IntArray, n_groups: int, values: FloatArray) -> FloatArray:
    """The rows of `values` added by `group` (a sparse product: rows added in their order)."""
    summing = sparse.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))),
                                shape=(n_groups, len(group)))
    return np.asarray(summing @ values)


def _crossed(group: IntArray, n_groups: int, m: FloatArray, a: FloatArray, w2: FloatArray) -> FloatArray:
    """``sum (S m m' - a m' - m a')`` over the pairs of each group: ``M'(S∘M - A) - A'M`` a group at
    a time (the groups are a cut's (stratum, unit) cells: a few hundred)."""
    out = np.zeros((n_groups, m.shape[1], m.shape[1]))
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1], True])
    for start, stop in itertools.pairwise(bounds):
        at = order[start:stop]
        block_m, block_a = m[at], a[at]
        out[group[at[0]]] = block_m.T @ (w2[at][:, None] * block_m - block_a) - block_a.T @ block_m
    return out
