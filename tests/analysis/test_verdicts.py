"""Verdicts, p-values and flags."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.intervals import wald_interval, wilson_interval
from analysis.verdicts import p_values, precision_flags, verdicts


def test_verdict_reads_the_interval() -> None:
    out = verdicts(np.array([0.81, 0.70, 0.75, 0.80]), np.array([0.90, 0.79, 0.85, 0.9]),
                   np.array([0.80, 0.80, 0.80, np.nan]))
    assert list(out) == ["met", "below", "inconclusive", ""]
    assert list(verdicts(np.array([0.8]), np.array([0.9]), np.array([0.8]))) == ["met"]  # lower >= target


@pytest.mark.parametrize("method", ["wald", "wilson", "logit", "beta"])
def test_p_value_is_below_alpha_half_exactly_when_the_bound_clears_the_target(method: str) -> None:
    est, se, df, n = np.full(400, 0.85), np.full(400, 0.03), np.full(400, 60.0), np.full(400, 200.0)
    targets = np.linspace(0.70, 0.99, 400)
    p = p_values(np.full(400, method, dtype=object), est, se, df, n, n, targets)
    if method == "wald":
        lo, hi = wald_interval(est, se, df)
    elif method == "wilson":
        lo, hi = wilson_interval(est, se, df)
    else:
        from analysis.intervals import beta_interval, logit_interval
        lo, hi = (logit_interval(est, se, df) if method == "logit" else beta_interval(est, se, df, n))
    decided = verdicts(lo, hi, targets) != "inconclusive"
    away = np.abs(p - 0.025) > 1e-9
    np.testing.assert_array_equal((p < 0.025)[away], decided[away])


def test_wald_p_value_by_hand() -> None:
    # est 0.85, se 0.03, target 0.80: t = 5/3 on 60 df; H0: p <= 0.8, p = P(T > 1.6667) = 0.050386...
    from scipy import stats

    p = p_values(np.array(["wald"], dtype=object), [0.85], [0.03], [60.0], [100.0], [100.0], [0.8])
    assert p[0] == pytest.approx(stats.t.sf(5 / 3, 60), rel=1e-12)
    below = p_values(np.array(["wald"], dtype=object), [0.75], [0.03], [60.0], [100.0], [100.0], [0.8])
    assert below[0] == pytest.approx(stats.t.cdf(-5 / 3, 60), rel=1e-12)  # H0: p >= target


def test_flags_are_pipe_joined() -> None:
    flags = precision_flags(np.array([5, 100, 100]), np.array([4.0, 200.0, 25.0]), np.array([4.0, 99, 99]),
                            np.array([0.3, 0.02, 0.12]), np.array([False, False, True]))
    assert list(flags) == ["suppressed|low_n_eff|low_df|wide", "", "low_n_eff|wide|boundary_cp"]


def test_t_tail_p_values_equal_scipy_stats_t_including_the_edges() -> None:
    # The p-values use scipy.special.stdtr directly (no scipy.stats import at start-up); they must be
    # the very numbers scipy.stats.t.cdf / .sf give, also for infinite statistics, df 0 and NaN.
    from scipy import stats

    est = np.array([0.85, 0.85, 0.70, 0.90, 0.80, 0.85, 0.85, 0.85, np.nan, 0.85])
    se = np.array([0.03, 0.0, 0.0, 0.05, 0.02, 0.03, 0.03, np.nan, 0.03, 0.01])
    df = np.array([60.0, 30.0, 30.0, 1.0, 12.0, 0.0, np.inf, 60.0, 60.0, 1e6])
    target = np.full(10, 0.8)
    p = p_values(np.full(10, "wald", dtype=object), est, se, df, np.full(10, 200.0), np.full(10, 200.0),
                 target)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (est - target) / se
    dfs = np.where(df > 0, df, np.nan)
    expected = np.where(est >= target, stats.t.sf(stat, dfs), stats.t.cdf(stat, dfs))
    np.testing.assert_array_equal(p, expected)
    assert p[1] == 0.0 and p[2] == 0.0 and np.isnan(p[5])  # +inf / -inf statistic; no degrees of freedom
