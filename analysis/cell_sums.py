"""Integer sums per weighting cell that reproduce the default design's estimates without respondents.

Under the default design (strata = units, each respondent a PSU, `analysis.design`) with weights that
are constant within a weighting cell (post-stratification: ``w_c = N_c / n_c``, or no weights), every
input of `analysis.estimates.domain_estimates` is a function of a few sums over each cell's respondents:

* ``n_c``, the respondents;
* ``X_c``, the totals of the unweighted columns ``x`` of `analysis.sufficient.Layout` (satisfied, valid,
  code, code squared per criterion; comprehensive; any valid; favourable and listed per separate item);
* the counts of each element's "any valid criterion" indicator (the element denominators);
* ``S_c``, the sum of ``u u'`` with ``u = [s_1..s_K, v_1..v_K]``: the cross-products the variance of
  the element and overall indices needs (one respondent's answers to different criteria covary).

Then, for a cell inside unit h, weighted totals are ``w_c X_c``, Kish sums are ``w_c n_c`` and
``w_c^2 n_c`` per denominator, and the PSU cross-products are ``w_c^2 S_c``. With post-stratification
the variance is taken through the calibration (`analysis.calibration`): the residual of a respondent
is ``w_c (u_i - X_c / n_c)``, whose cross-products sum to ``w_c^2 (S_c - X_c X_c' / n_c)`` over the
cell, and whose stratum total is zero. The 3-column cross-products of the other ratios (mean score,
comprehensive, separate items) need no extra sums: their variables are 0/1 indicators or codes whose
products are already columns (``y v = y``, ``y^2`` is a column, ``c a = c``, ``f l = f``).

Every sum is an integer (counts, codes, products of 0/1), so cells can be kept in a database,
updated one respondent at a time and compared exactly with a rebuild from the respondents. Weights
only enter when the sums are read, so a new frame of dossiers served needs no update of the sums.

Limits: designs with clusters, imported strata, an fpc, or weights that vary within a cell (raking,
linear calibration, imported weights) need respondent-level data; use `analysis.tables.compute_indices`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from analysis.data import FloatArray, ItemMatrices
from analysis.design import Design, IntArray, LonelyPSU
from analysis.sufficient import Layout, row_values

Int64Array = npt.NDArray[np.int64]
_BATCH_ROWS = 32_768


@dataclass(frozen=True)
class SumsLayout:
    """Positions in the integer vector of one cell's sums.

    Position 0 holds the respondents; then the `Layout` totals (``4K + 2 + 2J``), the element
    denominators (E), and the upper triangle (diagonal included, row by row) of ``S`` over
    ``u = [s_1..s_K, v_1..v_K]``.
    """

    criteria: tuple[str, ...]
    elements: tuple[str, ...]
    separate: tuple[str, ...]

    @classmethod
    def of(cls, items: ItemMatrices) -> SumsLayout:
        """The layout of the criteria, elements and separate items of `items` (rows are not used)."""
        return cls(items.criteria, items.elements, items.separate)

    @property
    def layout(self) -> Layout:
        """The `analysis.sufficient.Layout` of the same definition."""
        return Layout(len(self.criteria), len(self.elements), len(self.separate))

    @property
    def totals(self) -> slice:
        """Positions of the `Layout` totals."""
        return slice(1, 1 + self.layout.n_totals)

    @property
    def element_valid(self) -> slice:
        """Positions of the element denominators."""
        start = self.totals.stop
        return slice(start, start + len(self.elements))

    @property
    def cross(self) -> slice:
        """Positions of the upper triangle of ``S``."""
        start = self.element_valid.stop
        width = 2 * len(self.criteria)
        return slice(start, start + width * (width + 1) // 2)

    @property
    def length(self) -> int:
        """Length of the vector."""
        return int(self.cross.stop)

    def names(self) -> list[str]:
        """A name for every position, e.g. ``valid e1_info``, ``satisfied e1_info × valid e2_fees``."""
        k = self.criteria
        totals = ([f"satisfied {c}" for c in k] + [f"valid {c}" for c in k] + [f"code sum {c}" for c in k]
                  + [f"code² sum {c}" for c in k] + ["comprehensive", "any valid"]
                  + [f"favourable {s}" for s in self.separate] + [f"listed {s}" for s in self.separate])
        u = [f"satisfied {c}" for c in k] + [f"valid {c}" for c in k]
        upper = [f"{u[a]} × {u[b]}" for a, b in zip(*np.triu_indices(len(u)), strict=True)]
        return ["respondents", *totals, *(f"element valid {e}" for e in self.elements), *upper]


def cell_sums(items: ItemMatrices, cell: IntArray, n_cells: int) -> Int64Array:
    """The sums (`SumsLayout`) of each cell's respondents.

    Parameters
    ----------
    items : ItemMatrices
    cell : numpy.ndarray of int, shape (n,)
        Cell of each respondent, 0..n_cells-1.
    n_cells : int

    Returns
    -------
    numpy.ndarray of int64, shape (n_cells, SumsLayout.length)
        Zero rows for cells without respondents.
    """
    layout = SumsLayout.of(items)
    k2 = 2 * len(items.criteria)
    upper = _upper_triangle(k2)
    out = np.zeros((n_cells, layout.length), dtype=np.int64)
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    start = 0
    while start < len(order):
        # Whole cells per batch, so that the row memory stays flat on a province-year; the next batch
        # begins where this one's last cell ended, not at start + _BATCH_ROWS.
        stop = min(start + _BATCH_ROWS, len(order))
        if stop < len(order):
            stop = int(np.searchsorted(sorted_cells, sorted_cells[stop - 1], side="right"))
        rows = order[start:stop]
        codes = sorted_cells[start:stop]
        starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
        present = codes[starts]
        x = row_values(items, rows)
        columns = np.concatenate([np.ones((len(rows), 1)), x, items.element_valid[rows]], axis=1)
        out[present, : layout.element_valid.stop] += np.rint(np.add.reduceat(columns, starts, axis=0)).astype(
            np.int64)
        bounds = np.append(starts, len(rows))
        for g, code in enumerate(present):
            block = x[bounds[g] : bounds[g + 1], :k2]
            out[code, layout.cross] += np.rint((block.T @ block)[upper]).astype(np.int64)
        start = stop
    return out


@functools.lru_cache(maxsize=8)
def _upper_triangle(size: int) -> tuple[IntArray, IntArray]:
    """`numpy.triu_indices(size)`, read-only and made once per size (a web submission's sums ask for it)."""
    rows, columns = np.triu_indices(size)
    rows.flags.writeable = False
    columns.flags.writeable = False
    return rows, columns


def _full_cross(layout: SumsLayout, upper: FloatArray) -> FloatArray:
    """Full symmetric matrices, shape (C, 2K, 2K), from their upper triangles (`SumsLayout.cross`).

    Called on unit totals only: expanding every cell of a province-year would cost seconds.
    """
    k2 = 2 * len(layout.criteria)
    rows, columns = np.triu_indices(k2)
    full = np.zeros((len(upper), k2, k2))
    full[:, rows, columns] = upper
    full[:, columns, rows] = upper
    return full


def _pair_products(layout: SumsLayout, totals: FloatArray) -> FloatArray:
    """Sums of num^2, num*den, den^2 of each extra ratio (`Layout.pair_columns`), from the totals."""
    lay = layout.layout
    k, j = lay.k, lay.j
    mean_score = [(3 * k + i, 2 * k + i, k + i) for i in range(k)]  # y^2, y v = y, v^2 = v
    comprehensive = [(4 * k, 4 * k, 4 * k + 1)]  # c^2 = c, c a = c, a^2 = a
    separate = [(4 * k + 2 + i, 4 * k + 2 + i, 4 * k + 2 + j + i) for i in range(j)]  # f, f l = f, l
    columns = np.array(mean_score + comprehensive + separate, dtype=np.intp).reshape(-1, 3)
    return totals[:, columns]


def _group_sum(group: IntArray, n_groups: int, array: np.ndarray) -> FloatArray:
    """Sum the rows of `array` (any trailing shape) by `group`: one sparse product, not a Python loop."""
    summing = sparse.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))),
                                shape=(n_groups, len(group)))
    flat = np.asarray(array, dtype=np.float64).reshape(len(group), -1)
    return np.asarray(summing @ flat).reshape((n_groups, *array.shape[1:]))


