"""Fay–Herriot shrinkage on the logit scale, for units with a design-based standard error.

The alternative to the default beta-binomial league table (`analysis.shrinkage`): it uses the
standard errors of imported survey data (strata, clusters) instead of effective counts, but it
needs 0 < p̂ < 1 and se > 0 in every unit because the direct variance on the logit scale comes from
the delta method, ``D_i = se_i² / (p̂_i (1 - p̂_i))²``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special, stats

from analysis.shrinkage import MIN_UNITS, rank_intervals

__all__ = ["FayHerriotFit", "FayHerriotTable", "fay_herriot_table", "fit_fay_herriot"]

FloatArray = npt.NDArray[np.float64]
VarianceMethod = Literal["REML", "ML"]


@dataclass(frozen=True)
class FayHerriotFit:
    """Between-unit variance ``A`` and mean ``beta`` on the logit scale."""

    variance: float
    beta: float
    beta_se: float
    method: VarianceMethod


@dataclass(frozen=True)
class FayHerriotTable:
    """A Fay–Herriot league table and its fit."""

    table: pd.DataFrame
    fit: FayHerriotFit


def _negative_loglik(a: float, y: FloatArray, d: FloatArray, method: VarianceMethod) -> float:
    w = 1 / (a + d)
    beta = np.sum(w * y) / np.sum(w)
    value = -0.5 * np.sum(np.log(a + d)) - 0.5 * np.sum(w * (y - beta) ** 2)
    if method == "REML":
        value -= 0.5 * np.log(np.sum(w))
    return float(-value)


def fit_fay_herriot(y: npt.ArrayLike, d: npt.ArrayLike, *, method: VarianceMethod = "REML") -> FayHerriotFit:
    """Fit ``y_i = beta + u_i + e_i`` with ``u_i ~ N(0, A)`` and known ``Var e_i = D_i``.

    ``A`` maximises the (restricted) likelihood on ``[0, A_max]`` by a bounded Brent search, the end
    point ``A = 0`` checked explicitly (no spread beyond sampling noise is a common, valid answer).

    References
    ----------
    Fay, R. E. and Herriot, R. A. (1979). Estimates of income for small places: an application of
    James-Stein procedures to census data. *JASA* 74(366), 269-277.
    Rao, J. N. K. and Molina, I. (2015). *Small Area Estimation*, 2nd ed. Wiley, sections 6.1-6.2.
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *J. Educ. Behav. Stat.* 30(3), 261-293 (same likelihoods; metafor::rma
    is the reference implementation used by the tests).
    """
    y_arr = np.asarray(y, dtype=np.float64)
    d_arr = np.asarray(d, dtype=np.float64)
    if y_arr.shape != d_arr.shape or y_arr.ndim != 1 or y_arr.size < MIN_UNITS:
        raise ValueError(f"need at least {MIN_UNITS} units with one estimate and one variance each")
    if not (np.all(np.isfinite(y_arr)) and np.all(np.isfinite(d_arr)) and np.all(d_arr > 0)):
        raise ValueError("estimates must be finite and direct variances finite and positive")
    upper = float(10 * (np.var(y_arr) + d_arr.max()))
    search = optimize.minimize_scalar(
        _negative_loglik, bounds=(0.0, upper), args=(y_arr, d_arr, method), method="bounded",
        options={"xatol": 1e-12 * max(upper, 1.0)},
    )
    a = float(search.x)
    if _negative_loglik(0.0, y_arr, d_arr, method) <= search.fun:
        a = 0.0
    w = 1 / (a + d_arr)
    beta = float(np.sum(w * y_arr) / np.sum(w))
    return FayHerriotFit(variance=a, beta=beta, beta_se=float(np.sqrt(1 / np.sum(w))), method=method)


def fay_herriot_table(
    units: npt.ArrayLike,
    est: npt.ArrayLike,
    se: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    method: VarianceMethod = "REML",
    level: float = 0.95,
    rank_level: float = 0.90,
    n_draws: int = 2000,
    seed: int = 20261123,
    higher_is_better: bool = True,
) -> FayHerriotTable:
    """League table with Fay–Herriot EBLUPs on the logit scale and simulated rank intervals.

    ``θ̂_i = beta + γ_i (y_i - beta)`` with ``γ_i = A / (A + D_i)``; its variance is taken as
    ``g1 + g2 = γ_i D_i + (1 - γ_i)² Var(beta)`` (Prasad–Rao's g3 for the uncertainty in ``A`` is
    left out, as metafor's ``blup`` does, so intervals are slightly narrow when there are few
    units). Intervals and rank draws are normal on the logit scale and mapped back with expit.
    The effective size reported is ``p̂(1 - p̂)/se²``.

    Returns
    -------
    FayHerriotTable
        ``table`` with the same columns as `analysis.shrinkage.league_table`, best first.

    References
    ----------
    Rao, J. N. K. and Molina, I. (2015). *Small Area Estimation*, 2nd ed. Wiley, section 6.1.
    """
    labels = np.asarray(units)
    p = np.asarray(est, dtype=np.float64)
    s = np.asarray(se, dtype=np.float64)
    if not (labels.shape == p.shape == s.shape == np.shape(n)):
        raise ValueError("units, est, se and n must have the same length")
    if not np.all((p > 0) & (p < 1)) or not np.all(s > 0):
        raise ValueError(
            "Fay–Herriot on the logit scale needs 0 < est < 1 and se > 0 in every unit; "
            "use the beta-binomial league table for units at 0 or 100 %"
        )
    y = special.logit(p)
    d = s**2 / (p * (1 - p)) ** 2
    fit = fit_fay_herriot(y, d, method=method)
    gamma = fit.variance / (fit.variance + d)
    theta = fit.beta + gamma * (y - fit.beta)
    theta_se = np.sqrt(gamma * d + (1 - gamma) ** 2 * fit.beta_se**2)
    z = stats.norm.ppf(0.5 + level / 2)
    rng = np.random.default_rng(seed)
    draws = special.expit(theta[:, None] + theta_se[:, None] * rng.standard_normal((p.size, n_draws)))
    rank, rank_lo, rank_hi = rank_intervals(draws, level=rank_level, higher_is_better=higher_is_better)
    table = pd.DataFrame(
        {
            "unit": labels,
            "n": np.asarray(n, dtype=np.float64),
            "n_eff": p * (1 - p) / s**2,
            "est": p,
            "shrunk": special.expit(theta),
            "shrunk_lo": special.expit(theta - z * theta_se),
            "shrunk_hi": special.expit(theta + z * theta_se),
            "rank": rank,
            "rank_lo": rank_lo,
            "rank_hi": rank_hi,
        }
    )
    table = table.sort_values("shrunk", ascending=not higher_is_better, kind="stable", ignore_index=True)
    return FayHerriotTable(table=table, fit=fit)
