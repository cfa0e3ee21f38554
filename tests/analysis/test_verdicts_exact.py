"""p-values, flags and the Korn-Graubard interval on hand-checkable inputs: the mutants `make
mutation` found alive in analysis/verdicts.py and analysis/intervals.py.

References are independent of the code: statistics written out by hand from the formulas in the
docstrings, Student's t and binomial tails from scipy.stats (binom, not the incomplete beta the code
uses), and statsmodels' Clopper-Pearson interval.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.intervals import beta_interval
from analysis.verdicts import p_values, precision_flags


def _p(method: str, est: float, se: float, df: float, target: float, *, n: float = 200.0,
       kish: float = 200.0, floor: float | None = None) -> float:
    out = p_values(np.array([method], dtype=object), np.array([est]), np.array([se]), np.array([df]),
                   np.array([n]), np.array([kish]), np.array([target]),
                   floor_n_eff=None if floor is None else np.array([floor]))
    return float(out[0])


def test_wald_and_logit_p_values_by_hand() -> None:
    # est 0.85, se 0.03, df 60, target 0.80. Wald: t = 0.05 / 0.03 = 1.6667.
    assert _p("wald", 0.85, 0.03, 60, 0.80) == pytest.approx(stats.t.sf(0.05 / 0.03, 60), rel=1e-12)
    # Logit: (logit 0.85 - logit 0.80) p (1-p) / se = (1.7346011 - 1.3862944) 0.1275 / 0.03 = 1.4803.
    logit = (math.log(0.85 / 0.15) - math.log(0.8 / 0.2)) * 0.85 * 0.15 / 0.03
    assert logit == pytest.approx(1.48030, abs=1e-5)
    assert _p("logit", 0.85, 0.03, 60, 0.80) == pytest.approx(stats.t.sf(logit, 60), rel=1e-12)
    # Below the target the other tail: P(T <= t).
    assert _p("logit", 0.75, 0.03, 60, 0.80) == pytest.approx(
        stats.t.cdf((math.log(3) - math.log(4)) * 0.75 * 0.25 / 0.03, 60), rel=1e-12)


def test_wilson_score_p_values_by_hand() -> None:
    # Design n_eff = 0.1275 / 0.0009 = 141.667; score = 0.05 / sqrt(0.16 / 141.667) = 1.48777.
    score = 0.05 / math.sqrt(0.16 / (0.1275 / 0.0009))
    assert _p("wilson", 0.85, 0.03, 60, 0.80) == pytest.approx(stats.t.sf(score, 60), rel=1e-12)
    # wilson_conservative on a floor of 100 < 141.667: 0.05 / sqrt(0.16 / 100) = 1.25.
    assert _p("wilson_conservative", 0.85, 0.03, 60, 0.80, floor=100) == pytest.approx(
        stats.t.sf(1.25, 60), rel=1e-12)
    # Without a floor, Kish's n_eff (here 64: 0.05 / sqrt(0.16 / 64) = 1.0) is the floor.
    assert _p("wilson_conservative", 0.85, 0.03, 60, 0.80, kish=64) == pytest.approx(
        stats.t.sf(1.0, 60), rel=1e-12)


def test_exact_binomial_p_values_equal_scipy_binom_tails() -> None:
    # boundary_cp: x = p n_kish. 45 of 50 against 0.80: P(X >= 45); 35 of 50: P(X <= 35).
    assert _p("boundary_cp", 0.90, 0.03, 60, 0.80, kish=50) == pytest.approx(
        stats.binom.sf(44, 50, 0.8), rel=1e-9)
    assert _p("boundary_cp", 0.70, 0.03, 60, 0.80, kish=50) == pytest.approx(
        stats.binom.cdf(35, 50, 0.8), rel=1e-9)
    # All satisfied (x = n): P(X >= 50) = 0.8^50; none satisfied (x = 0): P(X <= 0) = 0.2^50.
    assert _p("boundary_cp", 1.0, 0.0, 60, 0.80, kish=50) == pytest.approx(0.8**50, rel=1e-9)
    assert _p("boundary_cp", 0.0, 0.0, 60, 0.80, kish=50) == pytest.approx(0.2**50, rel=1e-9)
    # beta: Korn-Graubard n_eff = n_design (t_{n-1} / t_df)^2; with n - 1 = df it is n_design, here
    # 0.09 / se^2 = 50 for se = sqrt(0.09 / 50).
    assert _p("beta", 0.90, math.sqrt(0.09 / 50), 50, 0.80, n=51) == pytest.approx(
        stats.binom.sf(44, 50, 0.8), rel=1e-9)


def test_korn_graubard_interval_equals_statsmodels_clopper_pearson_on_its_n_eff() -> None:
    # p = 0.8, se = 0.05, n = 40, df = 10: n_design = 0.16 / 0.0025 = 64, times
    # (qt(0.975, 39) / qt(0.975, 10))^2 = (2.0226909 / 2.2281389)^2 = 0.824085 -> n_eff = 52.741.
    n_eff = 64 * (stats.t.ppf(0.975, 39) / stats.t.ppf(0.975, 10)) ** 2
    assert n_eff == pytest.approx(52.741, abs=1e-3)
    lo, hi = beta_interval(np.array([0.8]), np.array([0.05]), np.array([10.0]), np.array([40.0]))
    expected = proportion_confint(0.8 * n_eff, n_eff, alpha=0.05, method="beta")
    assert (lo[0], hi[0]) == pytest.approx(expected, abs=1e-9)


def test_precision_flags_at_their_thresholds() -> None:
    # Documented thresholds: n < 10 suppressed, Kish n_eff < 30, df < 8, half-width > 10 points.
    n = np.array([10.0, 9.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0])
    n_eff = np.array([30.0, 30.0, 29.9, 30.0, 30.0, 30.0, 30.0, 30.0])
    df = np.array([8.0, 8.0, 8.0, 7.9, 8.0, 8.0, 8.0, 8.0])
    half = np.array([0.10, 0.10, 0.10, 0.10, 0.1001, 0.10, 0.10, 0.10])
    boundary = np.array([False, False, False, False, False, True, False, False])
    flags = precision_flags(n, n_eff, df, half, boundary)
    assert list(flags) == ["", "suppressed", "low_n_eff", "low_df", "wide", "boundary_cp", "", ""]
    assert flags.dtype == object