@dataclass(frozen=True)
class SummedCells:
    """Cell sums with their unit and weighting, ready for `stratum_unit_rows`.

    Attributes
    ----------
    sums : numpy.ndarray of int64, shape (C, SumsLayout.length)
    unit : numpy.ndarray of int, shape (C,)
        Code of each cell's unit.
    weight : numpy.ndarray of float, shape (C,)
        The weight of every respondent of the cell (1 when unweighted).
    calibration_cell : numpy.ndarray of int, shape (C,), optional
        The post-stratification cell (cells merged by the collapse rule share one), each inside one
        unit; None when the weights are taken as fixed (unweighted).
    """

    sums: Int64Array
    unit: IntArray
    weight: FloatArray
    calibration_cell: IntArray | None = None


def sums_design(unit_labels: list[str], respondents: npt.ArrayLike, lonely_psu: LonelyPSU) -> Design:
    """The default design (strata = units, each respondent a PSU) from each unit's respondents.

    Row-level arrays are empty: `analysis.estimates.domain_estimates` reads only the per-stratum ones.
    """
    n_h = np.asarray(respondents, dtype=np.intp)
    return Design(weight=np.zeros(0), stratum=np.zeros(0, dtype=np.intp), psu=None, psu_per_stratum=n_h,
                  fpc_factor=np.ones(len(n_h)), stratum_labels=tuple(unit_labels), lonely_psu=lonely_psu)


