"""Change between two periods under one design over both: the difference with its covariance.

`analysis.change.period_change` treats the two periods' estimates as independent. Under one design
spanning both periods (strata = units, with respondents of both periods in every unit) the two
estimates share each stratum's centring, so they are correlated and the variance of the difference is
``V(d) = V1 + V0 - 2 C``. The difference of two domain estimates is a smooth function of the ratios
of both periods, so its linearized variable is ``g' x`` with ``x = [w s (period 1), w s (period 0),
w v (period 1), w v (period 0)]`` and ``g`` the difference of the two periods' coefficient vectors;
the sufficient statistics of `analysis.sufficient` with every criterion doubled (one copy per period)
give ``V(d) = g' (sum_h G_h) g``. This is R's ``svycontrast`` of the two periods' ``svyratio`` on one
design (tests/analysis/r/change_reference.R).

`analysis.unit_change.change_from_sums` gives the same table from each period's integer cell sums
(`analysis.cell_sums`), without respondents, for the default design with each period unweighted or
post-stratified; both end in `contrast_table`.

References
----------
Binder DA (1983). On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51(3):279-292.
Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.4 and 5.x (``svycontrast``).
Kish L (1965). *Survey Sampling*, sec. 12.4 (overlapping samples, covariances of periods). Wiley.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analysis.calibration import Calibration
from analysis.change import Direction
from analysis.cut_cells import calibrated_cells
from analysis.data import AnalysisInputError, ItemMatrices, item_matrices, no_respondents
from analysis.design import LonelyPSU, build_design
from analysis.domain_sums import DomainSums, domain_sums
from analysis.domains import build_domains
from analysis.estimates import _ratio, composite_coefficients
from analysis.sufficient import cell_statistics
from instruments.index import IndexDefinition

__all__ = ["CHANGE_COLUMNS", "change_with_covariance", "contrast_table"]

# The columns of a change table, in order (`_contrast`).
CHANGE_COLUMNS = ["domain", "stat_type", "stat", "est1", "est0", "diff", "se", "df", "lo", "hi", "p_value",
            "direction"]


def _doubled(items: ItemMatrices, current: np.ndarray) -> ItemMatrices:
    """The items with every criterion and element split into a current and a previous copy."""
    previous = ~current

    def split(matrix: np.ndarray) -> np.ndarray:
        return np.concatenate([matrix & current[:, None], matrix & previous[:, None]], axis=1)

    valid, satisfied = split(items.valid), split(items.satisfied)
    score = np.concatenate([items.score * current[:, None], items.score * previous[:, None]], axis=1)
    listed, favourable = split(items.listed), split(items.favourable)
    element_valid = split(items.element_valid)
    packed = np.concatenate(
        [valid.astype(np.int16) + satisfied, score, listed.astype(np.int16) + favourable,
         items.all_satisfied[:, None], items.any_valid[:, None], element_valid],
        axis=1, dtype=np.int16,
    )
    e_count = len(items.elements)
    return ItemMatrices(
        criteria=tuple(f"{c}@1" for c in items.criteria) + tuple(f"{c}@0" for c in items.criteria),
        element_of=np.concatenate([items.element_of, items.element_of + e_count]),
        elements=tuple(f"{e}@1" for e in items.elements) + tuple(f"{e}@0" for e in items.elements),
        element_weights=np.concatenate([items.element_weights, items.element_weights]),
        valid=valid, satisfied=satisfied, score=score.astype(np.int16),
        separate=tuple(f"{s}@1" for s in items.separate) + tuple(f"{s}@0" for s in items.separate),
        listed=listed, favourable=favourable, element_valid=element_valid,
        any_valid=items.any_valid, all_satisfied=items.all_satisfied, packed=packed,
    )


def change_with_covariance(
    data: pd.DataFrame,
    definition: IndexDefinition,
    *,
    unit_col: str,
    period_col: str,
    current: str,
    previous: str,
    parents: Mapping[str, str | None] | None = None,
    weights: pd.Series | None = None,
    calibration: Calibration | None = None,
    lonely_psu: LonelyPSU = "adjust",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Criterion, element and overall index changes ``current - previous`` with their covariance.

    Parameters
    ----------
    data : pandas.DataFrame
        Respondents of (at least) both periods; other periods are left out of the design.
    definition : instruments.index.IndexDefinition
    unit_col, period_col : str
        The unit (stratum of the default design) and the period label columns.
    current, previous : str
        The two period labels.
    parents : mapping, optional
        ``unit -> parent``, as in `analysis.tables.compute_indices`.
    weights : pandas.Series, optional
        Weights aligned with `data` (1 when omitted); with `calibration`, linearized through it.
    calibration : analysis.calibration.Calibration, optional
        Calibration model of `weights` over the rows of both periods.
    lonely_psu : {"adjust", "certainty", "remove"}
        Rule for single-PSU strata (the default design: a unit with one respondent over both periods).
    alpha : float
        Two-sided level of the interval and test (t on the smaller of the two periods' design df).

    Returns
    -------
    pandas.DataFrame
        One row per domain x statistic (criterion, element, overall_index) defined in either period:
        ``domain, stat_type, stat, est1, est0, diff, se, df, lo, hi, p_value, direction``. A statistic
        defined in one period only has direction ``not_comparable`` and NaN statistics; one without
        design df in a period (a single respondent) keeps diff and se but no interval or test, and is
        ``not_comparable`` too.

    Raises
    ------
    AnalysisInputError
        On a missing column, a period label absent from the data, or an unsupported lonely-PSU rule.
    """
    if lonely_psu not in ("adjust", "certainty", "remove"):
        raise AnalysisInputError("change_with_covariance supports lonely_psu 'adjust', 'certainty', 'remove'")
    for column in (unit_col, period_col):
        if column not in data.columns:
            raise AnalysisInputError(f"missing column: {column}")
    labels = data[period_col].astype("string")
    for label in (current, previous):
        if not (labels == label).any():
            raise AnalysisInputError(f"no respondents in period {label!r}")
    keep = (labels == current) | (labels == previous)
    sub = data.loc[keep.to_numpy()]
    w = None if weights is None else weights.reindex(sub.index).to_numpy(dtype=np.float64)
    items = _doubled(item_matrices(sub, definition), (labels[keep] == current).to_numpy())
    domains = build_domains(sub[unit_col], parents)
    design = build_design(sub, unit_col=unit_col, weight=w, lonely_psu=lonely_psu)
    n_domains = len(domains.labels)
    rows = np.arange(len(sub), dtype=np.intp)
    if calibration is None:
        cells = cell_statistics(items, design, domains.unit_codes, domains.membership, rows)
    else:
        cells = calibrated_cells(items, design, calibration.aligned(sub.index), domains.unit_codes,
                                 domains.membership, rows, n_domains)
    return contrast_table(domain_sums(cells, design, n_domains), domains.labels, definition, alpha)


