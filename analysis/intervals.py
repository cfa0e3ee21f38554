"""Confidence intervals for design-based proportions, vectorised over arrays.

Each function takes the estimate, its linearized standard error and the design degrees of freedom (and,
for the beta interval, the number of respondents) and reproduces one method of R's ``svyciprop``;
``wilson_conservative`` (the display default) adds Kish's effective sample size as a floor on precision.
Invalid inputs (NaN, df <= 0) give NaN bounds rather than errors, so one bad domain never hides a table.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from analysis.data import FloatArray

IntervalMethod = Literal["wilson_conservative", "wilson", "beta", "logit", "wald"]
INTERVAL_METHODS: tuple[IntervalMethod, ...] = ("wilson_conservative", "wilson", "beta", "logit", "wald")
# The display default: the only method whose coverage reached 94 % in every weighted row of
# bench/coverage.py (docs/analysis-coverage.md) while still widening for clustered designs.
DEFAULT_INTERVAL_METHOD: IntervalMethod = "wilson_conservative"
BOUNDARY_METHOD = "boundary_cp"


def t_quantile(alpha: float, df: FloatArray) -> FloatArray:
    """Upper ``1 - alpha/2`` quantile of Student's t on `df` degrees of freedom (NaN where df <= 0).

    References
    ----------
    R ``qt``; scipy.special ``stdtrit``. Lumley T (2010), *Complex Surveys*, sec. 2.3 (design df).
    """
    df = np.asarray(df, dtype=np.float64)
    # Tables repeat a few df values many times: evaluate the quantile once per distinct value.
    distinct, inverse = np.unique(df, return_inverse=True)
    with np.errstate(invalid="ignore"):
        positive = np.where(distinct > 0, distinct, 1.0)
        quantiles = np.where(distinct > 0, special.stdtrit(positive, 1 - alpha / 2), np.nan)
    return np.asarray(quantiles[inverse].reshape(df.shape), dtype=np.float64)


def wald_interval(est: FloatArray, se: FloatArray, df: FloatArray, alpha: float = 0.05
                  ) -> tuple[FloatArray, FloatArray]:
    """Wald interval ``est -/+ t_{df,1-alpha/2} se`` (not clipped to [0, 1]).

    Equals R's ``confint(svymean(...), df=degf(design))`` and ``svyciprop(method="mean")``.

    References
    ----------
    Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.3. Wiley.
    """
    half = t_quantile(alpha, df) * np.asarray(se)
    return np.asarray(est) - half, np.asarray(est) + half


def logit_interval(est: FloatArray, se: FloatArray, df: FloatArray, alpha: float = 0.05
                   ) -> tuple[FloatArray, FloatArray]:
    """Wald interval on the log-odds scale, back-transformed.

    The standard error of ``logit(p)`` is ``se / (p (1 - p))`` (delta method), which is exactly the
    sandwich standard error of the intercept of R's ``svyglm(y ~ 1, family=quasibinomial)``; hence this
    equals ``svyciprop(method="logit")`` with its default ``df=degf(design)``.

    References
    ----------
    R package survey, ``svyciprop`` (method "logit"). Lumley T (2010), *Complex Surveys*, sec. 2.3.
    """
    p = np.asarray(est, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.log(p / (1 - p))
        half = t_quantile(alpha, df) * np.asarray(se) / (p * (1 - p))
        return special.expit(centre - half), special.expit(centre + half)


def beta_interval(est: FloatArray, se: FloatArray, df: FloatArray, n: FloatArray, alpha: float = 0.05
                  ) -> tuple[FloatArray, FloatArray]:
    """Korn-Graubard interval: Clopper-Pearson on the design effective sample size.

    ``n_eff = p (1 - p) / se^2 * (t_{n-1, alpha/2} / t_{df, alpha/2})^2`` (n = respondents in the domain,
    i.e. R's ``nrow(design)``), then ``qbeta(alpha/2, n_eff p, n_eff (1-p) + 1)`` and
    ``qbeta(1-alpha/2, n_eff p + 1, n_eff (1-p))``. Equals ``svyciprop(method="beta")``.

    References
    ----------
    Korn EL, Graubard BI (1998). Confidence intervals for proportions with small expected number of
    positive counts estimated from survey data. *Survey Methodology* 24(2):193-201.
    """
    p = np.asarray(est, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / np.asarray(se) ** 2
        n_eff = n_eff * (t_quantile(alpha, n - 1) / t_quantile(alpha, df)) ** 2
        lower = special.betaincinv(n_eff * p, n_eff * (1 - p) + 1, alpha / 2)
        upper = special.betaincinv(n_eff * p + 1, n_eff * (1 - p), 1 - alpha / 2)
    return lower, upper


def _wilson_score(p: FloatArray, var: FloatArray, n_eff: FloatArray, t: FloatArray
                  ) -> tuple[FloatArray, FloatArray]:
    """Wilson's bounds for share `p` with variance ``var = p (1 - p) / n_eff`` and quantile `t`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t2n = t * t / n_eff
        centre = (p + t2n / 2) / (1 + t2n)
        half = t * np.sqrt(var + t * t / (4 * n_eff**2)) / (1 + t2n)
    return centre - half, centre + half


def wilson_interval(est: FloatArray, se: FloatArray, df: FloatArray, alpha: float = 0.05
                    ) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval on the design effective sample size with a t quantile.

    With ``n_eff = p (1 - p) / se^2`` and ``t = t_{df, 1-alpha/2}``: centre
    ``(p + t^2 / (2 n_eff)) / (1 + t^2 / n_eff)``, half-width
    ``t sqrt(se^2 + t^2 / (4 n_eff^2)) / (1 + t^2 / n_eff)``. This is R survey's
    ``svyciprop(method="wilson")`` (survey >= 4.5). The installed R survey (4.1.1) predates it, so this
    formula is checked against its closed form and against ``prop.test(correct=FALSE)`` for simple
    random samples, not against survey itself.

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158):209-212.
    Korn EL, Graubard BI (1998), *Survey Methodology* 24(2):193-201 (effective sample size).
    """
    p = np.asarray(est, dtype=np.float64)
    var = np.asarray(se, dtype=np.float64) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / var
    return _wilson_score(p, var, n_eff, t_quantile(alpha, df))


def wilson_conservative_interval(est: FloatArray, se: FloatArray, df: FloatArray, floor_n_eff: FloatArray,
                                 alpha: float = 0.05) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval on the smaller of the design effective sample size and a floor.

    ``n_eff = min(p (1 - p) / se^2, floor_n_eff)``, then the Wilson formula of `wilson_interval` with
    ``t = t_{df, 1-alpha/2}`` and variance ``p (1 - p) / n_eff``. For a single share the floor is
    Kish's ``(sum w)^2 / sum w^2`` over the statistic's respondents; for an element or overall index
    it is the n_eff of the composite variance whose criteria are each floored that way
    (`analysis.estimates`, column ``n_eff_floor``). Where the design effect exceeds the weighting
    effect (clusters) this is exactly `wilson` (R's definition); where the estimated variance happens
    to be small -- few dissatisfied answers, often all in lightly weighted cells -- the floor, which
    depends on the weights only, takes over and cannot shrink with an unlucky sample. The design
    estimate alone made `wilson` cover 89.9 % at nominal 95 % for p = 0.9, n = 50
    (docs/analysis-coverage.md). NaN in either size gives NaN bounds.

    References
    ----------
    Wilson EB (1927). *Journal of the American Statistical Association* 22(158):209-212.
    Kish L (1965). *Survey Sampling*. Wiley (effective sample size of weighting).
    Korn EL, Graubard BI (1998), *Survey Methodology* 24(2):193-201 (design effective sample size).
    """
    p = np.asarray(est, dtype=np.float64)
    var_design = np.asarray(se, dtype=np.float64) ** 2
    kish = np.asarray(floor_n_eff, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_design = p * (1 - p) / var_design
        use_design = n_design <= kish
        # Reuse the design's own variance where it is chosen, so the bounds equal `wilson` bit for bit.
        n_eff = np.where(use_design, n_design, kish)
        var = np.where(use_design, var_design, p * (1 - p) / kish)
        nan = np.isnan(n_design) | np.isnan(kish)
    n_eff, var = np.where(nan, np.nan, n_eff), np.where(nan, np.nan, var)
    return _wilson_score(p, var, n_eff, t_quantile(alpha, df))


def clopper_pearson_interval(est: FloatArray, n_eff: FloatArray, alpha: float = 0.05
                             ) -> tuple[FloatArray, FloatArray]:
    """Clopper-Pearson interval with ``x = est * n_eff`` successes out of ``n_eff`` (real-valued).

    Used where the design variance vanishes (est = 0 or 1), with Kish's effective sample size.

    References
    ----------
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the case of
    the binomial. *Biometrika* 26(4):404-413.
    Kish L (1965). *Survey Sampling*. Wiley.
    """
    p = np.asarray(est, dtype=np.float64)
    n = np.asarray(n_eff, dtype=np.float64)
    x = p * n
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(x <= 0, 0.0, special.betaincinv(np.where(x > 0, x, 1.0), n - x + 1, alpha / 2))
        upper = np.where(x >= n, 1.0, special.betaincinv(x + 1, np.where(x < n, n - x, 1.0), 1 - alpha / 2))
    bad = ~np.isfinite(p) | ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def finite_population_zero_probability(m: npt.ArrayLike, n: npt.ArrayLike, population: npt.ArrayLike
                                       ) -> FloatArray:
    """``P(X = 0)`` when `n` units are drawn without replacement from `population` units of which `m` are
    satisfied (hypergeometric), continuous in all three.

    ``prod_{i<n} (N - m - i) / (N - i) = Gamma(N-m+1) Gamma(N-n+1) / (Gamma(N-m-n+1) Gamma(N+1))``,
    0 where ``m > N - n`` leaves no unsatisfied sample to draw (the gamma form's pole for real sizes).
    """
    m, n, big_n = (np.asarray(a, dtype=np.float64) for a in (m, n, population))
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = big_n - m - n + 1
        log_p = (special.gammaln(big_n - m + 1) + special.gammaln(big_n - n + 1)
                 - special.gammaln(np.where(rest > 0, rest, 1.0)) - special.gammaln(big_n + 1))
        out = np.where(rest > 0, np.exp(log_p), 0.0)
    return np.asarray(np.where(m <= 0, 1.0, out), dtype=np.float64)


# Below this sampling fraction the hypergeometric bound is the binomial one to ~f (and its log-gamma
# differences would lose precision): Clopper-Pearson is used as it is.
FINITE_MIN_FRACTION = 1e-6


def finite_population_boundary_interval(est: FloatArray, n_eff: FloatArray, fpc_share: FloatArray,
                                        alpha: float = 0.05) -> tuple[FloatArray, FloatArray]:
    """Exact interval at est = 0 or 1 for a sample of `n_eff` drawn without replacement (fraction f).

    The sample of ``n = n_eff`` is taken as a simple random sample without replacement from a
    population of ``N = n / f`` (``f = 1 - fpc_share``, the domain's weight-share average sampling
    fraction, as for the default interval's floor). At est = 0 the upper bound is ``M / N`` with M the
    number satisfied in the population at which seeing none has probability alpha/2, ``P(X = 0 | M) =
    alpha/2`` (`finite_population_zero_probability`, solved for a real M); est = 1 mirrors it. This is
    the Clopper-Pearson construction with the hypergeometric distribution in place of the binomial
    (Buonaccorsi 1987; Wright 1991); as f -> 0 it becomes Clopper-Pearson, which is used as is below
    f = 1e-6. A census (f = 1) has no sampling error: the interval is the estimate itself, as the
    design variance and the floor say. NaN estimate, size or share gives NaN bounds.

    References
    ----------
    Buonaccorsi JP (1987). A note on confidence intervals for proportions in finite populations.
    *The American Statistician* 41(3):215-218.
    Wright T (1991). *Exact Confidence Bounds when Sampling from Small Finite Universes*. Lecture Notes
    in Statistics 66, Springer.
    Clopper CJ, Pearson ES (1934). *Biometrika* 26(4):404-413.
    """
    p = np.atleast_1d(np.asarray(est, dtype=np.float64))
    n = np.broadcast_to(np.asarray(n_eff, dtype=np.float64), p.shape)
    f = 1 - np.broadcast_to(np.asarray(fpc_share, dtype=np.float64), p.shape)
    lower, upper = (np.array(a, dtype=np.float64) for a in clopper_pearson_interval(p, n, alpha))
    finite = np.isfinite(p) & (n > 0) & (f >= FINITE_MIN_FRACTION) & ((p == 0) | (p == 1))
    census = finite & (f >= 1)
    for i in np.flatnonzero(finite & ~census):
        bound = _zero_upper_bound(float(n[i]), float(n[i] / f[i]), alpha)
        if p[i] == 0:
            lower[i], upper[i] = 0.0, bound
        else:
            lower[i], upper[i] = 1.0 - bound, 1.0
    lower[census], upper[census] = p[census], p[census]
    unknown = np.isnan(f)  # an unknown sampling fraction: no bound can be claimed
    lower[unknown], upper[unknown] = np.nan, np.nan
    return lower, upper


def _zero_upper_bound(n: float, big_n: float, alpha: float) -> float:
    """M / N with P(X = 0 | M) = alpha / 2, the upper bound at est = 0 (hypergeometric, real M)."""
    from scipy import optimize  # rarely needed (an fpc and an estimate at 0 or 1): not at start-up

    def excess(m: float) -> float:
        return float(finite_population_zero_probability(m, n, big_n)[()]) - alpha / 2

    top = big_n - n + 1  # the zero probability reaches 0 here
    m = optimize.brentq(excess, 0.0, top, xtol=1e-12 * max(big_n, 1.0), rtol=4 * np.finfo(float).eps)
    return min(float(m) / big_n, 1.0)


def proportion_interval(
    method: IntervalMethod,
    est: FloatArray,
    se: FloatArray,
    df: FloatArray,
    n: FloatArray,
    kish_n_eff: FloatArray,
    alpha: float = 0.05,
    floor_n_eff: FloatArray | None = None,
    fpc_share: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Interval by `method`, falling back to an exact interval on Kish's n_eff at est = 0 or 1.

    `floor_n_eff` is wilson_conservative's precision floor (default: `kish_n_eff`, right for single
    shares; composites pass the ``n_eff_floor`` of `analysis.estimates`). `fpc_share` is the domain's
    ``1 - f`` (column ``fpc_share`` of `analysis.estimates`; default 1, no fpc): with an fpc the
    boundary interval is `finite_population_boundary_interval` (hypergeometric), else Clopper-Pearson.

    Returns
    -------
    lower, upper : numpy.ndarray
    used : numpy.ndarray of str
        `method`, or ``"boundary_cp"`` where the fallback was used.

    References
    ----------
    Korn EL, Graubard BI (1998); Clopper CJ, Pearson ES (1934); Wilson EB (1927).
    """
    if method == "wilson_conservative":
        floor = kish_n_eff if floor_n_eff is None else floor_n_eff
        lower, upper = wilson_conservative_interval(est, se, df, floor, alpha)
    elif method == "wilson":
        lower, upper = wilson_interval(est, se, df, alpha)
    elif method == "beta":
        lower, upper = beta_interval(est, se, df, n, alpha)
    elif method == "logit":
        lower, upper = logit_interval(est, se, df, alpha)
    else:
        lower, upper = wald_interval(est, se, df, alpha)
    p = np.asarray(est, dtype=np.float64)
    boundary = (p == 0) | (p == 1)
    lower, upper = np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64)
    share = (np.ones_like(p) if fpc_share is None
             else np.broadcast_to(np.asarray(fpc_share, dtype=np.float64), p.shape))
    lower[boundary], upper[boundary] = finite_population_boundary_interval(
        p[boundary], np.asarray(kish_n_eff, dtype=np.float64)[boundary], share[boundary], alpha
    )
    used = np.where(boundary, BOUNDARY_METHOD, method)
    return lower, upper, used
