"""The cuts of one table estimated together: a batch of cuts stacked into one pass.

`analysis.tables.compute_indices` estimates each cut of a table (each period, each category of each
``by`` column) on its own. A unit page's breakdowns are seventeen cuts of a few hundred respondents,
and each cut paid the fixed cost of two passes over the respondents, the residuals, the domain sums and
a frame of its own: 2.5 ms a cut, where the respondents themselves cost almost nothing.

Here the cuts of a batch are stacked: cut ``c``'s respondents get units ``c·U + u`` and its domains
``c·D + d``, so the cells of different cuts never meet, and one `sufficient.cell_statistics`, one
`estimates.domain_estimates` give every cut's rows. Each (stratum, unit) cell holds the same
respondents in the same order as when its cut is estimated alone, so the figures are the same to the
bit (tests/analysis/test_cut_cells.py). A batch holds at most `MAX_ENTRIES` rows of respondents (a
calibrated cut's variance pass reads every respondent), so memory stays bounded; a calibration whose
blocks cross units needs a residual per domain and keeps the cut-by-cut computation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from analysis.calibration import CalibratedCuts, with_variance
from analysis.data import ItemMatrices
from analysis.design import Design, IntArray
from analysis.domains import Domains
from analysis.estimates import domain_estimates
from analysis.sufficient import cell_statistics

MAX_ENTRIES = 65_536  # rows of respondents in one batch (x ~100 totals of 8 bytes: about 50 MB)


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
    everyone = len(domains.unit_codes) if calibrated is not None else 0
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
    member_unit, member_domain = domains.membership
    n_units, n_domains, k = int(unit.max()) + 1 if len(unit) else 1, len(domains.labels), len(batch)
    membership = (np.concatenate([c * n_units + member_unit for c in range(k)]),
                  np.concatenate([c * n_domains + member_domain for c in range(k)]))
    rows = np.concatenate(batch)
    cut = np.repeat(np.arange(k), [len(r) for r in batch])
    cells = cell_statistics(items, design, unit, membership, rows, row_units=cut * n_units + unit[rows])
    if calibrated is not None:
        everyone = np.tile(np.arange(len(unit), dtype=np.intp), k)
        stacked_units = np.repeat(np.arange(k), len(unit)) * n_units + np.tile(unit, k)
        residuals = np.concatenate([calibrated.residual(r) for r in batch])
        variance = cell_statistics(items, design, unit, membership, everyone, row_units=stacked_units,
                                   row_values=residuals)
        cells = with_variance(cells, variance, n_domains * k)
    table = domain_estimates(cells, design, items, n_domains * k, stat_types)
    stacked_domain = table["domain"].to_numpy()
    of_cut = stacked_domain // n_domains
    table["domain"] = stacked_domain % n_domains
    order = np.argsort(of_cut, kind="stable")  # each cut's rows in the order of its own estimation
    table = table.take(order).reset_index(drop=True)
    bounds = np.searchsorted(of_cut[order], np.arange(k + 1))
    return [table.iloc[bounds[c]:bounds[c + 1]].reset_index(drop=True) for c in range(k)]
