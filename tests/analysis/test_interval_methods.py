"""Every interval method through `proportion_interval`, at a non-default level: the mutants `make
mutation` found alive in analysis/intervals.py (a method dispatched to the wrong formula, alpha or df
dropped, the Clopper-Pearson fallback off by one success).

References: the Wald and logit formulas by hand with scipy's t quantile; the Wilson and
Clopper-Pearson intervals from statsmodels' proportion_confint, an independent implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.intervals import clopper_pearson_interval, proportion_interval, t_quantile

ALPHA = 0.10  # 90 %: a method that forgets alpha falls back to 95 % and fails
EST, SE, N, KISH = 0.8, 0.05, 40.0, 64.0  # design n_eff = 0.16 / 0.0025 = 64


def _interval(method: str, df: float, **kwargs: object) -> tuple[float, float, str]:
    lo, hi, used = proportion_interval(method, np.array([EST]), np.array([SE]), np.array([df]),  # type: ignore[arg-type]
                                       np.array([N]), np.array([KISH]), ALPHA, **kwargs)  # type: ignore[arg-type]
    return float(lo[0]), float(hi[0]), str(used[0])


def test_wald_by_hand() -> None:
    t = stats.t.ppf(0.95, 10)  # 1.8124611
    assert _interval("wald", 10) == pytest.approx((EST - t * SE, EST + t * SE, "wald"), abs=1e-12)


def test_logit_by_hand() -> None:
    # logit(0.8) = ln 4 = 1.3862944 ± t * se / (p (1 - p)) = t * 0.3125, back through expit.
    t = stats.t.ppf(0.95, 10)
    centre, half = math.log(4), t * SE / (EST * (1 - EST))
    expected = (1 / (1 + math.exp(-(centre - half))), 1 / (1 + math.exp(-(centre + half))))
    lo, hi, used = _interval("logit", 10)
    assert (lo, hi) == pytest.approx(expected, abs=1e-12) and used == "logit"


def test_wilson_equals_statsmodels_on_the_design_n_eff() -> None:
    # df = inf: the normal quantile; 51.2 of 64 (p 0.8 on n_eff 64).
    lo, hi, used = _interval("wilson", math.inf)
    assert (lo, hi) == pytest.approx(proportion_confint(51.2, 64, alpha=ALPHA, method="wilson"), abs=1e-12)
    assert used == "wilson"


def test_wilson_conservative_uses_kish_or_the_given_floor() -> None:
    # Kish n_eff 64 = design n_eff: Wilson on 64. A floor of 40 < 64 gives Wilson on 32 of 40.
    lo, hi, _ = _interval("wilson_conservative", math.inf)
    assert (lo, hi) == pytest.approx(proportion_confint(51.2, 64, alpha=ALPHA, method="wilson"), abs=1e-12)
    lo, hi, used = _interval("wilson_conservative", math.inf, floor_n_eff=np.array([40.0]))
    assert (lo, hi) == pytest.approx(proportion_confint(32, 40, alpha=ALPHA, method="wilson"), abs=1e-12)
    assert used == "wilson_conservative"


def test_beta_is_clopper_pearson_on_the_korn_graubard_n_eff() -> None:
    # n_eff = 64 (qt(0.95, 39) / qt(0.95, 10))^2 = 64 (1.6848751 / 1.8124611)^2 = 55.3067.
    n_eff = 64 * (stats.t.ppf(0.95, 39) / stats.t.ppf(0.95, 10)) ** 2
    assert n_eff == pytest.approx(55.3067, abs=1e-4)
    lo, hi, used = _interval("beta", 10)
    assert (lo, hi) == pytest.approx(proportion_confint(0.8 * n_eff, n_eff, alpha=ALPHA, method="beta"),
                                     abs=1e-9)
    assert used == "beta"


@pytest.mark.parametrize("method", ["wald", "logit", "wilson", "wilson_conservative", "beta"])
def test_boundary_estimates_fall_back_to_clopper_pearson_on_kish(method: str) -> None:
    lo, hi, used = proportion_interval(method, np.array([0.0, 1.0]), np.array([0.0, 0.0]),  # type: ignore[arg-type]
                                       np.array([10.0, 10.0]), np.array([N, N]), np.array([KISH, KISH]),
                                       ALPHA)
    assert list(used) == ["boundary_cp", "boundary_cp"]
    none_of = proportion_confint(0, 64, alpha=ALPHA, method="beta")
    all_of = proportion_confint(64, 64, alpha=ALPHA, method="beta")
    assert (lo[0], hi[0]) == pytest.approx(none_of, abs=1e-12)
    assert (lo[1], hi[1]) == pytest.approx(all_of, abs=1e-12)


def test_clopper_pearson_one_success_and_bad_inputs() -> None:
    # 1 of 20 and 19 of 20: statsmodels' beta interval (no special case applies to either).
    lo, hi = clopper_pearson_interval(np.array([0.05, 0.95]), np.array([20.0, 20.0]), ALPHA)
    assert (lo[0], hi[0]) == pytest.approx(proportion_confint(1, 20, alpha=ALPHA, method="beta"), abs=1e-12)
    assert (lo[1], hi[1]) == pytest.approx(proportion_confint(19, 20, alpha=ALPHA, method="beta"), abs=1e-12)
    lo, hi = clopper_pearson_interval(np.array([0.5, np.nan, 0.5]), np.array([0.0, 10.0, -1.0]))
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_clopper_pearson_with_less_than_one_success() -> None:
    # Kish's n_eff is real, so x = est * n_eff can lie in (0, 1): 0.05 of 10 is half a success. Expected
    # value: statsmodels' Clopper-Pearson, Beta(alpha/2; x, n - x + 1) and Beta(1 - alpha/2; x + 1, n - x).
    lo, hi = clopper_pearson_interval(np.array([0.05]), np.array([10.0]), ALPHA)
    expected = proportion_confint(0.5, 10, alpha=ALPHA, method="beta")
    assert (lo[0], hi[0]) == pytest.approx(expected, abs=1e-12)
    assert expected[0] < 0.001  # far below the bound for one whole success (0.0051)


def test_clopper_pearson_for_a_single_respondent() -> None:
    # n_eff = 1 (one respondent): by hand, none satisfied gives [0, 1 - (alpha/2)^(1/1)] = [0, 0.95] at
    # 90 %, all satisfied [0.05, 1] (Clopper and Pearson 1934, x = 0 and x = n closed forms).
    lo, hi = clopper_pearson_interval(np.array([0.0, 1.0]), np.array([1.0, 1.0]), ALPHA)
    assert (lo[0], hi[0]) == pytest.approx((0.0, 0.95), abs=1e-12)
    assert (lo[1], hi[1]) == pytest.approx((0.05, 1.0), abs=1e-12)


def test_t_quantile_keeps_the_shape_of_a_table_of_df() -> None:
    # A (domains, statistics) table of df comes back in the same shape; scipy's t.ppf is the reference,
    # NaN where df <= 0.
    df = np.array([[1.0, 2.0, 10.0], [10.0, 0.0, 1.0]])
    got = t_quantile(0.05, df)
    assert got.shape == (2, 3)
    expected = np.where(df > 0, stats.t.ppf(0.975, np.where(df > 0, df, 1.0)), np.nan)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0, 0] == pytest.approx(12.7062047, abs=1e-7)  # qt(0.975, 1), the printed t table
