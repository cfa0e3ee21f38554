"""The cells of a table's cuts: each cut's calibrated variance, and the cuts estimated together.

`calibrated_cells` gives a cut's cell statistics with the variance parts taken from the calibrated
residuals (`analysis.calibration`); `CalibratedCuts` does it for the many cuts of one table, with
what they share computed once.

Estimated one by one, the cuts of a table (each period, each category of each ``by`` column of
`analysis.tables.compute_indices`) each pay the fixed cost of two passes over the respondents, the
residuals, the domain sums and a frame of their own: a unit page's breakdowns are seventeen cuts of a
few hundred respondents, 2.5 ms a cut, where the respondents themselves cost almost nothing.

So `cut_estimates` stacks the cuts of a batch: cut ``c``'s respondents get units ``c·U + u`` and its domains
``c·D + d``, so the cells of different cuts never meet, and one `sufficient.cell_statistics`, one
`estimates.domain_estimates` give every cut's rows. Each (stratum, unit) cell holds the same
respondents in the same order as when its cut is estimated alone, so the figures are the same to the
bit (tests/analysis/test_cut_cells.py). The calibrated variance parts of post-stratified respondents
are summed by weighting cell from the cuts' own respondents (`analysis.residual_cells`: the same sums
in another order, equal to 1e-12); with other calibrations each cut's residual is written out for
every respondent. A batch holds at most `MAX_ENTRIES` rows of respondents, so memory stays bounded; a
calibration whose blocks cross units needs a residual per domain and keeps the cut-by-cut computation.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from analysis.calibration import Calibration
from analysis.data import FloatArray, ItemMatrices
from analysis.design import Design, IntArray
from analysis.domains import Domains
from analysis.estimates import domain_estimates
from analysis.residual_cells import applies, residual_cells
from analysis.sufficient import CellStatistics, cell_statistics, row_values, unit_cells

MAX_ENTRIES = 65_536  # rows of respondents in one batch (x ~100 totals of 8 bytes: about 50 MB)


def calibrated_cells(
    items: ItemMatrices,
    design: Design,
    calibration: Calibration,
    unit: IntArray,
    membership: tuple[IntArray, IntArray],
    rows: IntArray,
    n_domains: int,
) -> CellStatistics:
    """Cell statistics of one cut with the variance parts taken from the calibrated residuals.

    The estimates, counts and Kish sums are those of the cut's respondents; the cross-products and the
    stratum totals that centre them come from ``w e`` (`Calibration.residuals`), over every respondent
    whose residual can be non-zero.

    Parameters
    ----------
    items, design, unit, membership, rows, n_domains
        As in `analysis.sufficient.cell_statistics`; `n_domains` is the number of domain codes.
    calibration : Calibration
        Aligned with the design's rows.

    Returns
    -------
    CellStatistics
        With ``variance_totals`` set.

    See Also
    --------
    CalibratedCuts : the same for many cuts of one table, with what they share computed once.

    References
    ----------
    Deville JC, Särndal CE (1992), *JASA* 87:376-382; Lumley T (2010), *Complex Surveys*, ch. 7.
    """
    return CalibratedCuts(items, design, calibration, unit, membership, n_domains).cells(rows)


class CalibratedCuts:
    """`calibrated_cells` for the cuts of one table: every respondent's row values, and whether the
    calibration's blocks lie within units, are the same for every cut and computed once (a unit page's
    breakdowns are 18 cuts of one table).

    Parameters
    ----------
    items, design, calibration, unit, membership, n_domains
        As in `calibrated_cells`.
    ratios_only : bool, default False
        Only the criterion, element and overall indices will be estimated: with post-stratified
        weights, the residuals and their cross-products are those of the criteria's satisfied and valid
        columns alone (the others, and the pairs behind mean scores and separate items, are left at
        zero). Each column's residual is its own cell means', so their figures are the same to the bit.
    """

    def __init__(self, items: ItemMatrices, design: Design, calibration: Calibration, unit: IntArray,
                 membership: tuple[IntArray, IntArray], n_domains: int, *, ratios_only: bool = False) -> None:
        self.items, self.design, self.calibration = items, design, calibration
        self.unit, self.membership, self.n_domains = unit, membership, n_domains
        self.everyone = np.arange(len(unit), dtype=np.intp)
        # Post-stratification only: the least-squares fit of raking or linear calibration solves the
        # columns together, and its last bits depend on which columns it is given.
        self.ratios_only = ratios_only and calibration.poststratified

    @functools.cached_property
    def _row_values(self) -> FloatArray:
        # a unit page's breakdowns (overall index only): 40 of 96 columns
        return row_values(self.items, self.everyone, criteria_only=self.ratios_only)

    @functools.cached_property
    def nested(self) -> bool:
        """Whether every block of the calibration lies within one unit: one residual per cut
        (`residual`) then serves every domain."""
        return bool((pd.Series(self.unit).groupby(self.calibration.blocks()).nunique() <= 1).all())

    def row_values(self, rows: IntArray) -> FloatArray:
        """The row values of respondents `rows` (the criteria's columns alone when ``ratios_only``).

        Parameters
        ----------
        rows : numpy.ndarray of int

        Returns
        -------
        numpy.ndarray, shape (len(rows), T)
        """
        return self._row_values[rows]

    def _values(self, rows: IntArray) -> FloatArray:
        """Every respondent's row values, zero outside the cut."""
        in_cut = np.zeros((len(self.unit), 1))
        in_cut[rows] = 1.0
        return self._row_values * in_cut

    def residual(self, rows: IntArray) -> FloatArray:
        """The calibrated residuals ``w e`` of the cut made of respondents `rows`, one row per respondent
        (when `nested`).

        Parameters
        ----------
        rows : numpy.ndarray of int

        Returns
        -------
        numpy.ndarray, shape (n, layout.n_totals)
        """
        return self.calibration.residuals(self._values(rows), self.design.weight)

    def cells(self, rows: IntArray) -> CellStatistics:
        """`calibrated_cells` of the cut made of respondents `rows`.

        Parameters
        ----------
        rows : numpy.ndarray of int

        Returns
        -------
        CellStatistics
        """
        items, design, unit, membership = self.items, self.design, self.unit, self.membership
        estimate_cells = cell_statistics(items, design, unit, membership, rows)
        everyone = self.everyone
        if self.nested:
            variance_cells = cell_statistics(items, design, unit, membership, everyone,
                                             values=self.residual(rows))
        else:
            values = self._values(rows)
            member_unit, member_domain = membership
            parts = []
            for domain in np.unique(member_domain):
                inside = np.isin(unit, member_unit[member_domain == domain]).astype(np.float64)[:, None]
                residual = self.calibration.residuals(values * inside, design.weight)
                every_unit = np.unique(unit)
                parts.append(cell_statistics(items, design, unit,
                                             (every_unit, np.full_like(every_unit, domain)),
                                             everyone, values=residual))
            variance_cells = _concatenate(parts)
        return with_variance(estimate_cells, variance_cells, self.n_domains)


def _concatenate(parts: list[CellStatistics]) -> CellStatistics:
    first = parts[0]
    fields = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _ARRAY_FIELDS}
    return CellStatistics(first.layout, **fields)