def contrast_table(sums: DomainSums, labels: tuple[str, ...], definition: IndexDefinition,
                   alpha: float, stat_types: Collection[str] | None = None) -> pd.DataFrame:
    """The table of `change_with_covariance` from the domain sums of the doubled items.

    Parameters
    ----------
    sums : DomainSums
        Per domain, of the doubled items (each criterion's current copy, then its previous copy). Only
        ``totals`` (satisfied, then valid), ``centred``, ``rows_positive``, ``psus`` and ``strata`` are
        read, and of these only the criterion columns.
    labels : tuple of str
        The domains' labels.
    definition : IndexDefinition
    alpha : float
        Two-sided level of the interval and test.
    stat_types : collection of str, optional
        Only the rows of these statistic types; None: all.

    Returns
    -------
    pandas.DataFrame
        As `change_with_covariance`.
    """
    n_domains = len(labels)
    k = len(definition.criteria)
    names = [("criterion", c.item_id) for c in definition.criteria]
    names += [("element", e.element_id) for e in definition.elements] + [("overall_index", "overall")]
    kept = np.array([stat_types is None or t in stat_types for t, _ in names])
    names = [name for name, keep in zip(names, kept, strict=True) if keep]
    s_cols, v_cols = (np.arange(2 * k), np.arange(2 * k, 4 * k))
    sat, val = sums.totals[:, s_cols], sums.totals[:, v_cols]
    p = _ratio(sat, val)
    defined = (val > 0) & (sums.rows_positive[:, : 2 * k] > 0)
    base = no_respondents(definition)
    parts = []
    for offset in (0, k):  # the current period's copies first, then the previous period's
        d = defined[:, offset : offset + k]
        coefs, _ = composite_coefficients(d, base)
        coefs = np.concatenate([np.broadcast_to(np.eye(k) * d[:, None, :], (n_domains, k, k)), coefs],
                               axis=1)[:, kept]
        p_t = np.where(d, p[:, offset : offset + k], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(d, 1.0 / np.where(d, val[:, offset : offset + k], 1.0), 0.0)
        g = np.zeros((n_domains, coefs.shape[1], 4 * k))
        g[:, :, offset : offset + k] = coefs * inv[:, None, :]
        g[:, :, 2 * k + offset : 2 * k + offset + k] = -coefs * (p_t * inv)[:, None, :]
        est = np.einsum("dsk,dk->ds", coefs, p_t)
        stat_defined = (coefs * d[:, None, :]).sum(axis=2) > 0
        df = sums.psus[:, offset : offset + k].max(axis=1) - sums.strata[:, offset : offset + k].max(axis=1)
        parts.append((g, np.where(stat_defined, est, np.nan), df))
    (g1, est1, df1), (g0, est0, df0) = parts
    diff_g = g1 - g0
    var = np.maximum((np.matmul(diff_g, sums.centred) * diff_g).sum(axis=2), 0.0)
    df = np.minimum(df1, df0)[:, None] * np.ones((1, len(names)))
    estimable = np.isfinite(est1) & np.isfinite(est0)
    comparable = estimable & (df > 0)  # a t test needs design df
    diff = est1 - est0
    se = np.sqrt(var)
    with np.errstate(invalid="ignore"):
        quantile = stats.t.ppf(1 - alpha / 2, np.where(comparable, df, 1.0))
        statistic = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
        p_value = 2 * stats.t.sf(np.abs(statistic), np.where(comparable, df, 1.0))
    significant = comparable & (p_value < alpha)
    direction = np.where(significant, np.where(diff > 0, Direction.UP.value, Direction.DOWN.value),
                         Direction.NOT_SIGNIFICANT.value)
    direction = np.where(comparable, direction, Direction.NOT_COMPARABLE.value)
    nan = np.full_like(diff, np.nan)
    table = pd.DataFrame({
        "domain": np.repeat(np.asarray(labels, dtype=object), len(names)),
        "stat_type": [t for t, _ in names] * n_domains,
        "stat": [s for _, s in names] * n_domains,
        "est1": est1.ravel(), "est0": est0.ravel(),
        "diff": np.where(estimable, diff, nan).ravel(),
        "se": np.where(estimable, se, nan).ravel(),
        "df": np.where(estimable, df, nan).ravel(),
        "lo": np.where(comparable, diff - quantile * se, nan).ravel(),
        "hi": np.where(comparable, diff + quantile * se, nan).ravel(),
        "p_value": np.where(comparable, p_value, nan).ravel(),
        "direction": direction.ravel(),
    })
    return table[table["est1"].notna() | table["est0"].notna()].reset_index(drop=True)

