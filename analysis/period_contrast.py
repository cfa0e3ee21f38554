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

`change_from_sums` gives the same table from each period's integer cell sums (`analysis.cell_sums`),
without respondents, for the default design with each period unweighted or post-stratified.

References
----------
Binder DA (1983). On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51(3):279-292.
Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.4 and 5.x (``svycontrast``).
Kish L (1965). *Survey Sampling*, sec. 12.4 (overlapping samples, covariances of periods). Wiley.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields

import numpy as np
import pandas as pd
from scipy import sparse, stats

from analysis.calibration import Calibration, calibrated_cells
from analysis.cell_sums import Int64Array, SummedCells, SumsLayout, sums_cell_statistics, sums_design
from analysis.change import Direction
from analysis.data import AnalysisInputError, FloatArray, ItemMatrices, item_matrices, no_respondents
from analysis.design import IntArray, LonelyPSU, build_design
from analysis.domain_sums import DomainSums, domain_sums
from analysis.domains import build_domains, only_domains
from analysis.estimates import _ratio, composite_coefficients
from analysis.sufficient import CellStatistics, Layout, cell_statistics
from instruments.index import IndexDefinition

__all__ = ["change_from_sums", "change_with_covariance"]

# The columns of a change table, in order (`_contrast`).
_COLUMNS = ["domain", "stat_type", "stat", "est1", "est0", "diff", "se", "df", "lo", "hi", "p_value",
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
    return _contrast(domain_sums(cells, design, n_domains), domains.labels, definition, alpha)


def _copy_columns(layout: Layout, offset: int) -> dict[str, IntArray]:
    """Where one period's columns go among the doubled items' (``offset`` 0 current, 1 previous).

    Keys: ``totals``, ``q`` (denominators), ``pairs`` (extra ratios) and ``u`` (``[s, v]``) of
    `analysis.sufficient.Layout`. The comprehensive and any-valid columns are not doubled (`_doubled`):
    both periods' go to the same place.
    """
    k, e, j = layout.k, layout.e, layout.j
    criteria, elements = np.arange(k) + k * offset, np.arange(e) + e * offset
    separate = np.arange(j) + j * offset
    totals = [criteria + 2 * k * block for block in range(4)]
    totals += [np.array([8 * k, 8 * k + 1]), 8 * k + 2 + separate, 8 * k + 2 + 2 * j + separate]
    q = [criteria, 2 * k + elements, np.array([2 * k + 2 * e]), 2 * k + 2 * e + 1 + separate]
    pairs = [criteria, np.array([2 * k]), 2 * k + 1 + separate]
    return {"totals": np.concatenate(totals), "q": np.concatenate(q), "pairs": np.concatenate(pairs),
            "u": np.concatenate([criteria, 2 * k + criteria])}


def _doubled_statistics(layout: Layout, periods: list[CellStatistics], n_domains: int) -> CellStatistics:
    """The `CellStatistics` of the doubled items from each period's own (same strata and domains).

    No respondent is in both periods, so a (stratum, domain) cell's sums are those of its periods, each
    in its period's copy; the cross-products between the copies are zero. What couples the periods is
    the centring on each stratum over both, done later from these totals (`domain_sums`).
    """
    doubled = Layout(2 * layout.k, 2 * layout.e, 2 * layout.j)
    keys = [p.stratum * n_domains + p.domain for p in periods]
    key, at = np.unique(np.concatenate(keys), return_inverse=True)
    n = len(key)
    totals = np.zeros((n, doubled.n_totals))
    cross = np.zeros((n, 2 * doubled.k, 2 * doubled.k))
    pair_cross = np.zeros((n, doubled.n_pairs, 3))
    counts = {name: np.zeros((n, doubled.n_denominators))
              for name in ("psu_present", "rows", "rows_positive", "sum_w", "sum_w2")}
    calibrated = any(p.variance_totals is not None for p in periods)
    variance_totals = np.zeros((n, doubled.n_totals)) if calibrated else None
    start = 0
    for offset, period in enumerate(periods):
        rows = at[start : start + len(period.stratum)]
        start += len(period.stratum)
        columns = _copy_columns(layout, offset)
        # rows are distinct within a period, so a fancy-indexed += adds each of its cells once
        totals[rows[:, None], columns["totals"]] += period.totals
        u = columns["u"]
        cross[rows[:, None, None], u[None, :, None], u[None, None, :]] = period.cross
        pair_cross[rows[:, None], columns["pairs"]] += period.pair_cross  # (not read by `_contrast`)
        for name, array in counts.items():
            array[rows[:, None], columns["q"]] += getattr(period, name)
        if variance_totals is not None:
            own = period.totals if period.variance_totals is None else period.variance_totals
            variance_totals[rows[:, None], columns["totals"]] += own
    return CellStatistics(doubled, (key // n_domains).astype(np.intp), (key % n_domains).astype(np.intp),
                          totals, cross, pair_cross, counts["psu_present"], counts["rows"],
                          counts["rows_positive"], counts["sum_w"], counts["sum_w2"], variance_totals)


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
    variable). Each period's statistics are those of `analysis.cell_sums.sums_cell_statistics`, put in
    its copy of the doubled items (`_doubled_statistics`): no respondent is in both periods, so the
    copies' cross-products vanish, and the covariance of the periods comes from centring each unit over
    both, from the totals and respondents of its cells.

    Parameters
    ----------
    cells_current, cells_previous : pandas.DataFrame
        Each period's cells, as in `analysis.tables.indices_from_sums`: ``unit`` and, when `weighted`,
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
    if lonely_psu not in ("adjust", "certainty", "remove"):
        raise AnalysisInputError("change_from_sums supports lonely_psu 'adjust', 'certainty', 'remove'")
    layout = SumsLayout.of(no_respondents(definition))
    weighing = weighted if isinstance(weighted, tuple) else (weighted, weighted)
    parts = []
    for offset, (cells, sums) in enumerate([(cells_current, sums_current), (cells_previous, sums_previous)]):
        for name in ["unit", *(["weight", "calibration_cell"] if weighing[offset] else [])]:
            if name not in cells.columns:
                raise AnalysisInputError(f"missing cell column: {name}")
        if sums.shape != (len(cells), layout.length):
            expected = (len(cells), layout.length)
            raise AnalysisInputError(f"sums have shape {sums.shape}, expected {expected}")
        keep = sums[:, 0] > 0
        if not keep.any():
            raise AnalysisInputError(f"no respondents in the {('current', 'previous')[offset]} period")
        parts.append((cells.loc[keep].reset_index(drop=True), sums[keep]))
    units = pd.concat([c["unit"] for c, _ in parts], ignore_index=True)
    found = build_domains(units, parents)
    stratum, unit_labels = pd.factorize(units.astype("string"), sort=True)
    respondents = np.bincount(stratum, weights=np.concatenate([s[:, 0] for _, s in parts]),
                              minlength=len(unit_labels))
    design = sums_design([str(u) for u in unit_labels], respondents, lonely_psu)
    # A stratum is one unit: its (stratum, domain) cells are the same for every domain above the unit, so
    # they are centred once per unit (its own domain) and summed up the hierarchy afterwards.
    own = np.unique(found.unit_codes)
    periods, start = [], 0
    for (cells, sums), post_stratified in zip(parts, weighing, strict=True):
        rows = slice(start, start + len(cells))
        start += len(cells)
        summed = SummedCells(
            sums=sums, unit=found.unit_codes[rows],
            weight=cells["weight"].to_numpy(np.float64) if post_stratified else np.ones(len(cells)),
            calibration_cell=cells["calibration_cell"].to_numpy(np.intp) if post_stratified else None)
        periods.append(sums_cell_statistics(layout, summed, stratum[rows].astype(np.intp), (own, own)))
    n_domains = len(found.labels)
    by_unit = domain_sums(_doubled_statistics(layout.layout, periods, n_domains), design, n_domains,
                           ratios_only=True)
    wanted = found if domains is None else only_domains(found, domains)
    if not wanted.labels:
        return pd.DataFrame(columns=_COLUMNS)
    return _contrast(_rolled_up(by_unit, wanted.membership, len(wanted.labels)), wanted.labels, definition,
                     alpha, stat_types)


def _rolled_up(units: DomainSums, membership: tuple[IntArray, IntArray], n_domains: int) -> DomainSums:
    """Each of `n_domains` domains' sums from its units' own (every field of `DomainSums` is a sum over
    cells); `membership` pairs unit codes (rows of `units`) with the domains summed."""
    member_unit, member_domain = membership
    n_units = units.totals.shape[0]
    # A row of a CSR product sums its own nonzeros in column order, so a domain's sums are the same
    # whether the other domains are summed too or not (`domains`).
    summing = sparse.csr_matrix((np.ones(len(member_unit)), (member_domain, member_unit)),
                                shape=(n_domains, n_units))

    def rolled(array: FloatArray) -> FloatArray:
        flat = array.reshape(array.shape[0], -1)
        return np.asarray(summing @ flat).reshape((n_domains, *array.shape[1:]))

    return DomainSums(**{f.name: rolled(getattr(units, f.name)) for f in fields(units)})


def _contrast(sums: DomainSums, labels: tuple[str, ...], definition: IndexDefinition,
              alpha: float, stat_types: Collection[str] | None = None) -> pd.DataFrame:
    """The table of `change_with_covariance` from the domain sums of the doubled items (only the rows
    of `stat_types` when given)."""
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