def stratum_unit_rows(layout: SumsLayout, cells: SummedCells, stratum: IntArray
                      ) -> tuple[IntArray, IntArray, list[np.ndarray]]:
    """The statistics of each (stratum, unit) of the cells, before they are summed into domains: summed
    (`analysis.sufficient.aggregate_to_domains`), the `CellStatistics` that
    `analysis.sufficient.cell_statistics` (or `analysis.cut_cells.calibrated_cells` when `cells` has
    calibration cells, whose stratum totals are then zero) gives from the respondents.

    Parameters
    ----------
    layout : SumsLayout
    cells : SummedCells
    stratum : numpy.ndarray of int, shape (C,)
        Stratum code of each cell (its unit's, `sums_design`).

    Returns
    -------
    base_stratum, base_unit : numpy.ndarray of int
        Each row's stratum and unit, sorted by stratum, then unit.
    arrays : list of numpy.ndarray
        Per row, in the order `analysis.sufficient.aggregate_to_domains` takes them: weighted totals,
        PSU cross-products (full matrices), the extra ratios' cross-products, PSUs present, rows,
        rows with a positive weight, and the sums of weights and squared weights per denominator.
        A row reads only its own cells, so rows computed from a subset of the cells are those computed
        from all of them (`analysis.unit_statistics`).

    References
    ----------
    Deville JC, Särndal CE (1992). Calibration estimators in survey sampling. *JASA* 87:376-382.
    Wolter KM (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 6. Springer.
    """
    lay = layout.layout
    k = lay.k
    sums = cells.sums.astype(np.float64)
    w = cells.weight
    totals = sums[:, layout.totals]
    # the denominators q of `Layout`: valid per criterion, element valid, any valid, listed
    counts = np.concatenate([totals[:, k : 2 * k], sums[:, layout.element_valid],
                             totals[:, 4 * k + 1 : 4 * k + 2], totals[:, 4 * k + 2 + lay.j :]], axis=1)
    cross = sums[:, layout.cross]  # upper triangles; full matrices once per unit, below
    pairs = _pair_products(layout, totals)
    if cells.calibration_cell is not None:
        # Residuals about each calibration cell's mean: S - X X' / n, summed over the merged cell.
        code, at = np.unique(cells.calibration_cell, return_inverse=True)
        merged = _group_sum(at, len(code), sums)
        m_n = merged[:, 0]
        m_u = merged[:, layout.totals][:, : 2 * k]
        rows, columns = np.triu_indices(2 * k)
        m_cross = merged[:, layout.cross] - m_u[:, rows] * m_u[:, columns] / m_n[:, None]
        m_pairs = _pair_products(layout, merged[:, layout.totals])
        pair_columns = np.array(lay.pair_columns(), dtype=np.intp)
        m_num = merged[:, layout.totals][:, pair_columns[:, 0]]
        m_den = merged[:, layout.totals][:, pair_columns[:, 1]]
        m_pairs -= np.stack([m_num * m_num, m_num * m_den, m_den * m_den], axis=2) / m_n[:, None, None]
        # Each calibration cell lies in one unit and has one weight: count it once, at its first row.
        first = np.unique(at, return_index=True)[1]
        cross = np.zeros_like(cross)
        pairs = np.zeros_like(pairs)
        cross[first] = m_cross
        pairs[first] = m_pairs
    w2 = w * w
    positive = (w > 0).astype(np.float64)
    n_units = int(cells.unit.max()) + 1 if len(cells.unit) else 1
    base_key = stratum * n_units + cells.unit
    base, at_base = np.unique(base_key, return_inverse=True)

    def per_base(array: np.ndarray) -> np.ndarray:
        return _group_sum(at_base, len(base), array)

    rows_positive = per_base(counts * positive[:, None])
    return ((base // n_units).astype(np.intp), (base % n_units).astype(np.intp),
            [per_base(totals * w[:, None]), _full_cross(layout, per_base(cross * w2[:, None])),
             per_base(pairs * w2[:, None, None]), rows_positive, per_base(counts), rows_positive,
             per_base(counts * w[:, None]), per_base(counts * w2[:, None])])
