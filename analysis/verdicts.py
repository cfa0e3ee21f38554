"""Verdicts against targets, one-sided p-values and low-precision flags.

A verdict reads the two-sided (1 - alpha) interval: **met** when its lower bound reaches the target,
**below** when its upper bound is under the target, **inconclusive** otherwise. The p-value is that of
the one-sided test matching the side the estimate is on: H0: p <= target when est >= target (small
p: evidence the target is met), H0: p >= target when est < target (small p: evidence it is missed).
Each test is the one the interval method inverts, so p < alpha/2 exactly when the verdict is not
inconclusive (up to the boundary fallback).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from scipy import special

from analysis.data import FloatArray
from analysis.intervals import FINITE_MIN_FRACTION, finite_population_zero_probability, t_quantile


class Verdict(StrEnum):
    """Outcome of comparing an estimate's interval with its target."""

    MET = "met"
    BELOW = "below"
    INCONCLUSIVE = "inconclusive"
    SUPPRESSED = "suppressed"
    NO_TARGET = ""


class Flag(StrEnum):
    """Reasons to read an estimate with care; joined with ``|`` in tables."""

    SUPPRESSED = "suppressed"
    LOW_N_EFF = "low_n_eff"
    LOW_DF = "low_df"
    WIDE = "wide"
    BOUNDARY_CP = "boundary_cp"


def verdicts(lower: FloatArray, upper: FloatArray, target: FloatArray) -> np.ndarray:
    """Verdict per estimate: met (lower >= target), below (upper < target), else inconclusive.

    A NaN target gives an empty verdict; a NaN interval gives "inconclusive".

    References
    ----------
    Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.3 (intervals). Wiley.
    """
    lower, upper, target = (np.asarray(a, dtype=np.float64) for a in (lower, upper, target))
    out = np.full(lower.shape, Verdict.INCONCLUSIVE.value, dtype=object)
    out[lower >= target] = Verdict.MET.value
    out[upper < target] = Verdict.BELOW.value
    out[np.isnan(target)] = Verdict.NO_TARGET.value
    return out


def _binomial_tails(x: FloatArray, n: FloatArray, target: FloatArray) -> tuple[FloatArray, FloatArray]:
    """P(X >= x) and P(X <= x) for X ~ Binomial(n, target), continuous in x via the beta function."""
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.where(x <= 0, 1.0, special.betainc(np.where(x > 0, x, 1.0), n - x + 1, target))
        lower = np.where(x >= n, 1.0, 1 - special.betainc(x + 1, np.where(x < n, n - x, 1.0), target))
    return upper, lower


