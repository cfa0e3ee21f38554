"""Index tables from integer cell sums (`analysis.cell_sums`), without respondents: the same rows and
figures as `analysis.tables.compute_indices` on the respondents of the cells, under the default design
(strata = units, each respondent a PSU) with no weights or post-stratified weights.

`indices_from_sums` computes each unit's statistics (`analysis.unit_statistics`) and sums them into
domains; `indices_from_unit_statistics` starts from statistics already computed, so that a caller who
keeps them recomputes only the units whose cells moved.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.cell_sums import Int64Array, SumsLayout, sums_design
from analysis.data import AnalysisInputError, no_respondents
from analysis.design import LonelyPSU
from analysis.domains import only_domains, unit_domains
from analysis.estimates import domain_estimates
from analysis.intervals import DEFAULT_INTERVAL_METHOD, IntervalMethod
from analysis.sufficient import aggregate_to_domains
from analysis.tables import OUTPUT_COLUMNS, Targets, labelled_table
from analysis.unit_statistics import UnitStatistics, unit_statistics
from instruments.index import IndexDefinition


def indices_from_sums(
    cells: pd.DataFrame,
    sums: Int64Array,
    definition: IndexDefinition,
    *,
    parents: Mapping[str, str | None] | None = None,
    weighted: bool = False,
    targets: Targets = None,
    alpha: float = 0.05,
    ci_method: IntervalMethod = DEFAULT_INTERVAL_METHOD,
    min_n: int = 10,
    lonely_psu: LonelyPSU = "fail",
    stat_types: Collection[str] | None = None,
    domains: Collection[str] | None = None,
) -> pd.DataFrame:
    """`compute_indices` of the default design from integer sums per weighting cell (`analysis.cell_sums`).

    The same rows, columns and figures as `compute_indices` on the respondents of the cells, with
    ``strata`` = units, each respondent a PSU, and either no weights or post-stratified weights with
    their calibration (``weights`` and ``calibration`` of `analysis.weights.poststratify`).

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per cell: ``unit`` and, when `weighted`, ``weight`` (each respondent's) and
        ``calibration_cell`` (the post-stratification cell, after collapsing; within one unit).
    sums : numpy.ndarray of int64, shape (len(cells), SumsLayout.length)
        The cells' sums (`analysis.cell_sums.cell_sums`), in the layout of `definition`.
    definition, parents, targets, alpha, ci_method, min_n, lonely_psu
        As in `compute_indices`.
    weighted : bool
        Post-stratified cells (the variance is taken through their calibration), else unweighted.
    stat_types : collection of str, optional
        Only the rows of these statistic types, e.g. ``("overall_index",)``: what a trend line shows,
        about 1/57 of the SIPAS table's rows and of its inference. Their figures are those of the full
        table. None: every statistic.
    domains : collection of str, optional
        Only the rows of these domains (unit codes, ``"total"``), with the figures of the full table:
        each domain's estimates read only its own units' cells (strata are units), so after a change
        in one unit only the domains above it need computing again. Codes not in the table are ignored.
        None: every domain.

    Returns
    -------
    pandas.DataFrame
        As `compute_indices` without `by` and periods (restricted to `stat_types` and `domains` when
        given).

    References
    ----------
    Deville JC, Särndal CE (1992), *JASA* 87:376-382; Lumley T (2010), *Complex Surveys*, Wiley.
    """
    layout = SumsLayout.of(no_respondents(definition))
    return indices_from_unit_statistics(unit_statistics(layout, cells, sums, weighted=weighted), definition,
                                        parents=parents, targets=targets, alpha=alpha, ci_method=ci_method,
                                        min_n=min_n, lonely_psu=lonely_psu, stat_types=stat_types,
                                        domains=domains)


def indices_from_unit_statistics(
    units: UnitStatistics,
    definition: IndexDefinition,
    *,
    parents: Mapping[str, str | None] | None = None,
    targets: Targets = None,
    alpha: float = 0.05,
    ci_method: IntervalMethod = DEFAULT_INTERVAL_METHOD,
    min_n: int = 10,
    lonely_psu: LonelyPSU = "fail",
    stat_types: Collection[str] | None = None,
    domains: Collection[str] | None = None,
) -> pd.DataFrame:
    """`indices_from_sums` from each unit's statistics (`analysis.unit_statistics`), computed once.

    Parameters
    ----------
    units : UnitStatistics
        In the layout of `definition`.
    definition, parents, targets, alpha, ci_method, min_n, lonely_psu, stat_types, domains
        As in `indices_from_sums`.

    Returns
    -------
    pandas.DataFrame
        As `indices_from_sums` on the cells the statistics were computed from.

    Raises
    ------
    AnalysisInputError
        On statistics of another layout, or as `compute_indices` (a lonely stratum under "fail").
    """
    items = no_respondents(definition)
    if units.layout != SumsLayout.of(items):
        raise AnalysisInputError("the unit statistics are not in the layout of this definition")
    found = unit_domains(units.units, parents)
    wanted = found if domains is None else only_domains(found, domains)
    if not wanted.labels:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    design = sums_design(list(units.units), units.respondents, lonely_psu)
    statistics = aggregate_to_domains(units.layout.layout, np.arange(len(units.units), dtype=np.intp),
                                      found.unit_codes, wanted.membership, *units.arrays)
    if units.calibrated:
        statistics = replace(statistics, variance_totals=np.zeros_like(statistics.totals))
    table = domain_estimates(statistics, design, items, len(wanted.labels), stat_types)
    return labelled_table(table, wanted, (), targets=targets, alpha=alpha, ci_method=ci_method,
                          all_intervals=False, min_n=min_n)