_ARRAY_FIELDS = ("stratum", "domain", "totals", "cross", "pair_cross", "psu_present", "rows",
                 "rows_positive", "sum_w", "sum_w2")
_VARIANCE_FIELDS = ("cross", "pair_cross")


def with_variance(estimate: CellStatistics, variance: CellStatistics, n_domains: int) -> CellStatistics:
    """Estimate cells with the variance parts of `variance`, over the union of their (stratum, domain).

    Parameters
    ----------
    estimate, variance : CellStatistics
        From `analysis.sufficient.cell_statistics` on the cut's respondents, and on every respondent's
        residuals.
    n_domains : int
        Number of domain codes.

    Returns
    -------
    CellStatistics
    """
    est_key = estimate.stratum * n_domains + estimate.domain
    var_key = variance.stratum * n_domains + variance.domain
    keys = np.union1d(est_key, var_key)
    est_at, var_at = np.searchsorted(keys, est_key), np.searchsorted(keys, var_key)

    def spread(array: np.ndarray, at: IntArray) -> np.ndarray:
        out = np.zeros((len(keys), *array.shape[1:]))
        out[at] = array
        return out

    fields = {name: spread(getattr(estimate, name), est_at) for name in _ARRAY_FIELDS[2:]}
    for name in _VARIANCE_FIELDS:
        fields[name] = spread(getattr(variance, name), var_at)
    return CellStatistics(
        estimate.layout,
        stratum=(keys // n_domains).astype(np.intp),
        domain=(keys % n_domains).astype(np.intp),
        variance_totals=spread(variance.totals, var_at),
        **fields,
    )


def cut_estimates(items: ItemMatrices, design: Design, domains: Domains, cut_rows: Sequence[IntArray],
                  calibrated: CalibratedCuts | None,
                  stat_types: Collection[str] | None = None) -> list[pd.DataFrame]:
    """`estimates.domain_estimates` of each cut, in the order of `cut_rows`.

    Parameters
    ----------
    items, design : ItemMatrices, Design
        Of the whole table.
    domains : Domains
        The table's domains (`analysis.domains.build_domains`).
    cut_rows : sequence of numpy.ndarray of int
        The respondents of each cut.
    calibrated : CalibratedCuts, optional
        The calibration of the weights, when the variance is the calibrated one.
    stat_types : collection of str, optional
        As in `domain_estimates`.

    Returns
    -------
    list of pandas.DataFrame
        One `domain_estimates` frame per cut.
    """
    n_domains = len(domains.labels)
    if calibrated is not None and not calibrated.nested:
        return [domain_estimates(calibrated.cells(rows), design, items, n_domains, stat_types)
                for rows in cut_rows]
    # the direct residual pass reads every respondent once per cut; summed by cell, a cut its own alone
    by_cell = calibrated is None or applies(design, calibrated.calibration)
    everyone = 0 if by_cell else len(domains.unit_codes)
    frames: list[pd.DataFrame] = []
    for batch in _batches([len(rows) + everyone for rows in cut_rows]):
        frames.extend(_stacked(items, design, domains, [cut_rows[i] for i in batch], calibrated, stat_types))
    return frames


def _batches(sizes: list[int]) -> list[list[int]]:
    """Consecutive cuts whose entries add up to at most `MAX_ENTRIES` (a larger cut alone)."""
    batches: list[list[int]] = []
    total = 0
    for index, size in enumerate(sizes):
        if not batches or total + size > MAX_ENTRIES:
            batches.append([])
            total = 0
        batches[-1].append(index)
        total += size
    return batches


def _stacked(items: ItemMatrices, design: Design, domains: Domains, batch: list[IntArray],
             calibrated: CalibratedCuts | None, stat_types: Collection[str] | None) -> list[pd.DataFrame]:
    """The cuts of `batch` estimated in one pass (see the module)."""
    unit = domains.unit_codes
    n_units, n_domains, k = int(unit.max()) + 1 if len(unit) else 1, len(domains.labels), len(batch)
    membership = stacked_membership(domains.membership, k, n_units, n_domains)
    rows = np.concatenate(batch)
    cut = np.repeat(np.arange(k), [len(r) for r in batch])
    members = unit_cells(items, design, unit, rows, row_units=cut * n_units + unit[rows])
    cells = members.in_domains(membership)
    if calibrated is not None and applies(design, calibrated.calibration):
        variance = residual_cells(members, design, calibrated.calibration, unit, n_units, k, rows, cut,
                                  calibrated.row_values(rows)).in_domains(membership)
        cells = with_variance(cells, variance, n_domains * k)
    elif calibrated is not None:
        everyone = np.tile(np.arange(len(unit), dtype=np.intp), k)
        stacked_units = np.repeat(np.arange(k), len(unit)) * n_units + np.tile(unit, k)
        residuals = np.concatenate([calibrated.residual(r) for r in batch])
        variance = cell_statistics(items, design, unit, membership, everyone, residuals,
                                   row_units=stacked_units)
        cells = with_variance(cells, variance, n_domains * k)
    table, of_cut = stacked_estimates(cells, design, items, n_domains, k, stat_types)
    bounds = np.searchsorted(of_cut, np.arange(k + 1))
    return [table.iloc[bounds[c]:bounds[c + 1]].reset_index(drop=True) for c in range(k)]


def stacked_membership(membership: tuple[IntArray, IntArray], n_cuts: int, n_units: int, n_domains: int
                       ) -> tuple[IntArray, IntArray]:
    """The (unit, domain) pairs of `n_cuts` stacked cuts: cut ``c``'s unit ``c·n_units + u`` belongs to
    its domains ``c·n_domains + d``.

    Parameters
    ----------
    membership : (numpy.ndarray, numpy.ndarray)
        One cut's pairs (`analysis.domains.Domains.membership`).
    n_cuts, n_units, n_domains : int
        The cuts, and the strides of their unit and domain codes.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
    """
    member_unit, member_domain = membership
    return (np.concatenate([c * n_units + member_unit for c in range(n_cuts)]),
            np.concatenate([c * n_domains + member_domain for c in range(n_cuts)]))


def stacked_estimates(cells: CellStatistics, design: Design, items: ItemMatrices, n_domains: int, n_cuts: int,
                      stat_types: Collection[str] | None) -> tuple[pd.DataFrame, IntArray]:
    """`estimates.domain_estimates` of the cells of `n_cuts` stacked cuts, their rows grouped by cut and
    each cut's in the order of its own estimation, with each cut's own domain codes; and each row's cut.

    Parameters
    ----------
    cells : CellStatistics
        Of the stacked cuts (domains ``c·n_domains + d``).
    design, items, stat_types
        As in `domain_estimates`.
    n_domains, n_cuts : int

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray of int)
    """
    table = domain_estimates(cells, design, items, n_domains * n_cuts, stat_types)
    stacked_domain = table["domain"].to_numpy()
    of_cut = stacked_domain // n_domains
    table["domain"] = stacked_domain % n_domains
    order = np.argsort(of_cut, kind="stable")
    return table.take(order).reset_index(drop=True), of_cut[order]