def p_values(
    method: np.ndarray,
    est: FloatArray,
    se: FloatArray,
    df: FloatArray,
    n: FloatArray,
    kish_n_eff: FloatArray,
    target: FloatArray,
    alpha: float = 0.05,
    floor_n_eff: FloatArray | None = None,
    fpc_share: FloatArray | None = None,
) -> FloatArray:
    """One-sided p-value on the side of the estimate, by the test each interval method inverts.

    wald: ``t = (p - p0) / se`` on df; logit: the same on the log-odds scale with
    ``se / (p (1 - p))``; wilson: score statistic ``(p - p0) / sqrt(p0 (1 - p0) / n_eff)`` on df with
    ``n_eff = p (1 - p) / se^2`` (wilson_conservative: the smaller of that and `floor_n_eff`,
    which defaults to Kish's n_eff); beta
    and boundary_cp: exact binomial tail at ``x = p n_eff`` (the Korn-Graubard or Kish effective
    sample size); boundary_cp with an fpc (`fpc_share` = 1 - f < 1): the hypergeometric probability
    of the boundary, the test `analysis.intervals.finite_population_boundary_interval` inverts.

    References
    ----------
    Wilson EB (1927); Korn EL, Graubard BI (1998); Clopper CJ, Pearson ES (1934).
    """
    method = np.asarray(method, dtype=object)
    p, se, df, n, n_kish, p0 = (np.asarray(a, dtype=np.float64) for a in (est, se, df, n, kish_n_eff, target))
    n_floor = n_kish if floor_n_eff is None else np.asarray(floor_n_eff, dtype=np.float64)
    dfs = np.where(df > 0, df, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_design = p * (1 - p) / se**2
        stat = np.full(p.shape, np.nan)
        wald = method == "wald"
        stat[wald] = ((p - p0) / se)[wald]
        logit = method == "logit"
        stat[logit] = ((special.logit(p) - special.logit(p0)) * p * (1 - p) / se)[logit]
        wilson = np.isin(method, ["wilson", "wilson_conservative"])
        # wilson_conservative inverts the same score test on min(design n_eff, its floor).
        n_score = np.where(method == "wilson_conservative", np.minimum(n_design, n_floor), n_design)
        stat[wilson] = ((p - p0) / np.sqrt(p0 * (1 - p0) / n_score))[wilson]
        # Student's t cdf and sf as scipy.stats.t computes them (stdtr), without importing scipy.stats
        # (half a second at every start of the command line).
        cdf = special.stdtr(dfs, stat)
        out = np.where(p >= p0, special.stdtr(dfs, -stat), cdf)
        exact = np.isin(method, ["beta", "boundary_cp"])
        if exact.any():
            n_kg = n_design[exact] * (t_quantile(alpha, n[exact] - 1) / t_quantile(alpha, df[exact])) ** 2
            exact_n = np.where(method[exact] == "beta", n_kg, n_kish[exact])
            upper_tail, lower_tail = _binomial_tails(p[exact] * exact_n, exact_n, p0[exact])
            out[exact] = np.where(p[exact] >= p0[exact], upper_tail, lower_tail)
        if fpc_share is not None:
            out = _finite_population_p(out, method, p, n_kish, p0, np.asarray(fpc_share, dtype=np.float64))
    return np.where(np.isnan(p0) | np.isnan(p), np.nan, out)


def _finite_population_p(out: FloatArray, method: np.ndarray, p: FloatArray, n: FloatArray, p0: FloatArray,
                         share: FloatArray) -> FloatArray:
    """Boundary rows with an fpc: P(X = 0) at est = 0 (or P(X = n) at est = 1) when ``p0 N`` of
    ``N = n / f`` are satisfied, drawing n without replacement."""
    f = 1 - np.broadcast_to(share, p.shape)
    rows = (method == "boundary_cp") & (f >= FINITE_MIN_FRACTION) & (n > 0) & np.isfinite(p0)
    if not rows.any():
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        big_n = np.where(rows, n / np.where(f > 0, f, 1.0), np.nan)
    satisfied = np.where(p == 0, p0, 1 - p0) * big_n  # the population count of the side not seen
    result = np.array(out, dtype=np.float64)
    result[rows] = finite_population_zero_probability(satisfied[rows], n[rows], big_n[rows])
    return result


_RELATIVE_ROUNDING = 1e-12


def precision_flags(
    n: FloatArray,
    n_eff: FloatArray,
    df: FloatArray,
    half_width: FloatArray,
    boundary: np.ndarray,
    *,
    min_n: int = 10,
    min_n_eff: float = 30.0,
    min_df: float = 8.0,
    max_half_width: float = 0.10,
) -> np.ndarray:
    """``|``-joined flags per estimate (empty string when none).

    suppressed: n < `min_n`; low_n_eff: Kish n_eff < `min_n_eff`; low_df: df < `min_df`; wide:
    interval half-width > `max_half_width` (10 points); boundary_cp: Clopper-Pearson fallback used.

    References
    ----------
    Kish L (1965). *Survey Sampling*. Wiley. Korn EL, Graubard BI (1998) on small effective samples.
    """
    n, n_eff, df, half_width = (np.asarray(a, dtype=np.float64) for a in (n, n_eff, df, half_width))
    conditions = [
        (Flag.SUPPRESSED, n < min_n),
        # Kish's n_eff is a ratio of weight sums: n equal weights give n only up to rounding (30 copies
        # of w summed make 29.999999999999996), and the flag must not depend on the order of a sum.
        (Flag.LOW_N_EFF, ~(n_eff >= min_n_eff * (1 - _RELATIVE_ROUNDING))),
        (Flag.LOW_DF, ~(df >= min_df)),
        (Flag.WIDE, half_width > max_half_width),
        (Flag.BOUNDARY_CP, np.asarray(boundary, dtype=bool)),
    ]
    # Encode each row's flags as a bit pattern and spell each distinct pattern once.
    pattern = np.zeros(n.shape, dtype=np.int64)
    for bit, (_, mask) in enumerate(conditions):
        pattern |= np.asarray(mask, dtype=np.int64) << bit
    distinct, inverse = np.unique(pattern, return_inverse=True)
    spelled = np.array(
        ["|".join(flag.value for bit, (flag, _) in enumerate(conditions) if code >> bit & 1)
         for code in distinct],
        dtype=object,
    )
    return np.asarray(spelled[inverse].reshape(n.shape), dtype=object)
