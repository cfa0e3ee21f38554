"""The change between two periods from each unit's statistics in both (`analysis.unit_statistics`):
`analysis.period_contrast.change_with_covariance` of the default design, without respondents.

Strata are units over both periods and every respondent is its own PSU. No respondent is in both
periods, so a unit's PSU cross-products of the doubled criteria (each criterion's current and previous
copy) are its two periods' own, side by side; the periods are coupled by centring each unit's stratum
over both: with ``t_h`` the unit's totals over both periods and ``n_h`` its respondents, the centred
cross-products of a domain are ``sum_h f_h (S_h - t_h t_h' / n_h)`` with ``f_h = n_h / (n_h - 1)``.
Post-stratified periods are linearized through their calibration, whose residuals total zero in every
unit, so only their cross-products remain. Each unit's statistics read only its own cells, so a caller
who keeps them (`updated`) recomputes only the units whose cells moved.

References
----------
Binder DA (1983). On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51(3):279-292.
Wolter KM (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 6. Springer.
Lumley T. *survey: analysis of complex survey samples*, R package, help page ``surveyoptions``
(``survey.lonely.psu``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.cell_sums import Int64Array, SumsLayout, sums_design
from analysis.data import AnalysisInputError, FloatArray, no_respondents
from analysis.design import IntArray, LonelyPSU
from analysis.domain_sums import DomainSums
from analysis.domains import only_domains, unit_domains
from analysis.period_contrast import CHANGE_COLUMNS, contrast_table
from analysis.unit_statistics import UnitStatistics, unit_statistics
from instruments.index import IndexDefinition

__all__ = ["change_from_sums", "change_from_unit_statistics"]


def change_from_sums(
    cells_current: pd.DataFrame,
    sums_current: Int64Array,
    cells_previous: pd.DataFrame,
    sums_previous: Int64Array,
    definition: IndexDefinition,
    *,
    parents: Mapping[str, str | None] | None = None,
    weighted: bool | tuple[bool, bool] = False,
    lonely_psu: LonelyPSU = "adjust",
    alpha: float = 0.05,
    stat_types: Collection[str] | None = None,
    domains: Collection[str] | None = None,
) -> pd.DataFrame:
    """`change_with_covariance` of the default design from each period's integer cell sums.

    The same rows, columns and figures as `change_with_covariance` on the respondents of both periods'
    cells, with strata = units over both periods, each respondent a PSU, and in each period either no
    weights or its own post-stratified weights with its calibration (the two models are disjoint
    blocks: the cells of `analysis.cell_sums` are per period; an unweighted period has no calibration
    variable). Each period's unit statistics (`analysis.unit_statistics`) go to
    `change_from_unit_statistics`.

    Parameters
    ----------
    cells_current, cells_previous : pandas.DataFrame
        Each period's cells, as in `analysis.sums_tables.indices_from_sums`: ``unit`` and, when `weighted`,
        ``weight`` and ``calibration_cell`` (codes within the period).
    sums_current, sums_previous : numpy.ndarray of int64
        The cells' sums (`analysis.cell_sums.cell_sums`) in the layout of `definition`.
    definition, parents, lonely_psu, alpha
        As in `change_with_covariance`.
    weighted : bool or (bool, bool)
        Both periods post-stratified, or whether each is (current, previous).
    stat_types : collection of str, optional
        Only the rows of these statistic types (``criterion``, ``element``, ``overall_index``), with
        the same figures; None: all. A change of the overall index alone needs one variance per domain
        instead of one per statistic.
    domains : collection of str, optional
        Only the rows of these domains (unit codes, ``"total"``), with the figures of the full table:
        a stratum is one unit, so a domain's change reads only its own units' cells, and after a change
        in one unit only the domains above it need computing again. Codes not in the table are ignored;
        None: every domain.

    Returns
    -------
    pandas.DataFrame
        As `change_with_covariance`.

    Raises
    ------
    AnalysisInputError
        On a missing cell column, sums of another shape, a period without respondents, or an
        unsupported lonely-PSU rule.
    """
    layout = SumsLayout.of(no_respondents(definition))
    weighing = weighted if isinstance(weighted, tuple) else (weighted, weighted)
    current = unit_statistics(layout, cells_current, sums_current, weighted=weighing[0])
    previous = unit_statistics(layout, cells_previous, sums_previous, weighted=weighing[1])
    return change_from_unit_statistics(current, previous, definition, parents=parents, lonely_psu=lonely_psu,
                                       alpha=alpha, stat_types=stat_types, domains=domains)


def change_from_unit_statistics(
    current: UnitStatistics,
    previous: UnitStatistics,
    definition: IndexDefinition,
    *,
    parents: Mapping[str, str | None] | None = None,
    lonely_psu: LonelyPSU = "adjust",
    alpha: float = 0.05,
    stat_types: Collection[str] | None = None,
    domains: Collection[str] | None = None,
) -> pd.DataFrame:
    """`change_from_sums` from each period's unit statistics, computed once.

    Parameters
    ----------
    current, previous : UnitStatistics
        Each period's, in the layout of `definition` (each weighted or not on its own).
    definition, parents, lonely_psu, alpha, stat_types, domains
        As in `change_from_sums`.

    Returns
    -------
    pandas.DataFrame
        As `change_from_sums` on the cells the statistics were computed from.

    Raises
    ------
    AnalysisInputError
        On a period without respondents, statistics of another layout, or an unsupported lonely-PSU
        rule.
    """
    if lonely_psu not in _RULES:
        raise AnalysisInputError("change_from_sums supports lonely_psu 'adjust', 'certainty', 'remove'")
    layout = SumsLayout.of(no_respondents(definition))
    for name, period in (("current", current), ("previous", previous)):
        if period.layout != layout:
            raise AnalysisInputError(f"the {name} period's unit statistics are in another layout")
        if not period.units:
            raise AnalysisInputError(f"no respondents in the {name} period")
    units = tuple(sorted(set(current.units) | set(previous.units)))
    found = unit_domains(units, parents)
    wanted = found if domains is None else only_domains(found, domains)
    if not wanted.labels:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    k = layout.layout.k
    both = _side_by_side(k, units, (current, previous))
    design = sums_design(list(units), both.respondents, lonely_psu)
    n_psu = design.psu_per_stratum.astype(np.float64)
    scale, lonely = design.variance_scale(), n_psu == 1
    # R's onestrat leaves a lonely stratum uncentred under "adjust" and drops it under the other rules.
    cross_weight = np.where(lonely & (lonely_psu != "adjust"), 0.0, scale)
    centring_weight = np.where(lonely, 0.0, scale / n_psu)
    position = np.full(len(found.labels), -1, dtype=np.intp)
    position[found.unit_codes] = np.arange(len(units))
    member_unit, member_domain = position[wanted.membership[0]], wanted.membership[1]
    n_domains = len(wanted.labels)

    def rolled(array: np.ndarray, rows: IntArray | None = None) -> FloatArray:
        """Each domain's sum of `array`'s rows (the units, or only those at `rows` of the units)."""
        at = np.arange(len(units)) if rows is None else np.full(len(units), -1, dtype=np.intp)
        if rows is not None:
            at[rows] = np.arange(len(rows))
        kept = at[member_unit] >= 0
        # a CSR row sums its own nonzeros in the order given: a domain's sum is the same whichever
        # other domains are asked for
        summing = sparse.csr_matrix((np.ones(int(kept.sum())), (member_domain[kept], at[member_unit[kept]])),
                                    shape=(n_domains, len(array)))
        return np.asarray(summing @ array.reshape(len(array), -1)).reshape((n_domains, *array.shape[1:]))

    centred = np.zeros((n_domains, 4 * k, 4 * k))
    for offset, (period, rows) in enumerate(zip((current, previous), both.rows, strict=True)):
        # No respondent is in both periods: the cross-products between the two copies are zero.
        u = _copies(k, offset)
        centred[:, u[:, None], u[None, :]] = rolled(period.cross * cross_weight[rows, None, None], rows)
    if both.centre.any():  # all zero when both periods are post-stratified (calibrated residuals)
        centred -= _centring(both.centre, centring_weight, member_unit, member_domain, n_domains)
    present = (both.rows_positive > 0).astype(np.float64)
    nothing = np.zeros((n_domains, 0))
    sums = DomainSums(totals=rolled(both.totals), centred=centred, pair_centred=nothing,
                      centred_size=nothing, pair_centred_size=nothing, strata=rolled(present),
                      lonely=nothing, psus=rolled(both.rows_positive), rows=nothing,
                      rows_positive=rolled(both.rows_positive), sum_w=nothing, sum_w2=nothing,
                      sum_w_fpc=nothing)
    return contrast_table(sums, wanted.labels, definition, alpha, stat_types)


_RULES = ("adjust", "certainty", "remove")


@dataclass(frozen=True)
class _BothPeriods:
    """Per unit of either period, the doubled criteria's columns: each criterion's current copy, then its
    previous copy (`contrast_table`)."""

    respondents: FloatArray  # (U,) over both periods: the PSUs of the unit's stratum
    totals: FloatArray  # (U, 4K) weighted totals: satisfied (current, previous), valid (current, previous)
    centre: FloatArray  # (U, 4K) the totals the cross-products are centred on (zero when calibrated)
    rows_positive: FloatArray  # (U, 2K) respondents with a positive weight per criterion copy
    rows: tuple[IntArray, IntArray]  # each period's units' positions among the U units


def _side_by_side(k: int, units: tuple[str, ...],
                  periods: tuple[UnitStatistics, UnitStatistics]) -> _BothPeriods:
    """The two periods' totals and counts per unit, in the doubled criteria's columns."""
    at = {unit: i for i, unit in enumerate(units)}
    n = len(units)
    current, previous = (np.array([at[unit] for unit in period.units], dtype=np.intp) for period in periods)
    both = _BothPeriods(np.zeros(n), np.zeros((n, 4 * k)), np.zeros((n, 4 * k)), np.zeros((n, 2 * k)),
                        (current, previous))
    for offset, (period, rows) in enumerate(zip(periods, both.rows, strict=True)):
        criteria, u = np.arange(k) + k * offset, _copies(k, offset)
        both.respondents[rows] += period.respondents
        both.totals[rows[:, None], u] = period.totals[:, : 2 * k]
        both.centre[rows[:, None], u] = period.variance_totals()[:, : 2 * k]
        both.rows_positive[rows[:, None], criteria] = period.rows_positive[:, :k]
    return both


def _copies(k: int, offset: int) -> IntArray:
    """The columns of one period's satisfied and valid totals among the doubled criteria's (offset 0:
    the current period, 1: the previous)."""
    criteria = np.arange(k) + k * offset
    return np.concatenate([criteria, 2 * k + criteria])


def _centring(centre: FloatArray, weight: FloatArray, member_unit: IntArray, member_domain: IntArray,
              n_domains: int) -> FloatArray:
    """Per domain, the sum over its units of ``weight_u t_u t_u'`` (``t`` the unit's totals): each unit's
    centring of its stratum, scaled. A domain of one unit takes its outer product; a larger one a matrix
    product over its units, in membership order, so a domain's figure does not depend on which other
    domains are computed."""
    width = centre.shape[1]
    out = np.zeros((n_domains, width, width))
    scaled = centre * weight[:, None]
    order = np.argsort(member_domain, kind="stable")
    members = np.split(member_unit[order], np.flatnonzero(np.diff(member_domain[order])) + 1)
    domains = np.unique(member_domain)
    single = np.array([len(m) == 1 for m in members], dtype=bool)
    if single.any():
        alone = np.array([m[0] for m, one in zip(members, single, strict=True) if one], dtype=np.intp)
        out[domains[single]] = scaled[alone][:, :, None] * centre[alone][:, None, :]
    for domain, units in zip(domains[~single], [m for m, one in zip(members, single, strict=True) if not one],
                             strict=True):
        out[domain] = scaled[units].T @ centre[units]
    return out
