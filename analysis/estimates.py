"""Point estimates and linearized variances of every statistic in every domain, from cell statistics.

Statistics (respondent i, criterion k, weight w_i, valid v_ik, satisfied s_ik):

* criterion index ``p_k = sum w s_k / sum w v_k`` (ratio estimator);
* element index: mean of its criteria's indices that have a valid answer in the domain; overall index:
  element-weight mean of the element indices defined in the domain. Both are linear in the ``p_k``
  given the domain, so their linearized variable is ``z_i = sum_k a_k w_i (s_ik - p_k v_ik) / sum w v_k``;
* mean score ``sum w y_k / sum w v_k``; comprehensive index ``sum w c / sum w a`` (c: every answered
  criterion satisfied, a: at least one answered); separate shares ``sum w f_j / sum w l_j``.

Variances are stratified with-replacement Taylor linearization with R's domain convention; degrees of
freedom are R's ``degf()`` of the subset design (PSUs minus strata among the statistic's respondents).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data import FloatArray, ItemMatrices
from analysis.design import Design, IntArray, LonelyPSUError
from analysis.domain_sums import domain_sums
from analysis.sufficient import CellStatistics

_ROUNDING = 256 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class _Block:
    """Estimates of one statistic type for every domain: est and var have shape (domains, stats)."""

    stat_type: str
    names: tuple[str, ...]
    est: FloatArray
    var: FloatArray
    proportion: bool  # a share (gets proportion intervals and targets) rather than a mean score
    denominators: list[int]  # the layout's denominator index of each statistic
    # Composites only: the variance with every criterion's precision floored at its Kish binomial
    # variance, and where it applies (`_floored_composite_variance`).
    floor_var: FloatArray | None = None
    floored: np.ndarray | None = None


def _fpc_share(sum_w_fpc: FloatArray, sum_w: FloatArray) -> FloatArray:
    """The domain's finite population correction ``1 - f``: the weight-share average of ``1 - f_h``.

    The default interval's Kish floor is the binomial variance ``(1 - f) p (1 - p) / n_eff`` of a
    sample drawn without replacement, so it is expressed as the effective size ``n_eff / (1 - f)``;
    a census (``f = 1``) has no floor (infinite size), and without an fpc the factor is 1.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(sum_w > 0, sum_w_fpc / np.where(sum_w > 0, sum_w, 1.0), 1.0)
    return np.asarray(np.maximum(share, 0.0), dtype=np.float64)


def _quadratic(c: FloatArray, v: FloatArray) -> FloatArray:
    """``c[d, s]' v[d] c[d, s]`` for every domain d and statistic s (batched matmul, not einsum)."""
    return np.asarray((np.matmul(c, v) * c).sum(axis=2), dtype=np.float64)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


Triple = tuple[FloatArray, FloatArray, FloatArray]


def _ratio_variance(v: Triple, size: Triple, est: FloatArray, den: FloatArray) -> FloatArray:
    """Linearized variance of num / den from the centred (nn, nd, dd) cross-products `v`; `size` holds
    the magnitudes their rounding is relative to."""
    v_nn, v_nd, v_dd = v
    s_nn, s_nd, s_dd = size
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (v_nn - 2 * est * v_nd + est * est * v_dd) / (den * den)
        magnitude = (s_nn + 2 * np.abs(est) * s_nd + est * est * s_dd) / (den * den)
    return _clean_variance(var, magnitude)


def _clean_variance(var: FloatArray, magnitude: FloatArray) -> FloatArray:
    """Zero a variance that is rounding noise of its terms (e.g. everyone gave the same code).

    The centred cross-products are differences of large sums, so an exactly zero variance comes out as
    +-1e-16 of those sums, and its square root as ~1e-8: far from R's zero at 1e-10 tolerance. The
    noise is relative to the sums subtracted (`magnitude`, from `DomainSums.centred_size`), not to
    the centred values: measured against the latter, two respondents with the same code and weights
    5.87 and 5.78 kept a variance of 2e-16 whose interval changed when the weights were scaled.
    """
    return np.where(var <= _ROUNDING * magnitude, 0.0, var)


