"""Tests for analysis.reliability: hand computation, the covariance identity, Feldt's interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.reliability import cronbach_alpha, cronbach_by_element, feldt_interval

# 4 respondents × 3 items. Hand: item variances 5/3, 11/12, 5/3 (sum 51/12); totals 14, 12, 8, 7
# with variance 131/12; alpha = 3/2 · (1 - 51/131) = 120/131.
TINY = pd.DataFrame({"q1": [5, 4, 3, 2], "q2": [4, 4, 2, 3], "q3": [5, 4, 3, 2]})


def test_hand_computed_alpha() -> None:
    result = cronbach_alpha(TINY)
    assert result.alpha == pytest.approx(120 / 131, rel=1e-12)
    assert (result.n_used, result.n_dropped, result.n_items) == (4, 0, 3)


def test_alpha_equals_the_covariance_form() -> None:
    # alpha = k c̄ / (v̄ + (k-1) c̄) with v̄ the mean item variance and c̄ the mean inter-item
    # covariance (Cronbach 1951): an independent path through np.cov
    rng = np.random.default_rng(7)
    latent = rng.normal(size=(300, 1))
    items = pd.DataFrame(np.clip(np.rint(3.5 + latent + rng.normal(scale=0.9, size=(300, 5))), 1, 5))
    cov = np.cov(items.to_numpy(), rowvar=False)
    k = cov.shape[0]
    v_bar = np.trace(cov) / k
    c_bar = (cov.sum() - np.trace(cov)) / (k * (k - 1))
    assert cronbach_alpha(items).alpha == pytest.approx(k * c_bar / (v_bar + (k - 1) * c_bar), rel=1e-12)


def test_listwise_deletion_reports_n_used() -> None:
    with_gaps = pd.concat(
        [TINY, pd.DataFrame({"q1": [math.nan, 3], "q2": [2, math.nan], "q3": [1, 1]})], ignore_index=True
    )
    result = cronbach_alpha(with_gaps)
    assert result.alpha == pytest.approx(120 / 131, rel=1e-12)
    assert (result.n_used, result.n_dropped) == (4, 2)


def test_feldt_interval_hand_formula() -> None:
    # alpha 0.85, k = 7, n = 89: F quantiles on (88, 528) df, Feldt et al. (1987) formulas 6-7
    lo, hi = feldt_interval(0.85, n_items=7, n=89)
    assert lo == pytest.approx(1 - 0.15 * stats.f.ppf(0.975, 88, 528), rel=1e-12)
    assert hi == pytest.approx(1 - 0.15 * stats.f.ppf(0.025, 88, 528), rel=1e-12)
    # statpsych::ci.cronbach(.05, .85, 7, 89) documents LL 0.7971254, UL 0.8931436 (Bonett's package,
    # citing Feldt 1965); it uses n(k-1) = 534 rather than (n-1)(k-1) = 528 denominator df, which
    # moves the limits by less than 1e-4.
    assert lo == pytest.approx(0.7971254, abs=1e-4)
    assert hi == pytest.approx(0.8931436, abs=1e-4)


def test_feldt_interval_covers_under_parallel_items() -> None:
    # Monte Carlo: parallel items (compound symmetry, true alpha = kρ/(1+(k-1)ρ)); 2,000 samples of
    # n = 40, k = 4 must give about 95 % coverage (binomial MC s.e. ≈ 0.5 points). Alpha is computed
    # for all samples at once, and cronbach_alpha is checked to agree on the first 20.
    rng = np.random.default_rng(20261123)
    k, n, rho, reps = 4, 40, 0.4, 2000
    true_alpha = k * rho / (1 + (k - 1) * rho)
    cov = np.full((k, k), rho) + np.eye(k) * (1 - rho)
    samples = rng.multivariate_normal(np.zeros(k), cov, size=(reps, n))
    item_var = samples.var(axis=1, ddof=1).sum(axis=1)
    total_var = samples.sum(axis=2).var(axis=1, ddof=1)
    alphas = k / (k - 1) * (1 - item_var / total_var)
    for sample, alpha in zip(samples[:20], alphas[:20], strict=True):
        assert cronbach_alpha(pd.DataFrame(sample)).alpha == pytest.approx(alpha, rel=1e-12)
    covered = 0
    for alpha in alphas:
        lo, hi = feldt_interval(float(alpha), n_items=k, n=n)
        covered += lo <= true_alpha <= hi
    assert 0.935 <= covered / reps <= 0.965


def test_constant_scores_give_nan() -> None:
    result = cronbach_alpha(pd.DataFrame({"a": [4, 4, 4], "b": [5, 5, 5]}))
    assert math.isnan(result.alpha) and math.isnan(result.lo)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (pd.DataFrame({"a": [1, 2, 3]}), "at least 2 items"),
        (pd.DataFrame({"a": [1, math.nan], "b": [2, 3]}), "complete cases"),
        (pd.DataFrame({"a": ["x", "y"], "b": [2, 3]}), "numeric"),
    ],
)
def test_bad_item_tables(items: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cronbach_alpha(items)


def test_by_element_table() -> None:
    data = TINY.assign(q4=[1, 2, 2, 1], q5=[math.nan, math.nan, 3, 4])
    table = cronbach_by_element(data, {"E1": ["q1", "q2", "q3"], "E2": ["q4"], "E3": ["q4", "q5"]})
    assert table.loc["E1", "alpha"] == pytest.approx(120 / 131)
    assert math.isnan(table.loc["E2", "alpha"])
    assert table.loc["E3", "n_used"] == 2
    with pytest.raises(ValueError, match="unknown item"):
        cronbach_by_element(data, {"E9": ["q1", "zz"]})