def _floored_composite_variance(c: FloatArray, v: FloatArray, size: FloatArray, p: FloatArray,
                                crit_var: FloatArray,
                                kish: FloatArray, defined: np.ndarray,
                                coefs: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """Composite variances with each criterion's linearized variable scaled up to its Kish floor.

    A criterion's default interval uses ``max(se^2, p (1 - p) / n_kish)``: a single share can never
    look more precise than a binomial on Kish's n_eff. A composite (element, overall) is an average of
    criteria and is genuinely more precise than one binomial share, so flooring it at ``p (1 - p) /
    n_kish`` would throw that away (coverage 99-100 %, intervals 1.5-3.7 times R's: docs/analysis-
    coverage.md). Instead each criterion's linearized variable ``z_k`` is multiplied by
    ``f_k = sqrt(max(1, (p_k (1 - p_k) / n_kish_k) / se_k^2))`` before the composite's variance is
    formed: every criterion gets its own floor, the covariances between criteria (the halo of one
    respondent's answers) are kept, and where no criterion is floored there is no floor: the interval
    is R's ``wilson``.

    Returns
    -------
    floor_var : numpy.ndarray
        (domains, composites); NaN where a contributing criterion has zero design variance at
        0 < p_k < 1 (nothing to scale), where the caller falls back to the composite's Kish n_eff.
    floored : numpy.ndarray of bool
        Whether any contributing criterion is floored; where not, `floor_var` does not apply.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = p * (1 - p) / kish
        scale = np.where(defined & (crit_var > 0) & (floor > crit_var), np.sqrt(floor / crit_var), 1.0)
    unscalable = defined & (crit_var == 0) & (floor > 0)
    c_floor = c * np.concatenate([scale, scale], axis=1)[:, None, :]
    var = _clean_variance(_quadratic(c_floor, v), _quadratic(np.abs(c_floor), size))
    contributes = coefs > 0
    blocked = (contributes & unscalable[:, None, :]).any(axis=2)
    floored = blocked | (contributes & (scale > 1)[:, None, :]).any(axis=2)
    return np.where(blocked, np.nan, var), floored


def composite_coefficients(defined: np.ndarray, items: ItemMatrices) -> tuple[FloatArray, np.ndarray]:
    """Coefficients of the criterion indices in each element index and in the overall index.

    An element is the mean of its criteria defined in the domain; the overall index is the
    element-weight mean of the defined elements.

    Parameters
    ----------
    defined : numpy.ndarray of bool, shape (D, K)
        Criterion k has a valid answer in domain d.
    items : ItemMatrices
        Only ``element_of`` and ``element_weights`` are used.

    Returns
    -------
    coefs : numpy.ndarray, shape (D, E + 1, K)
        Rows 0..E-1 the elements, row E the overall index.
    element_defined : numpy.ndarray of bool, shape (D, E)
    """
    k, e_count = defined.shape[1], len(items.element_weights)
    member = np.zeros((e_count, k))
    member[items.element_of, np.arange(k)] = 1.0
    counts = defined.astype(np.float64) @ member.T  # (D, E) defined criteria per element
    with np.errstate(divide="ignore", invalid="ignore"):
        coef_element = defined[:, None, :] * member[None, :, :] / counts[:, :, None]  # (D, E, K)
    coef_element = np.nan_to_num(coef_element)
    elem_defined = counts > 0
    omega = items.element_weights[None, :] * elem_defined
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = omega / omega.sum(axis=1, keepdims=True)
    coef_overall = np.einsum("de,dek->dk", np.nan_to_num(omega), coef_element)[:, None, :]
    return np.concatenate([coef_element, coef_overall], axis=1), elem_defined


# The statistics whose variances read only the criteria's satisfied and valid columns (ratios of them and
# their composites), not the scores, the separate items nor the pairs behind mean scores.
RATIO_STAT_TYPES = frozenset({"criterion", "element", "overall_index"})


def domain_estimates(
    cells: CellStatistics,
    design: Design,
    items: ItemMatrices,
    n_domains: int,
    stat_types: Collection[str] | None = None,
) -> pd.DataFrame:
    """Estimate every statistic in every domain of one cut.

    Parameters
    ----------
    cells : CellStatistics
        From `analysis.sufficient.cell_statistics`.
    design : Design
    items : ItemMatrices
        Only its labels (criteria, elements, separate items, element weights) are used.
    n_domains : int
        Number of domain codes.
    stat_types : collection of str, optional
        Only the rows of these statistic types (e.g. ``("overall_index",)`` for a trend line), with
        the same figures as in the full table; None: every statistic.

    Returns
    -------
    pandas.DataFrame
        One row per domain x statistic with columns ``domain, stat_type, stat, n, n_rows, df, sum_w,
        est, se, deff, deff_kish, n_eff, n_eff_floor``. ``n`` counts respondents with a positive
        weight in the statistic's denominator, ``n_rows`` all of them (R's ``nrow`` of the subset
        design); ``n_eff_floor`` is the default interval's precision floor: Kish's n_eff for a single
        share, the n_eff of `_floored_composite_variance` for element and overall indices.

    Raises
    ------
    LonelyPSUError
        With ``lonely_psu="fail"`` when a single-PSU stratum enters a computed variance.

    References
    ----------
    Binder DA (1983). On the variances of asymptotically normal estimators from complex surveys.
    *International Statistical Review* 51(3):279-292.
    Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.4 (domains), 3.x. Wiley.
    Kish L (1965). *Survey Sampling*. Wiley (design effect of weighting).
    """
    lay = cells.layout
    k, e_count = lay.k, lay.e
    sums = domain_sums(cells, design, n_domains)
    tot = sums.totals
    sat, val = tot[:, :k], tot[:, k : 2 * k]
    p = _ratio(sat, val)
    defined = (val > 0) & (sums.rows_positive[:, :k] > 0)
    idx = np.arange(k)
    v, size = sums.centred, sums.centred_size
    crit_var = _ratio_variance((v[:, idx, idx], v[:, idx, k + idx], v[:, k + idx, k + idx]),
                               (size[:, idx, idx], size[:, idx, k + idx], size[:, k + idx, k + idx]), p, val)

    blocks = [_Block("criterion", items.criteria, p, crit_var, True, list(range(k)))]

    p_filled = np.where(defined, p, 0.0)
    coefs, elem_defined = composite_coefficients(defined, items)
    composite_est = np.einsum("dsk,dk->ds", coefs, p_filled)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(defined, 1.0 / np.where(defined, val, 1.0), 0.0)
    c = np.concatenate([coefs * inv[:, None, :], -coefs * (p_filled * inv)[:, None, :]], axis=2)
    composite_var = _clean_variance(_quadratic(c, v), _quadratic(np.abs(c), size))
    kish = sums.sum_w[:, :k] ** 2 / np.where(sums.sum_w2[:, :k] > 0, sums.sum_w2[:, :k], np.nan)
    with np.errstate(divide="ignore"):
        kish = kish / _fpc_share(sums.sum_w_fpc[:, :k], sums.sum_w[:, :k])
    composite_floor_var, composite_floored = _floored_composite_variance(c, v, size, p_filled, crit_var, kish,
                                                                          defined, coefs)
    composite_defined = np.concatenate([elem_defined, elem_defined.any(axis=1, keepdims=True)], axis=1)
    composite_est = np.where(composite_defined, composite_est, np.nan)
    composite_var = np.where(composite_defined, composite_var, np.nan)
    blocks.append(_Block("element", items.elements, composite_est[:, :e_count],
                         composite_var[:, :e_count], True, [k + i for i in range(e_count)],
                         composite_floor_var[:, :e_count], composite_floored[:, :e_count]))
    blocks.append(_Block("overall_index", ("overall",), composite_est[:, e_count:],
                         composite_var[:, e_count:], True, [k + e_count],
                         composite_floor_var[:, e_count:], composite_floored[:, e_count:]))

    pv, pair_size = sums.pair_centred, sums.pair_centred_size
    pairs = lay.pair_columns()
    pair_est = _ratio(tot[:, [a for a, _ in pairs]], tot[:, [b for _, b in pairs]])
    pair_var = _ratio_variance((pv[:, :, 0], pv[:, :, 1], pv[:, :, 2]),
                               (pair_size[:, :, 0], pair_size[:, :, 1], pair_size[:, :, 2]), pair_est,
                               tot[:, [b for _, b in pairs]])
    pair_q = lay.pair_denominator()
    blocks.append(_Block("mean_score", items.criteria, pair_est[:, :k], pair_var[:, :k], False, pair_q[:k]))
    blocks.append(_Block("comprehensive", ("comprehensive",), pair_est[:, k : k + 1],
                         pair_var[:, k : k + 1], True, pair_q[k : k + 1]))
    blocks.append(_Block("separate", items.separate, pair_est[:, k + 1 :], pair_var[:, k + 1 :], True,
                         pair_q[k + 1 :]))

    frames = []
    second_moment = tot[:, 3 * k : 4 * k]
    for block in blocks:
        if not block.names or (stat_types is not None and block.stat_type not in stat_types):
            continue
        stat_type, names, est, var = block.stat_type, block.names, block.est, block.var
        q = np.array(block.denominators)
        strata, lonely = sums.strata[:, q], sums.lonely[:, q]
        if design.lonely_psu == "fail" and (lonely > 0).any():
            _raise_lonely(cells, design, q)
        floor_var, floored = block.floor_var, block.floored
        if design.lonely_psu == "average":
            with np.errstate(divide="ignore", invalid="ignore"):
                var = var * strata / (strata - lonely)
                if floor_var is not None:
                    floor_var = floor_var * strata / (strata - lonely)
        n_pos, sw, sw2 = sums.rows_positive[:, q], sums.sum_w[:, q], sums.sum_w2[:, q]
        with np.errstate(divide="ignore", invalid="ignore"):
            if stat_type == "mean_score":
                spread = second_moment / val - est * est
                spread = np.where(spread > _ROUNDING * second_moment / val, spread, 0.0)
            elif stat_type in ("element", "overall_index"):
                spread = np.full_like(est, np.nan)  # no single-variable SRS counterpart
            else:
                spread = est * (1 - est)
            # svymean(..., deff="replace"): SRS variance = weighted population variance / (n - 1)
            deff = np.where((n_pos > 1) & (spread > 0), var / (spread / (n_pos - 1)), np.nan)
            n_eff = sw * sw / sw2
            deff_kish = n_pos * sw2 / (sw * sw)
            # The default interval's precision floor: Kish's n_eff for a single share; for a composite
            # none (inf) where no criterion is floored, else the n_eff of its floored variance, or
            # Kish's where that cannot be formed.
            n_eff_floor = n_eff / _fpc_share(sums.sum_w_fpc[:, q], sw)
            if floor_var is not None and floored is not None:
                from_floor = est * (1 - est) / floor_var
                n_eff_floor = np.where(np.isfinite(from_floor) & (from_floor > 0), from_floor, n_eff)
                n_eff_floor = np.where(floored, n_eff_floor, np.inf)
        frames.append(
            pd.DataFrame(
                {
                    "domain": np.repeat(np.arange(n_domains), len(names)),
                    "stat_type": stat_type,
                    "stat": np.tile(names, n_domains),
                    "n": n_pos.ravel().astype(np.int64),
                    "n_rows": sums.rows[:, q].ravel().astype(np.int64),
                    "df": (sums.psus[:, q] - strata).ravel(),
                    "sum_w": sw.ravel(),
                    "est": est.ravel(),
                    "se": np.sqrt(var).ravel(),
                    "deff": deff.ravel(),
                    "deff_kish": deff_kish.ravel(),
                    "n_eff": n_eff.ravel(),
                    "n_eff_floor": n_eff_floor.ravel(),
                    "fpc_share": _fpc_share(sums.sum_w_fpc[:, q], sw).ravel(),
                    "proportion": block.proportion,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _raise_lonely(cells: CellStatistics, design: Design, q: IntArray) -> None:
    lonely_cells = (design.psu_per_stratum[cells.stratum] == 1) & (cells.psu_present[:, q] > 0).any(axis=1)
    stratum = design.stratum_labels[int(cells.stratum[np.flatnonzero(lonely_cells)[0]])]
    raise LonelyPSUError(
        f"stratum {stratum!r} has only one PSU (lonely_psu='fail', R's default); "
        "choose lonely_psu='adjust', 'average', 'certainty' or 'remove'"
    )
